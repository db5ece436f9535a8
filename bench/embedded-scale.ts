// How the embedded mode's footprint grows with the number of services (issue 17 P5): the system with
// 3 services (location, booking, payment) and with 7 (the same 3 plus 4 more instances of them, each
// on its own database with its service's migrations, as the 4 services being added will be), one
// embedded Postgres server for all. Each composition runs in a child process; the figure that
// matters is the difference 7 − 3 (the child runs under tsx, whose own overhead both share), added to
// the built system's footprint (bench/embedded-start.ts) for the projection.
//   npm run bench -- embedded-scale
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBookingService } from '@albergue/booking/service';
import { brokerOptionsFromEnv, startBroker } from '@albergue/broker';
import { EmbeddedPostgres } from '@albergue/embedded';
import { createLocationService } from '@albergue/location/service';
import { MemoryDeliveryLedger } from '@albergue/messaging';
import { createPaymentService } from '@albergue/payment/service';
import { createLogger } from '@albergue/platform';
import type { ServiceRuntime } from '@albergue/runtime';
import { ledgerBundle } from '@albergue/runtime';
import { SYSTEM_DECLARATIONS } from '../scripts/declarations.js';

const FACTORIES = [createLocationService, createBookingService, createPaymentService];

async function child(n: number, dataDir: string): Promise<void> {
  const t0 = performance.now();
  for (const v of ['BROKER_MQTT_PORT', 'BROKER_WS_PORT', 'BROKER_HTTP_PORT']) process.env[v] = '0';
  const logger = createLogger('albergue', { level: 'warn' });
  const ledger = ledgerBundle(new MemoryDeliveryLedger());
  const [broker, server] = await Promise.all([
    startBroker({ ...brokerOptionsFromEnv(SYSTEM_DECLARATIONS), ledger, logger }),
    EmbeddedPostgres.start({ dir: join(dataDir, 'postgres') }),
  ]);
  const names = Array.from({ length: n }, (_, i) => (i < 3 ? ['location', 'booking', 'payment'][i]! : `extra_${i}`));
  const urls = await server.databases(names.map((s) => `albergue_${s}`));
  const services: ServiceRuntime[] = await Promise.all(
    names.map((s, i) =>
      FACTORIES[i % 3]!({
        ledger,
        logger: createLogger(s, { level: 'warn' }),
        config: { mqttUrl: broker.mqttUrl, databaseUrl: urls[`albergue_${s}`]!, port: 0 },
        env: { ...process.env, INSTANCE_ID: String(i) },
      }),
    ),
  );
  await Promise.all(services.map((rt) => rt.startConsumers()));
  await Promise.all(services.map((rt) => rt.start()));
  console.log(`READY ${Math.round(performance.now() - t0)}`);
  process.on('SIGINT', () => {
    void (async () => {
      await Promise.allSettled(services.map((rt) => rt.close()));
      await broker.close();
      await ledger.ledger.close();
      await server.stop();
      process.exit(0);
    })();
  });
}

function tree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    const p = all[i]!;
    const raw = (() => {
      try {
        return readFileSync(`/proc/${p}/task/${p}/children`, 'utf8');
      } catch {
        return '';
      }
    })();
    all.push(...raw.split(' ').filter(Boolean).map(Number));
  }
  return all;
}

function memory(pid: number): { rss: number; pss: number; postgresPss: number; backends: number } {
  let rss = 0;
  let pss = 0;
  let postgresPss = 0;
  let backends = 0;
  for (const p of tree(pid)) {
    let roll = '';
    let comm = '';
    try {
      roll = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      comm = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    } catch {
      continue; // gone meanwhile
    }
    const kb = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(roll)?.[1] ?? 0) / 1024;
    rss += kb('Rss');
    pss += kb('Pss');
    if (comm === 'postgres') {
      postgresPss += kb('Pss');
      backends++;
    }
  }
  return { rss, pss, postgresPss, backends };
}

async function measure(n: number): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'albergue-scale-'));
  try {
    const c = spawn(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', new URL(import.meta.url).pathname, 'child', String(n), dataDir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => c.once('exit', r));
    const deadline = Date.now() + 180_000;
    while (!out.includes('READY')) {
      if (Date.now() > deadline || c.exitCode !== null) throw new Error(`child ${n} did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, Number(process.env.STEADY_MS ?? 3000)));
    const m = memory(c.pid!);
    c.kill('SIGINT');
    await exited;
    const ready = /READY (\d+)/.exec(out)?.[1];
    return `${String(n).padStart(2)} services: ready ${ready} ms   RSS ${m.rss.toFixed(0)} MB   PSS ${m.pss.toFixed(0)} MB (postgres ${m.postgresPss.toFixed(0)} MB in ${m.backends} processes)`;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'child') {
  await child(Number(process.argv[3]), process.argv[4]!);
} else {
  console.log(`embedded mode by number of services: ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)}; child under tsx`);
  for (const n of [3, 7, 3, 7]) console.log(await measure(n));
}
