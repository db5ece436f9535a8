// The whole system as `npm run start:services` runs it: one process per service on real Postgres
// (databases under a prefix of the test's own), its own redis-server, and its own MQTT broker — a
// Mosquitto configured by `npm run broker:mosquitto-config` (accounts and ACL from the declarations),
// or the project's broker service (Aedes on that Redis) — every port free and given by the
// environment, so nothing is shared with a developer's system on this machine. The demo's flows go
// through the gateway; each flow's events (type, correlation, causation), audit tree and mails are
// checked as for `npm start` (demo-assertions.ts). Then SIGTERM to start:services only: it stops every
// child, no process of its group is left, every port is free again, and its databases are dropped.
// And the hostile start: a port already in use stops it before anything starts, naming the variable.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { DEV_KEYS } from '@albergue/gateway';
import { mosquittoPath } from '@albergue/messaging/testing';
import { freePort, waitFor } from '@albergue/platform/testing';
import { runDemo } from '../../scripts/demo.js';
import { assertPortsFree, type PortUse } from '../../scripts/ports-free.js';
import { startRedisServer } from '../../services/broker/src/testing/harness.js';
import { assertDemoFlows, watchEvents, type EventWatch } from './demo-assertions.js';
import { spawnSystem } from './system-process.js';

const root = new URL('../..', import.meta.url).pathname;
const PG_URL = 'postgres://postgres@127.0.0.1:5432';
const SERVICES = ['audit', 'booking', 'payment', 'notifications', 'operations', 'location', 'documents'];
const redisMissing = spawnSync('redis-server', ['--version']).error !== undefined;

interface Mosquitto {
  readonly url: string;
  close(): Promise<void>;
}

/** Mosquitto on a free port with the configuration `npm run broker:mosquitto-config` writes (built CLI). */
async function startProjectMosquitto(dir: string): Promise<Mosquitto> {
  const port = await freePort();
  // Started as root, Mosquitto would switch to the mosquitto user, who cannot read the 0600 passwd file.
  const user = process.getuid?.() === 0 ? ['--user', 'root'] : [];
  const gen = spawnSync(process.execPath, ['dist/scripts/mosquitto-config.js', '--out', dir, '--port', String(port), ...user], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(gen.status, 0, `broker:mosquitto-config failed:\n${gen.stdout}${gen.stderr}`);
  const child = spawn(mosquittoPath()!, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `mqtt://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exit;
  };
  try {
    // Ready once the observer account (from the generated passwd) gets in.
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`mosquitto exited: ${log}`);
        const w = await watchEvents(url, `albergue-observer-probe-${process.pid}`).catch(() => undefined);
        await w?.close();
        return w !== undefined;
      },
      { timeoutMs: 15_000, message: `mosquitto with the project's configuration on ${port}` },
    );
  } catch (err) {
    await close();
    throw err;
  }
  return { url, close };
}

interface FlowView {
  readonly delivery_source: 'broker' | 'unavailable';
  readonly warnings?: readonly string[];
}

