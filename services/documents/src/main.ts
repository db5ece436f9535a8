// Composition root of the documents service: `node services/documents/dist/main.js` after `npm run build`
// (configuration from the environment: see the README and docs/documents.md).
import { runUntilSignal } from '@albergue/runtime';
import { createDocumentsService } from './service.js';

runUntilSignal('documents', async () => {
  const rt = await createDocumentsService();
  await rt.start();
  return rt;
});
