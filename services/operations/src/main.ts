// Composition root of the operations service: `node services/operations/dist/main.js` after `npm run build`.
import { runUntilSignal } from '@albergue/runtime';
import { createOperationsService } from './service.js';

runUntilSignal('operations', async () => {
  const rt = await createOperationsService();
  await rt.start();
  return rt;
});
