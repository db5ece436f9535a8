// The part of the system a booking flow needs, on real infrastructure, one process per service as
// `npm run start:services` runs it: location, booking and payment (its simulated card network inside)
// from their TypeScript mains, each on its own new Postgres database; a private redis-server on a
// free port (the delivery ledger; the broker service's sessions); and the broker — the project's
// broker service (Aedes on that Redis) or Mosquitto with the project's configuration. Every child
// is started here and stopped by its pid in `close()`.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { mosquittoConfig, mosquittoPath } from '@albergue/messaging/testing';
import { freePort, uniqueName } from '@albergue/platform/testing';

export type FlowBroker = 'albergue-broker' | 'mosquitto';

export interface FlowSystem {
  readonly broker: FlowBroker;
  readonly mqttUrl: string;
  readonly urls: { readonly location: string; readonly booking: string; readonly payment: string };
  /** Process ids by role (for CPU accounting). */
  readonly pids: Readonly<Record<string, number>>;
  /** The Postgres databases of the services (their backends are found by name). */
  readonly databases: readonly string[];
  close(): Promise<void>;
}

const root = new URL('../..', import.meta.url).pathname;
const PG = (process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, '');

interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  output(): string;
}

function start(name: string, command: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-4000); // the tail, for an error message
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return { name, proc, exited, output: () => out };
}

async function stop(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
  await c.exited;
  clearTimeout(timer);
}

/** Waits until `url` answers 2xx (60 s at most), failing early when the child exits. */
async function healthy(c: Child, url: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (c.proc.exitCode !== null) throw new Error(`${c.name} exited (${c.proc.exitCode}):\n${c.output()}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${c.name} not healthy at ${url} within 60 s:\n${c.output()}`);
}

async function listening(c: Child, port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (c.proc.exitCode !== null) throw new Error(`${c.name} exited (${c.proc.exitCode}):\n${c.output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${c.name} not listening on ${port} within 10 s:\n${c.output()}`);
}

const tsx = (entry: string) => ['--conditions=development', '--import', 'tsx', entry];

/** Starts the system; `env` goes to every service (e.g. PAYMENT_SIM_LATENCY_MS). */
export async function startFlowSystem(broker: FlowBroker, env: Record<string, string>): Promise<FlowSystem> {
  const children: Child[] = [];
  const dirs: string[] = [];
  const databases: string[] = [];
  const admin = new pg.Client({ connectionString: `${PG}/postgres` });
  await admin.connect();
  const close = async () => {
    for (const c of [...children].reverse()) await stop(c);
    for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const redisPort = await freePort();
    const redis = start('redis-server', 'redis-server', [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    children.push(redis);
    await listening(redis, redisPort);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;

    const mqttPort = await freePort();
    let brokerChild: Child;
    if (broker === 'mosquitto') {
      const bin = mosquittoPath();
      if (!bin) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
      const dir = mkdtempSync(join(tmpdir(), 'albergue-flows-mosquitto-'));
      dirs.push(dir);
      writeFileSync(join(dir, 'mosquitto.conf'), mosquittoConfig(mqttPort));
      brokerChild = start('mosquitto', bin, ['-c', join(dir, 'mosquitto.conf')]);
      children.push(brokerChild);
      await listening(brokerChild, mqttPort);
    } else {
      const httpPort = await freePort();
      brokerChild = start('broker', process.execPath, tsx('scripts/broker.ts'), {
        REDIS_URL: redisUrl,
        BROKER_MQTT_PORT: String(mqttPort),
        BROKER_HTTP_PORT: String(httpPort),
        BROKER_WS_PORT: String(await freePort()),
        LOG_LEVEL: 'warn',
      });
      children.push(brokerChild);
      await healthy(brokerChild, `http://127.0.0.1:${httpPort}/health`);
    }
    const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;

    const urls: Record<string, string> = {};
    const pids: Record<string, number> = { redis: redis.proc.pid!, broker: brokerChild.proc.pid! };
    // Subscribers first: their persistent sessions must exist before anything is published.
    for (const name of ['payment', 'booking', 'location']) {
      const db = uniqueName(`bench_flows_${name}`).toLowerCase();
      await admin.query(`CREATE DATABASE ${db}`);
      databases.push(db);
      const port = await freePort();
      const c = start(name, process.execPath, tsx(`services/${name}/src/main.ts`), {
        LOG_LEVEL: 'warn',
        ...env,
        [`${name.toUpperCase()}_PORT`]: String(port),
        DATABASE_URL: `${PG}/${db}`,
        REDIS_URL: redisUrl,
        MQTT_URL: mqttUrl,
      });
      children.push(c);
      urls[name] = `http://127.0.0.1:${port}`;
      await healthy(c, `${urls[name]}/health`);
      pids[name] = c.proc.pid!;
    }
    return {
      broker,
      mqttUrl,
      urls: urls as FlowSystem['urls'],
      pids,
      databases,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
