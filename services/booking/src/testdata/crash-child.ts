// Test child: the booking service on the Postgres database named by DATABASE_URL, HTTP only. With
// CRASH_AFTER_COMMIT=1 it SIGKILLs itself when a command's response is ready — after the command's
// transaction committed, before a byte of the response is written. Prints "listening <url>".
import { AlbergueRegistered, newEnvelope } from '@albergue/events';
import { updateInventoryOnAlbergueRegistered } from '../application/update-inventory.js';
import { createBookingService } from '../service.js';
import { PgBookingRepository } from '../adapters/postgres/pg-booking-repository.js';

const rt = await createBookingService({ env: { LOG_LEVEL: 'silent' }, config: { databaseUrl: process.env.DATABASE_URL! } });
await new PgBookingRepository(rt.db).transaction((tx) =>
  updateInventoryOnAlbergueRegistered(
    tx,
    newEnvelope(AlbergueRegistered, {
      albergue_id: 'alb-crash',
      name: 'Casa',
      town: 'Burgos',
      route: 'Camino Francés',
      location: { lat: 42.3, lon: -3.7 },
      beds: 5,
      nightly_price: { amount_minor: 1000, currency: 'EUR' },
    }),
  ),
);
if (process.env.CRASH_AFTER_COMMIT === '1') {
  // Runs after the idempotency hook (registered first), i.e. once the commit is done.
  rt.http.addHook('onSend', async (req, _reply, payload) => {
    if (req.method === 'POST') process.kill(process.pid, 'SIGKILL');
    return payload;
  });
}
const url = await rt.http.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`listening ${url}\n`);
