// Composition root of the location service: `node services/location/dist/main.js` after `npm run build` (configuration
// from the environment: see the README's "Running on real infrastructure").
import { runUntilSignal } from '@albergue/runtime';
import { createLocationService } from './service.js';

runUntilSignal('location', async () => {
  const rt = await createLocationService();
  await rt.start();
  return rt;
});
