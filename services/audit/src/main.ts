// Composition root of the audit service: `node services/audit/dist/main.js` after `npm run build`
// (configuration from the environment: AUDIT_PORT, DATABASE_URL, MQTT_URL, REDIS_URL, BROKER_URL, BROKER_ADMIN_TOKEN).
import { runUntilSignal } from '@albergue/runtime';
import { createAuditService } from './service.js';

runUntilSignal('audit', async () => {
  const rt = await createAuditService();
  await rt.start();
  return rt;
});