async function runOnServices(broker: 'mosquitto' | 'broker service'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'albergue-services-'));
  const redis = await startRedisServer();
  let mosquitto: Mosquitto | undefined;
  const prefix = `e2e_services_${process.pid}_${Math.random().toString(36).slice(2, 8)}_`;
  const ports: Record<string, number> = {};
  for (const name of [
    ...SERVICES.map((s) => `${s.toUpperCase()}_PORT`),
    'GATEWAY_PORT',
    'MAIL_CATCHER_SMTP_PORT',
    'MAIL_CATCHER_HTTP_PORT',
    ...(broker === 'broker service' ? ['BROKER_MQTT_PORT', 'BROKER_HTTP_PORT', 'BROKER_WS_PORT'] : []),
  ])
    ports[name] = await freePort();
  let events: EventWatch | undefined;
  let system: ReturnType<typeof spawnSystem> | undefined;
  let failure: unknown;
  try {
    if (broker === 'mosquitto') mosquitto = await startProjectMosquitto(dir);
    const mqttUrl = mosquitto?.url ?? `mqtt://127.0.0.1:${ports.BROKER_MQTT_PORT}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PG_URL,
      PG_DB_PREFIX: prefix,
      REDIS_URL: redis.url,
      ...(mosquitto ? { MQTT_URL: mosquitto.url } : {}),
      LOG_LEVEL: 'warn',
      PAYMENT_SIM_LATENCY_MS: '50',
      // Long enough for a payment on a loaded machine (9 processes on 2 shared cores; 8 s and 30 s were not at load 20-25), short enough to watch one expire.
      BOOKING_HOLD_MS: '45000',
      BOOKING_EXPIRY_SWEEP_MS: '200',
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    };
    delete env.NODE_TEST_CONTEXT;
    for (const k of [
      ...(mosquitto ? [] : ['MQTT_URL']),
      'DATABASE_URL',
      'SMTP_URL',
      'BROKER_URL',
      'GATEWAY_KEYS',
      'GATEWAY_KEYS_FILE',
      'NODE_ENV',
      'INSTANCE_ID',
    ])
      delete env[k];
    // Built JS, as `npm run start:services` runs it (node scripts/test.mjs has built it).
    system = spawnSystem('dist/scripts/start-services.js', env);
    await system.waitForLine('Albergue services are running', 240_000);
    const gatewayUrl = `http://127.0.0.1:${ports.GATEWAY_PORT}`;
    const mailCatcherUrl = `http://127.0.0.1:${ports.MAIL_CATCHER_HTTP_PORT}`;
    assert.ok(system.output().includes(`${mailCatcherUrl}/messages`), system.output());

    events = await watchEvents(mqttUrl, `albergue-observer-services-${process.pid}`);
    const key = (scope: string) => DEV_KEYS.find((k) => k.scopes.includes(scope as never))!.key;
    const lines: string[] = [];
    const results = await runDemo({
      gatewayUrl,
      guestKey: key('guest'),
      hostelKey: key('hostel'),
      operatorKey: key('operator'),
      mailCatcherUrl,
      holdWaitMs: 90_000,
      // Each step may take long at load 20+ (seen: 30 s from a charge to its booking's confirmation).
      stepWaitMs: 90_000,
      log: (l) => lines.push(l),
    });
    await assertDemoFlows({ results, log: lines.join('\n'), events, mailCatcherUrl });

    // Delivery facts: from the broker service's ledger API, every subscriber processed every event of
    // the flow; on Mosquitto there is no such API and audit asks nobody (not another system's broker).
    const flow = async () => {
      const res = await fetch(`${gatewayUrl}/api/audit/audit/flows/${results[0]!.correlationId}`, {
        headers: { 'x-api-key': key('operator') },
        signal: AbortSignal.timeout(5_000),
      });
      assert.equal(res.status, 200);
      return (await res.json()) as FlowView & { roots: Parameters<typeof allDeliveries>[0] };
    };
    if (broker === 'broker service') {
      await waitFor(
        async () => {
          const f = await flow();
          const d = allDeliveries(f.roots);
          return f.delivery_source === 'broker' && d.length > 0 && d.every((x) => x.state === 'processed');
        },
        { timeoutMs: 20_000, message: 'every delivery of the paid flow processed, as the broker tells' },
      );
    } else {
      const f = await flow();
      assert.equal(f.delivery_source, 'unavailable');
      assert.match((f.warnings ?? []).join('\n'), /BROKER_URL=off/);
    }
  } catch (err) {
    failure = err;
  }
  // Whatever happened: stop everything, then drop the databases.
  await events?.close();
  // SIGTERM to start:services alone (as a service manager stops it): its supervisor stops the children.
  const stop = await system?.stop('SIGTERM', { group: false, timeoutMs: 60_000 });
  await mosquitto?.close();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: `${PG_URL}/postgres` });
  await admin.connect();
  try {
    const dbs = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [prefix]);
    for (const { datname } of dbs.rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    if (system) assert.equal(dbs.rowCount, SERVICES.length, `a database per service under ${prefix}`);
  } finally {
    await admin.end();
  }
  // The clean stop is checked after a passing run; after a failure, that failure is what is reported.
  if (failure !== undefined) {
    if (system) console.error(`start:services output:\n${system.output()}`);
    throw failure as Error;
  }
  if (stop) {
    const out = system!.output();
    assert.ok(stop.stopped, `start:services did not stop on SIGTERM:\n${out}`);
    assert.equal(system!.exitCode(), 0, out);
    assert.match(out, /SIGTERM: stopping every service/);
    assert.deepEqual(stop.left, [], 'processes left behind after SIGTERM');
    // Every port it held is free again (nothing listening outside the group either).
    const uses: PortUse[] = Object.entries(ports).map(([variable, port]) => ({ variable, host: '127.0.0.1', port }));
    await assertPortsFree(uses);
  }
}

