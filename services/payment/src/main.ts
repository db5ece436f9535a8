// Composition root of the payment service: `npx tsx services/payment/src/main.ts` (configuration
// from the environment: see the README's "Running on real infrastructure").
import { runUntilSignal } from '@albergue/runtime';
import { createPaymentService } from './service.js';

runUntilSignal('payment', async () => {
  const rt = await createPaymentService();
  await rt.start();
  return rt;
});
