// Whole booking flows (issue 17 P4): reserve → payment initiated → charge → booking confirmed, on real
// Postgres, Redis and a broker (the project's broker service, and Mosquitto), one process per service
// (bench/lib/flow-system.ts). An open-loop driver starts flows at fixed offered rates whatever the
// system's answers (a slow system gets more concurrent flows, as with real guests), and times each
// flow from the reserve request to the BookingConfirmed event, as the broker's observer account
// receives it. Each step prints offered and achieved rate, p50/p95/p99, errors and refusals by kind,
// and the CPU milliseconds per confirmed flow of each process (services, broker, redis, the
// Postgres backends of the services' databases, this driver). Goal: ≥ 300 flows/s sustained with
// p99 ≤ 250 ms; the machine's core count is printed with it.
//   npm run bench -- flows
//   FLOWS_RATES=25,50 FLOWS_SECONDS=10 FLOWS_BROKERS=mosquitto npm run bench -- flows
// Environment: FLOWS_RATES (flows/s, default 25,50,100,200), FLOWS_SECONDS (per rate, default 20),
// FLOWS_BROKERS (albergue-broker,mosquitto), FLOWS_PAYMENT (how the client learns the payment:
// `wait` = one long-poll `?wait=`, `poll` = GET every 20 ms as the e2e helpers did; default wait;
// `poll,wait` runs both), FLOWS_SIM_LATENCY_MS (the card network's latency, default 20),
// FLOWS_MAX_MINUTES (the whole bench, default 6).
import { availableParallelism, loadavg } from 'node:os';
import mqtt from 'mqtt';
import pg from 'pg';
import type { FlowBroker, FlowSystem } from './lib/flow-system.js';
import { startFlowSystem } from './lib/flow-system.js';
import { cpuMs } from './lib/procs.js';
import { reportResult } from './lib/report.js';

const RATES = (process.env.FLOWS_RATES ?? '25,50,100,200').split(',').map(Number);
const SECONDS = Number(process.env.FLOWS_SECONDS ?? 20);
const BROKERS = (process.env.FLOWS_BROKERS ?? 'albergue-broker,mosquitto').split(',') as FlowBroker[];
const MODES = (process.env.FLOWS_PAYMENT ?? 'wait').split(',') as ('wait' | 'poll')[];
const SIM_LATENCY_MS = process.env.FLOWS_SIM_LATENCY_MS ?? '20';
const DEADLINE = Date.now() + Number(process.env.FLOWS_MAX_MINUTES ?? 6) * 60_000;
const FLOW_TIMEOUT_MS = 15_000;
const ALBERGUES = 20;
const GOAL_RATE = 300;
const GOAL_P99_MS = 250;
const PG = (process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, '');

for (const r of RATES) if (!(r > 0)) throw new Error(`FLOWS_RATES must be positive numbers, got ${process.env.FLOWS_RATES}`);
for (const b of BROKERS as string[])
  if (b !== 'albergue-broker' && b !== 'mosquitto') throw new Error(`FLOWS_BROKERS: albergue-broker or mosquitto, got ${b}`);
