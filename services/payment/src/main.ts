// Composition root of the payment service: `node services/payment/dist/main.js` after `npm run build` (configuration
// from the environment: see the README's "Running on real infrastructure").
import { runUntilSignal } from '@albergue/runtime';
import { createPaymentService } from './service.js';

runUntilSignal('payment', async () => {
  const rt = await createPaymentService();
  await rt.start();
  return rt;
});
