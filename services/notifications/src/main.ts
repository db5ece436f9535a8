// Composition root of the notifications service: `node services/notifications/dist/main.js` after `npm run build`
// (configuration from the environment: see the README's "Running on real infrastructure"; SMTP_URL names the mail server).
import { runUntilSignal } from '@albergue/runtime';
import { createNotificationsService } from './service.js';

runUntilSignal('notifications', async () => {
  const rt = await createNotificationsService();
  await rt.start();
  return rt;
});
