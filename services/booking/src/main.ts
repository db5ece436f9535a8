// Composition root of the booking service: `node services/booking/dist/main.js` after `npm run build` (configuration
// from the environment: see the README's "Running on real infrastructure").
import { runUntilSignal } from '@albergue/runtime';
import { createBookingService } from './service.js';

runUntilSignal('booking', async () => {
  const rt = await createBookingService();
  await rt.start();
  return rt;
});
