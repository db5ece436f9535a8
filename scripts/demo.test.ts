// `npm run demo`'s flows against a system composed in this process (location, booking, payment on
// Postgres, the gateway in front, signatures on): every flow ends as expected, and a second run
// registers nothing twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBookingService } from '@albergue/booking/service';
import { createGatewayService } from '@albergue/gateway/service';
import { createLocationService } from '@albergue/location/service';
import { MemoryDeliveryLedger } from '@albergue/messaging';
import { startAedes } from '@albergue/messaging/testing';
import { PgDatabase, quoteIdent } from '@albergue/outbox';
import { PG_ADMIN_URL } from '@albergue/outbox/test-databases';
import { createPaymentService } from '@albergue/payment/service';
import { uniqueName } from '@albergue/platform/testing';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { DEV_KEYS } from '@albergue/gateway';
import { runDemo } from './demo.js';

test('the demo walks reserve → pay → confirmed, declined → cancelled, hold → expired; twice', { timeout: 120_000 }, async () => {
  const broker = await startAedes();
  const ledger = ledgerBundle(new MemoryDeliveryLedger());
  const admin = new PgDatabase(PG_ADMIN_URL, { max: 1 });
  const services: ServiceRuntime[] = [];
  const databases: string[] = [];
  const secret = 'demo-test-shared-secret-0123456789abcdefgh';
  const env = {
    ...process.env,
    GATEWAY_SHARED_SECRET: secret,
    PAYMENT_SIM_LATENCY_MS: '20',
    BOOKING_HOLD_MS: '6000',
    BOOKING_EXPIRY_SWEEP_MS: '100',
  };
  try {
    for (const [name, create] of [
      ['location', createLocationService],
      ['booking', createBookingService],
      ['payment', createPaymentService],
    ] as const) {
      const db = uniqueName(`gateway_demo_${name}`).toLowerCase();
      await admin.exec(`CREATE DATABASE ${quoteIdent(db)}`);
      databases.push(db);
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${db}`;
      services.push(
        await create({
          env,
          ledger,
          relay: { pollIntervalMs: 100 },
          config: { port: 0, mqttUrl: broker.url, databaseUrl: url.toString() },
        }),
      );
    }
    for (const rt of services) await rt.startConsumers();
    const upstreams: Record<string, string> = {};
    for (const rt of services) upstreams[rt.config.service] = await rt.start();
    const gateway = await createGatewayService({
      env: { GATEWAY_SHARED_SECRET: secret },
      config: { port: 0, mqttUrl: broker.url, upstreams },
    });
    const gatewayUrl = await gateway.start();
    try {
      const key = (scope: string) => DEV_KEYS.find((k) => k.scopes.includes(scope as never))!.key;
      for (let run = 1; run <= 2; run++) {
        const lines: string[] = [];
        const results = await runDemo({
          gatewayUrl,
          guestKey: key('guest'),
          hostelKey: key('hostel'),
          holdWaitMs: 30_000,
          flows: ['paid', 'declined', 'expiry'],
          log: (l) => lines.push(l),
        });
        assert.deepEqual(
          results.map((r) => [r.flow, r.outcome]),
          [
            ['reserve → pay → confirmed → mail', 'ok'],
            ['declined card → cancelled → mail', 'ok'],
            ['reserve → hold expires → mail', 'ok'],
          ],
          lines.join('\n'),
        );
        assert.match(results[1]!.detail, /payment_failed/);
        if (run === 2)
          assert.ok(
            lines.some((l) => /already registered/.test(l)),
            'the second run registers nothing',
          );
      }
    } finally {
      await gateway.close();
    }
  } finally {
    for (const rt of services.reverse()) await rt.close();
    await ledger.ledger.close();
    await broker.close();
    for (const db of databases) await admin.exec(`DROP DATABASE IF EXISTS ${quoteIdent(db)} WITH (FORCE)`);
    await admin.close();
  }
});