for (const m of MODES as string[]) if (m !== 'wait' && m !== 'poll') throw new Error(`FLOWS_PAYMENT: wait or poll, got ${m}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const day = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

class HttpError extends Error {
  constructor(
    readonly step: string,
    readonly status: number,
  ) {
    super(`${step} ${status}`);
  }
}

async function call<T>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(FLOW_TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** BookingConfirmed events as the observer sees them: booking_id → a waiter. */
class Confirmations {
  private readonly waiting = new Map<string, (t: number) => void>();
  private readonly early = new Map<string, number>();
  constructor(private readonly client: mqtt.MqttClient) {
    client.on('message', (_topic, payload) => {
      const t = performance.now();
      const id = (JSON.parse(payload.toString()) as { payload: { booking_id: string } }).payload.booking_id;
      const w = this.waiting.get(id);
      if (w) {
        this.waiting.delete(id);
        w(t);
      } else this.early.set(id, t);
    });
  }
  static async connect(url: string): Promise<Confirmations> {
    const client = await mqtt.connectAsync(url, {
      clientId: `albergue-observer-bench-${process.pid}-${Date.now().toString(36)}`,
      username: 'observer',
      password: 'observer-dev-password',
    });
    await client.subscribeAsync('albergue/booking/v1/BookingConfirmed', { qos: 1 });
    return new Confirmations(client);
  }
  /** When the booking was confirmed (performance.now()); rejects after `ms`. */
  confirmed(bookingId: string, ms: number): Promise<number> {
    const t = this.early.get(bookingId);
    if (t !== undefined) {
      this.early.delete(bookingId);
      return Promise.resolve(t);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(bookingId);
        reject(new HttpError('confirmation timeout', 0));
      }, ms);
      this.waiting.set(bookingId, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }
  close(): Promise<void> {
    return this.client.endAsync();
  }
}

interface StepResult {
  readonly offered: number;
  readonly achieved: number;
  readonly ok: number;
  readonly started: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly errors: Record<string, number>;
  readonly paymentReads: number;
  /** p50 ms of each phase of the confirmed flows: reserve answered, payment known, charge answered, confirmed. */
  readonly phases: Record<string, number>;
  readonly cpuPerFlow: Record<string, number>;
}

const pct = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function postgresBackends(admin: pg.Client, databases: readonly string[]): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)', [databases]);
  return rows.map((r) => r.pid);
}

/**
 * CPU ms by role now: each child, the Postgres backends of the services' databases, this process.
 * Backends are counted per pid (`pgCpu` keeps each one's last reading: a backend that ends between
 * two snapshots keeps what it was last seen with, one that starts counts from zero).
 */
async function cpuSnapshot(sys: FlowSystem, admin: pg.Client, pgCpu: Map<number, number>): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const [role, pid] of Object.entries(sys.pids)) m.set(role, cpuMs(pid) ?? 0);
  for (const pid of await postgresBackends(admin, sys.databases)) if (!pgCpu.has(pid)) pgCpu.set(pid, 0);
  for (const [pid, last] of pgCpu) pgCpu.set(pid, cpuMs(pid) ?? last);
  m.set(
    'postgres',
    [...pgCpu.values()].reduce((a, b) => a + b, 0),
  );
  const self = process.cpuUsage();
  m.set('driver', (self.user + self.system) / 1000);
  return m;
}

async function runStep(
  sys: FlowSystem,
  admin: pg.Client,
  confirmations: Confirmations,
  albergues: readonly string[],
  mode: 'wait' | 'poll',
  rate: number,
  seconds: number,
  base: number,
): Promise<StepResult> {
  const n = Math.max(1, Math.round(rate * seconds));
  const latencies: number[] = [];
  const phases: Record<string, number[]> = { reserve: [], payment: [], charge: [], confirm: [] };
  const errors: Record<string, number> = {};
  let paymentReads = 0;
  let lastConfirmed = 0;
  const pgCpu = new Map<number, number>();
  const before = await cpuSnapshot(sys, admin, pgCpu);

  const flow = async (i: number): Promise<void> => {
    const g = base + i;
    const t0 = performance.now();
    try {
      const reserved = await call<{ booking_id: string }>('POST', `${sys.urls.booking}/bookings`, {
        albergue_id: albergues[g % albergues.length],
        guest: { guest_id: `guest-${g}`, name: `Pilgrim ${g}`, email: `pilgrim${g}@example.org`, locale: 'es' },
        check_in: day(20 + (Math.floor(g / albergues.length) % 200)),
        check_out: day(21 + (Math.floor(g / albergues.length) % 200)),
        beds: 1,
      });
      if (reserved.status !== 201) throw new HttpError('reserve', reserved.status);
      const bookingId = reserved.body.booking_id;
      const t1 = performance.now();
      let paymentId: string | undefined;
      const deadline = t0 + FLOW_TIMEOUT_MS;
      while (paymentId === undefined) {
        paymentReads++;
        const p = await call<{ payment_id: string }>(
          'GET',
          `${sys.urls.payment}/bookings/${bookingId}/payment${mode === 'wait' ? '?wait=10' : ''}`,
        );
        if (p.status === 200) paymentId = p.body.payment_id;
        else if (p.status !== 404) throw new HttpError('payment', p.status);
        else if (performance.now() > deadline) throw new HttpError('payment', 404);
        else if (mode === 'poll') await sleep(20);
      }
      const t2 = performance.now();
      const charged = await call('POST', `${sys.urls.payment}/payments/${paymentId}/charge`, { payment_method: '4242424242424242' });
      if (charged.status !== 202) throw new HttpError('charge', charged.status);
      const t3 = performance.now();
      const at = await confirmations.confirmed(bookingId, Math.max(1, deadline - performance.now()));
      latencies.push(at - t0);
      phases.reserve!.push(t1 - t0);
      phases.payment!.push(t2 - t1);
      phases.charge!.push(t3 - t2);
      phases.confirm!.push(at - t3);
      lastConfirmed = Math.max(lastConfirmed, at);
    } catch (err) {
      const kind = err instanceof HttpError ? err.message : `network ${(err as Error).name}`;
      errors[kind] = (errors[kind] ?? 0) + 1;
    }
  };

  const start = performance.now();
  const flows: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    flows.push(flow(i));
  }
  await Promise.all(flows); // each flow ends within FLOW_TIMEOUT_MS
  const after = await cpuSnapshot(sys, admin, pgCpu);
  latencies.sort((a, b) => a - b);
  const elapsed = Math.max(seconds, (lastConfirmed - start) / 1000);
  const ok = latencies.length;
  const cpuPerFlow: Record<string, number> = {};
  for (const [role, v] of after) cpuPerFlow[role] = ok > 0 ? (v - (before.get(role) ?? 0)) / ok : NaN;
  return {
    offered: rate,
    achieved: ok / elapsed,
    ok,
    started: n,
    p50: pct(latencies, 50),
    p95: pct(latencies, 95),
    p99: pct(latencies, 99),
    errors,
    paymentReads,
    phases: Object.fromEntries(
      Object.entries(phases).map(([k, v]) => [
        k,
        pct(
          v.sort((a, b) => a - b),
          50,
        ),
      ]),
    ),
    cpuPerFlow,
  };
}

async function registerAlbergues(sys: FlowSystem): Promise<string[]> {
  const ids: string[] = [];
  const stamp = Date.now().toString(36);
  for (let i = 0; i < ALBERGUES; i++) {
    const id = `alb-bench-${stamp}-${i}`;
    const r = await call('POST', `${sys.urls.location}/albergues`, {
      albergue_id: id,
      name: `Albergue ${id}`,
      town: 'Sarria',
      location: { lat: 42.78, lon: -7.41 },
      beds: 10_000,
      nightly_price: { amount_minor: 1200, currency: 'EUR' },
    });
    if (r.status !== 201) throw new Error(`registering ${id}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    ids.push(id);
  }
  const deadline = Date.now() + 30_000;
  for (const id of ids) {
    while ((await call('GET', `${sys.urls.booking}/albergues/${id}/availability?from=${day(20)}&to=${day(21)}`)).status !== 200) {
      if (Date.now() > deadline) throw new Error(`booking did not learn albergue ${id} within 30 s`);
      await sleep(50);
    }
  }
  return ids;
}

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

