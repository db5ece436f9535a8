// The whole system as `npm start` runs it (built JS, every port free, a temporary DATA_DIR, a short
// hold): the demo's flows through the gateway — reserve → pay → confirmed, declined → cancelled, hold
// → expired, document accepted and rejected — each with its event tree from the audit service, its
// events as the broker's observer account sees them (type, correlation, causation) and exactly one
// mail per outcome at the mail catcher, in the guest's language. A second demo run registers nothing
// twice. Then SIGINT, and no process is left in the group.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEV_KEYS } from '@albergue/gateway';
import { freePort } from '@albergue/platform/testing';
import { runDemo } from '../../scripts/demo.js';
import { assertDemoFlows, watchEvents, type EventWatch } from './demo-assertions.js';
import { spawnSystem } from './system-process.js';

test(
  'npm start, the whole system: every value stream through the gateway, its events, audit tree and mail',
  { timeout: 300_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'albergue-whole-system-'));
    const ports: Record<string, number> = {};
    for (const name of [
      'LOCATION_PORT',
      'BOOKING_PORT',
      'PAYMENT_PORT',
      'DOCUMENTS_PORT',
      'NOTIFICATIONS_PORT',
      'AUDIT_PORT',
      'OPERATIONS_PORT',
      'MAIL_CATCHER_SMTP_PORT',
      'MAIL_CATCHER_HTTP_PORT',
      'BROKER_HTTP_PORT',
      'BROKER_MQTT_PORT',
      'BROKER_WS_PORT',
      'GATEWAY_PORT',
    ])
      ports[name] = await freePort();
    const env: Record<string, string | undefined> = {
      ...process.env,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      PAYMENT_SIM_LATENCY_MS: '50',
      BOOKING_HOLD_MS: '8000',
      BOOKING_EXPIRY_SWEEP_MS: '200',
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    };
    delete env.NODE_TEST_CONTEXT;
    for (const k of ['MQTT_URL', 'REDIS_URL', 'DATABASE_URL', 'SMTP_URL', 'GATEWAY_KEYS', 'GATEWAY_KEYS_FILE', 'NODE_ENV']) delete env[k];
    // Built JS, as `npm start` runs it (node scripts/test.mjs has built it).
    const system = spawnSystem('dist/scripts/start.js', env);
    let events: EventWatch | undefined;
    try {
      await system.waitForLine('Albergue is running', 180_000);
      const out = system.output();
      const gatewayUrl = `http://127.0.0.1:${ports.GATEWAY_PORT}`;
      const mailCatcherUrl = `http://127.0.0.1:${ports.MAIL_CATCHER_HTTP_PORT}`;
      assert.ok(out.includes(gatewayUrl), out);
      assert.ok(out.includes(`${mailCatcherUrl}/messages`), out);

      // Every event on the broker, as the observer account (read-only on albergue/#) sees it.
      events = await watchEvents(`mqtt://127.0.0.1:${ports.BROKER_MQTT_PORT}`, `albergue-observer-whole-system-${process.pid}`);

      const key = (scope: string) => DEV_KEYS.find((k) => k.scopes.includes(scope as never))!.key;
      const lines: string[] = [];
      const results = await runDemo({
        gatewayUrl,
        guestKey: key('guest'),
        hostelKey: key('hostel'),
        operatorKey: key('operator'),
        mailCatcherUrl,
        holdWaitMs: 30_000,
        log: (l) => lines.push(l),
      });
      await assertDemoFlows({ results, log: lines.join('\n'), events, mailCatcherUrl });
      assert.ok(lines.some((l) => /registered demo-albergue-o-cebreiro|already registered/.test(l)));

      // A second run registers nothing twice.
      const again: string[] = [];
      const second = await runDemo({
        gatewayUrl,
        guestKey: key('guest'),
        hostelKey: key('hostel'),
        holdWaitMs: 0,
        flows: ['paid'],
        log: (l) => again.push(l),
      });
      assert.deepEqual(
        second.map((r) => r.outcome),
        ['ok'],
        again.join('\n'),
      );
      assert.ok(
        again.some((l) => /already registered/.test(l)),
        again.join('\n'),
      );
      const albergues = (await (
        await fetch(`${gatewayUrl}/api/location/albergues`, { headers: { 'x-api-key': key('guest') } })
      ).json()) as {
        albergues: { albergue_id: string }[];
      };
      assert.equal(albergues.albergues.filter((a) => a.albergue_id === 'demo-albergue-o-cebreiro').length, 1);

      // The audit routes are the operator's: a guest key is refused, no key is a 401.
      const tree = `${gatewayUrl}/api/audit/audit/bookings/${results[0]!.bookingId}`;
      assert.equal((await fetch(tree, { headers: { 'x-api-key': key('guest') } })).status, 403);
      assert.equal((await fetch(tree)).status, 401);
    } finally {
      await events?.close();
      const { stopped, left } = await system.stop('SIGINT', { group: true, timeoutMs: 30_000 });
      rmSync(dataDir, { recursive: true, force: true });
      assert.ok(stopped, `the system did not stop on SIGINT:\n${system.output()}`);
      assert.match(system.output(), /Albergue stopped\./, `the system did not report a clean stop:\n${system.output()}`);
      assert.deepEqual(left, [], 'processes left behind after SIGINT');
    }
  },
);
