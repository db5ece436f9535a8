// Composition root of the gateway: `node services/gateway/dist/main.js` after `npm run build`
// (configuration from the environment: see docs/gateway.md).
import { runUntilSignal } from '@albergue/runtime';
import { createGatewayService } from './service.js';

runUntilSignal('gateway', async () => {
  const gw = await createGatewayService();
  await gw.start();
  return gw;
});