function line(broker: string, mode: string, r: StepResult): string {
  const errs = Object.entries(r.errors)
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
  const cpu = Object.entries(r.cpuPerFlow)
    .map(([k, v]) => `${k} ${f1(v)}`)
    .join(', ');
  const total = Object.values(r.cpuPerFlow).reduce((a, b) => a + b, 0);
  return (
    `  ${broker.padEnd(15)} ${mode.padEnd(4)} offered ${String(r.offered).padStart(4)}/s achieved ${f1(r.achieved).padStart(6)}/s ` +
    `(${r.ok}/${r.started} confirmed)  p50 ${f0(r.p50).padStart(5)} ms p95 ${f0(r.p95).padStart(5)} ms p99 ${f0(r.p99).padStart(5)} ms  ` +
    `payment reads/flow ${(r.paymentReads / r.started).toFixed(1)}  errors ${errs || 'none'}\n` +
    `      p50 by phase: ${Object.entries(r.phases)
      .map(([k, v]) => `${k} ${f0(v)} ms`)
      .join(', ')}\n` +
    `      CPU ms per confirmed flow: ${cpu}; total ${f1(total)}`
  );
}

/** Sustained: nearly everything offered was confirmed, nothing failed, p99 within the goal. */
const sustained = (r: StepResult) => r.ok === r.started && r.achieved >= 0.95 * r.offered && r.p99 <= GOAL_P99_MS;