interface Node {
  readonly delivery?: readonly { readonly subscriber: string; readonly state: string }[];
  readonly children: readonly Node[];
}
function allDeliveries(nodes: readonly Node[]): { subscriber: string; state: string }[] {
  return nodes.flatMap((n) => [...(n.delivery ?? []), ...allDeliveries(n.children)]);
}

test(
  'start:services on Mosquitto (the project configuration), Postgres and Redis: every value stream through the gateway, then SIGTERM leaves nothing',
  { timeout: 540_000, skip: !mosquittoPath() || redisMissing ? 'needs the mosquitto and redis-server binaries' : false },
  () => runOnServices('mosquitto'),
);

test(
  'start:services on the broker service (Aedes on its own Redis), Postgres: every value stream through the gateway, then SIGTERM leaves nothing',
  { timeout: 540_000, skip: redisMissing ? 'needs the redis-server binary' : false },
  () => runOnServices('broker service'),
);

test(
  'start:services with a port already in use: exits 1 naming the variable to set, before starting or creating anything',
  { timeout: 60_000 },
  async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    const prefix = `e2e_services_taken_${process.pid}_`;
    try {
      const ports: Record<string, string> = {};
      for (const name of [
        ...SERVICES.map((s) => `${s.toUpperCase()}_PORT`),
        'GATEWAY_PORT',
        'MAIL_CATCHER_SMTP_PORT',
        'MAIL_CATCHER_HTTP_PORT',
        'BROKER_MQTT_PORT',
        'BROKER_HTTP_PORT',
        'BROKER_WS_PORT',
      ])
        ports[name] = String(await freePort());
      const env: NodeJS.ProcessEnv = { ...process.env, ...ports, BOOKING_PORT: String(taken), PG_URL, PG_DB_PREFIX: prefix };
      for (const k of ['NODE_TEST_CONTEXT', 'MQTT_URL', 'SMTP_URL']) delete env[k];
      const system = spawnSystem('dist/scripts/start-services.js', env);
      await waitFor(() => system.exitCode() !== undefined, { timeoutMs: 30_000, message: `start:services to exit:\n${system.output()}` });
      assert.equal(system.exitCode(), 1, system.output());
      assert.match(system.output(), new RegExp(`port ${taken} on 127\\.0\\.0\\.1 \\(BOOKING_PORT\\) is already in use.*set BOOKING_PORT`));
      assert.doesNotMatch(system.output(), /^(broker|audit|booking) +\|/m, 'no child was started');
      const admin = new pg.Client({ connectionString: `${PG_URL}/postgres` });
      await admin.connect();
      try {
        const dbs = await admin.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [prefix]);
        assert.equal(dbs.rowCount, 0, 'no database created');
      } finally {
        await admin.end();
      }
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  },
);