async function main(): Promise<void> {
  const cores = availableParallelism();
  console.log(
    `flows bench: ${cores} cores, load ${loadavg()[0]!.toFixed(1)}, rates ${RATES.join(', ')} flows/s × ${SECONDS} s, brokers ${BROKERS.join(', ')}, payment by ${MODES.join(', ')}, card network latency ${SIM_LATENCY_MS} ms`,
  );
  const admin = new pg.Client({ connectionString: `${PG}/postgres` });
  await admin.connect();
  let base = 0;
  try {
    for (const [k, broker] of BROKERS.entries()) {
      // Each broker gets its share of the time left (a slow first one must not starve the next).
      const until = Date.now() + (DEADLINE - Date.now()) / (BROKERS.length - k);
      if (Date.now() > DEADLINE) {
        console.log(`  ${broker}: skipped (FLOWS_MAX_MINUTES reached)`);
        continue;
      }
      const sys = await startFlowSystem(broker, { PAYMENT_SIM_LATENCY_MS: SIM_LATENCY_MS });
      let confirmations: Confirmations | undefined;
      try {
        confirmations = await Confirmations.connect(sys.mqttUrl);
        const albergues = await registerAlbergues(sys);
        // Warm-up (JIT, connection pools), not reported.
        await runStep(sys, admin, confirmations, albergues, 'wait', 10, 2, (base += 100_000));
        const best = new Map<string, StepResult>();
        for (const mode of MODES) {
          for (const rate of RATES) {
            if (Date.now() + SECONDS * 1000 > until) {
              console.log(`  ${broker} ${mode} ${rate}/s: skipped (FLOWS_MAX_MINUTES reached)`);
              continue;
            }
            const r = await runStep(sys, admin, confirmations, albergues, mode, rate, SECONDS, (base += 100_000));
            console.log(line(broker, mode, r));
            if (sustained(r) && r.achieved > (best.get(mode)?.achieved ?? 0)) best.set(mode, r);
            if (r.achieved < 0.8 * r.offered) break; // saturated: higher rates only queue more
            await sleep(1000);
          }
        }
        const mode = MODES.includes('wait') ? 'wait' : MODES[0]!;
        const b = best.get(mode);
        const measured = b?.achieved ?? 0;
        reportResult({
          id: `P4-flows-${broker}`,
          ratio: measured / GOAL_RATE,
          goal: '>= 1',
          measured,
          baseline: GOAL_RATE,
          detail: `flows/s sustained with p99 <= ${GOAL_P99_MS} ms (${b ? `p99 ${f0(b.p99)} ms` : 'no rate sustained'}), payment by ${mode}, ${cores} cores`,
        });
      } finally {
        await confirmations?.close();
        await sys.close();
      }
    }
  } finally {
    await admin.end();
  }
}

await main();
