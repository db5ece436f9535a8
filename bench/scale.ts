// Scale-out of one consumer group (issue 18 item 4): 1, 2 and 4 instances, each its own process
// (bench/scale/instance.ts), on a private redis-server (the delivery ledger and the handlers' effects)
// and a private broker — Mosquitto (startMosquitto) and Aedes (in a child process) — with two handlers:
//   io:  waits 20 ms (I/O), at the runtime's default worker concurrency of 32 per instance;
//   cpu: CPU-light (only the effect).
// The effect of an event is a Redis `SET NX` on its event_id: an event counts once, whoever handles it.
// Throughput = events handled / seconds from the first publish to the last effect.
// CPU per message = CPU time (/proc, user + system) of the instances + the broker + redis-server, from
// just before the first publish until every instance is idle again, divided by the events published.
// Every subscription mode is run: MQTT_SUBSCRIPTION_MODE=fanout (every instance receives every message
// and records it; one lease wins) and shared (MQTT 5 shared subscription). A mode the runtime refuses
// (a consumer that does not start) or ignores (2 instances each receiving every message) is reported
// "not available" with the reason.
// Goals, as ratios in one run: (a) io, 4 instances ≥ 3.5× the throughput of 1;
// (b) cpu, total CPU per message with 4 instances ≤ 1.3× that of 1.
// Rounds alternate: each round runs 1, 2 and 4 instances on every (broker, mode); each figure keeps its best round. Bounded: N events
// per run (BENCH_SCALE_MESSAGES, default 3,000), each run capped at 30 s, the whole bench at
// BENCH_SCALE_BUDGET_S (default 200 s; runs past it are skipped and listed).
//   npm run bench -- scale   (BENCH_SCALE_ROUNDS=2, BENCH_BROKERS=mosquitto,aedes, BENCH_SCALE_MODES=fanout,shared)
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { MqttPublisher, publishAll, toOutgoing } from '@albergue/messaging';
import type { SubscriptionMode } from '@albergue/messaging';
import { bookingReserved, deleteNamespace, mosquittoPath, startMosquitto, startRedisServer } from '@albergue/messaging/testing';
import type { TestRedis } from '@albergue/messaging/testing';
import { runAedes } from './scale/aedes.js';
import { runInstance } from './scale/instance.js';
import type { FromInstance, HandlerKind, InstanceStats, ToInstance } from './scale/instance.js';
import { childPids, cpuMs } from './lib/procs.js';

const N = Number(process.env.BENCH_SCALE_MESSAGES ?? 3_000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_SCALE_ROUNDS ?? 2));
const BUDGET_MS = Number(process.env.BENCH_SCALE_BUDGET_S ?? 200) * 1000;
const CAP_MS = 30_000;
const COUNTS = [1, 2, 4] as const;
const HANDLERS: readonly HandlerKind[] = ['io', 'cpu'];
const WINDOW = 100;
const PROBE_MESSAGES = 400;
const list = (v: string | undefined, all: readonly string[]) => (v ? v.split(',').filter((x) => all.includes(x)) : [...all]);
const MODES = list(process.env.BENCH_SCALE_MODES, ['fanout', 'shared']).map((m): SubscriptionMode => {
  if (m !== 'fanout' && m !== 'shared') throw new Error(`BENCH_SCALE_MODES: "${m}" is not a mode (fanout, shared)`);
  return m;
});
const BROKERS = list(process.env.BENCH_BROKERS, mosquittoPath() ? ['mosquitto', 'aedes'] : ['aedes']);

const now = () => performance.timeOrigin + performance.now();
const self = new URL(import.meta.url).pathname;
const childArgs = (role: string) => ['--conditions=development', '--import', 'tsx', self, role];

// ---- children -------------------------------------------------------------------------------

/** An instance process; `request` sends a command and resolves with the first reply of the given kinds. */
class Instance {
  readonly child: ChildProcess;
  latest: InstanceStats = { received: 0, effects: 0, repeatedEffects: 0, lastEffectAt: 0 };
  private readonly exited: Promise<void>;
  private readonly waiters = new Set<(m: FromInstance) => void>();
  private listening = false;

  constructor(index: number) {
    this.child = spawn(process.execPath, childArgs('instance'), {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, INSTANCE_ID: String(index), LOG_LEVEL: 'warn' },
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.on('message', (m: FromInstance) => {
      if (m.cmd === 'listening') this.listening = true;
      if (m.cmd === 'stats' || m.cmd === 'stopped') this.latest = m.stats;
      for (const w of [...this.waiters]) w(m);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves once the process listens for commands (it may have said so already). */
  async started(timeoutMs: number): Promise<void> {
    if (!this.listening) await this.next(['listening'], timeoutMs);
  }

  next(kinds: readonly FromInstance['cmd'][], timeoutMs: number, send?: ToInstance): Promise<FromInstance> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`instance ${this.pid}: no ${kinds.join('/')} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (m: FromInstance) => {
        if (!kinds.includes(m.cmd)) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(m);
      };
      this.waiters.add(waiter);
      if (send) this.child.send(send);
    });
  }

  async close(): Promise<void> {
    if (this.child.connected) this.child.disconnect();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killer);
  }
}

interface Broker {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  close(): Promise<void>;
}

async function startBrokerProcess(name: string): Promise<Broker> {
  if (name === 'mosquitto') {
    const before = new Set(childPids('mosquitto'));
    const broker = await startMosquitto();
    const pid = childPids('mosquitto').find((p) => !before.has(p));
    if (pid === undefined) throw new Error('the mosquitto process started by startMosquitto was not found in /proc');
    return { name, url: broker.url, pid, close: () => broker.close() };
  }
  const child = spawn(process.execPath, childArgs('aedes'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.once('exit', (code) => reject(new Error(`the Aedes broker process exited (${code})`)));
  });
  return {
    name,
    url,
    pid: child.pid!,
    async close() {
      child.disconnect();
      await exited;
    },
  };
}

// ---- one run ----------------------------------------------------------------------------------

interface RunResult {
  readonly handled: number;
  readonly repeated: number;
  readonly perSecond: number;
  readonly cpuUsPerMsg: number;
  readonly cpuParts: { readonly instances: number; readonly broker: number; readonly redis: number };
  readonly receivedPerInstance: readonly number[];
}

async function until(cond: () => boolean, capMs: number): Promise<void> {
  const deadline = Date.now() + capMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

async function runOnce(
  broker: Broker,
  redis: TestRedis,
  instances: readonly Instance[],
  mode: SubscriptionMode,
  handler: HandlerKind,
  k: number,
  n: number,
  run: string,
): Promise<RunResult | { readonly failed: string }> {
  const namespace = `scale_${run}:`;
  const used = instances.slice(0, k);
  const messages = Array.from({ length: n }, (_, i) => toOutgoing(bookingReserved(`bk-${i}`)));
  const publisher = await MqttPublisher.connect(broker.url, { clientId: `scale-pub-${run}`, clean: true, window: WINDOW });
  let stopped = false;
  try {
    const started = await Promise.all(
      used.map((inst, i) =>
        inst.next(['ready', 'failed'], 30_000, {
          cmd: 'start',
          mode,
          mqttUrl: broker.url,
          redisUrl: redis.url,
          namespace,
          handler,
          clientId: `scale-${run}-${i}`,
        }),
      ),
    );
    const failed = started.find((m) => m.cmd === 'failed');
    if (failed) return { failed: failed.reason };
    for (const inst of used) inst.latest = { received: 0, effects: 0, repeatedEffects: 0, lastEffectAt: 0 };

    const pids = { instances: used.map((i) => i.pid), broker: broker.pid, redis: redis.pid };
    const cpu = () => ({
      instances: pids.instances.reduce((a, p) => a + (cpuMs(p) ?? 0), 0),
      broker: cpuMs(pids.broker) ?? 0,
      redis: cpuMs(pids.redis) ?? 0,
    });
    const before = cpu();
    const t0 = now();
    let next = 0;
    const lane = async () => {
      while (next < messages.length) await publishAll(publisher, [messages[next++]!]);
    };
    const published = Promise.all(Array.from({ length: WINDOW }, lane));
    const effects = () => used.reduce((a, i) => a + i.latest.effects, 0);
    await until(() => effects() >= n, CAP_MS);
    await published;
    // Wait until every instance is idle (nothing more received or handled for 300 ms): the CPU of the
    // fanout copies still being recorded after the last effect belongs to these messages too.
    let last = '';
    let stableSince = Date.now();
    await until(() => {
      const state = used.map((i) => `${i.latest.received}/${i.latest.effects}/${i.latest.repeatedEffects}`).join(',');
      if (state !== last) [last, stableSince] = [state, Date.now()];
      return Date.now() - stableSince >= 300;
    }, 10_000);
    const after = cpu();
    stopped = true;
    const finals = (await Promise.all(used.map((inst) => inst.next(['stopped'], 20_000, { cmd: 'stop' })))).map(
      (m) => (m as Extract<FromInstance, { cmd: 'stopped' }>).stats,
    );
    const handled = finals.reduce((a, s) => a + s.effects, 0);
    const lastEffect = Math.max(...finals.map((s) => s.lastEffectAt));
    const part = (key: keyof typeof before) => ((after[key] - before[key]) * 1000) / n;
    return {
      handled,
      repeated: finals.reduce((a, s) => a + s.repeatedEffects, 0),
      perSecond: handled / ((lastEffect - t0) / 1000),
      cpuUsPerMsg: part('instances') + part('broker') + part('redis'),
      cpuParts: { instances: part('instances'), broker: part('broker'), redis: part('redis') },
      receivedPerInstance: finals.map((s) => s.received),
    };
  } finally {
    if (!stopped) await Promise.allSettled(used.map((inst) => inst.next(['stopped'], 20_000, { cmd: 'stop' })));
    await publisher.close();
    await deleteNamespace(redis.url, namespace);
  }
}

// ---- the bench --------------------------------------------------------------------------------

interface Best {
  perSecond: number;
  cpuUsPerMsg: number;
  cpuParts: RunResult['cpuParts'];
  complete: boolean;
  repeated: number;
}

const fmtInt = (x: number) => Math.round(x).toLocaleString('en');
const fmtRatio = (x: number) => `${x.toFixed(2)}×`;

async function main(): Promise<void> {
  const began = Date.now();
  const deadline = began + BUDGET_MS;
  const load0 = loadavg().map((l) => l.toFixed(2));
  console.log(
    `scale bench: ${availableParallelism()} cores, load average ${load0.join(' ')}; ${N} events per run (1 topic, QoS 1, publish window ${WINDOW}), ` +
      `instances ${COUNTS.join('/')}, handlers io (20 ms wait) and cpu (effect only), runtime default worker concurrency 32 per instance, ` +
      `${ROUNDS} round(s) alternating, best kept; brokers ${BROKERS.join(', ')}; modes ${MODES.join(', ')}`,
  );
  const redis = await startRedisServer();
  const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const best = new Map<string, Best>();
  const unavailable = new Map<string, string>();
  const skipped: string[] = [];
  const brokers: Broker[] = [];
  // Every broker and the instance processes, kept for the whole bench so that rounds can alternate
  // (an idle one is not measured). A process start under tsx takes seconds, a minute on a loaded machine.
  const instances = Array.from({ length: COUNTS[COUNTS.length - 1]! }, (_, i) => new Instance(i));
  let runs = 0;
  try {
    const brokerStarts = BROKERS.map(startBrokerProcess);
    const started = await Promise.allSettled(brokerStarts);
    for (const r of started) if (r.status === 'fulfilled') brokers.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    await Promise.all(instances.map((i) => i.started(180_000)));
    console.log(
      `  started ${brokers.length} broker(s) and ${instances.length} instance processes in ${((Date.now() - began) / 1000).toFixed(1)} s`,
    );
    interface Section {
      readonly broker: Broker;
      readonly mode: SubscriptionMode;
      roundMs: number;
    }
    const sections: Section[] = [];
    for (const broker of brokers) {
      for (const mode of MODES) {
        // A warm-up run on every instance (the first messages of a fresh process cost more), which also
        // tells whether the mode works: a mode the runtime refuses or ignores is reported, not measured.
        const all = instances.length;
        const probe = await runOnce(broker, redis, instances, mode, 'cpu', all, PROBE_MESSAGES, `${stamp}-probe-${broker.name}-${mode}`);
        const reason =
          'failed' in probe
            ? `refused: ${probe.failed}`
            : mode !== 'fanout' && probe.receivedPerInstance.every((r) => r >= PROBE_MESSAGES * 0.9)
              ? `MQTT_SUBSCRIPTION_MODE=${mode} ignored: each of ${all} instances received all ${PROBE_MESSAGES} messages, as in fanout`
              : undefined;
        if (reason) {
          unavailable.set(`${broker.name}|${mode}`, reason);
          console.log(`  ${broker.name} ${mode}: not available (${reason})`);
        } else sections.push({ broker, mode, roundMs: 0 });
      }
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const section of sections) {
        const { broker, mode } = section;
        // A later round only if it fits in the budget (its first round's duration as the estimate).
        if (Date.now() + (round > 1 ? section.roundMs : 0) > deadline) {
          skipped.push(`${broker.name} ${mode} round ${round}`);
          continue;
        }
        const roundStart = Date.now();
        for (const handler of HANDLERS) {
          for (const k of COUNTS) {
            const label = `${broker.name} ${mode} ${handler} ×${k}`;
            const runStart = Date.now();
            const r = await runOnce(broker, redis, instances, mode, handler, k, N, `${stamp}-${runs++}`);
            if ('failed' in r) {
              console.log(`  ${label} round ${round}: failed (${r.failed})`);
              continue;
            }
            const p = r.cpuParts;
            console.log(
              `  ${label.padEnd(24)} round ${round}: ${fmtInt(r.perSecond).padStart(6)} events/s, ${fmtInt(r.cpuUsPerMsg).padStart(5)} µs CPU/msg ` +
                `(instances ${fmtInt(p.instances)}, broker ${fmtInt(p.broker)}, redis ${fmtInt(p.redis)}); handled ${r.handled}/${N}` +
                `${r.repeated ? `, ${r.repeated} handled twice` : ''}; received per instance ${r.receivedPerInstance.join('/')}; ${((Date.now() - runStart) / 1000).toFixed(1)} s`,
            );
            const key = `${broker.name}|${mode}|${handler}|${k}`;
            const b = best.get(key);
            const complete = r.handled === N;
            const cheaper = b && b.cpuUsPerMsg <= r.cpuUsPerMsg ? b : r;
            best.set(key, {
              perSecond: Math.max(b?.perSecond ?? 0, complete ? r.perSecond : 0),
              cpuUsPerMsg: cheaper.cpuUsPerMsg,
              cpuParts: cheaper.cpuParts,
              complete: (b?.complete ?? false) || complete,
              repeated: (b?.repeated ?? 0) + r.repeated,
            });
          }
        }
        section.roundMs = Math.max(section.roundMs, Date.now() - roundStart);
      }
    }
  } finally {
    await Promise.all(instances.map((i) => i.close()));
    await Promise.all(brokers.map((b) => b.close()));
    await redis.stop();
  }
  report(best, unavailable, skipped, began);
}

function report(best: Map<string, Best>, unavailable: Map<string, string>, skipped: string[], began: number): void {
  const rows: string[][] = [['broker', 'mode', 'handler', 'instances', 'events/s', 'vs 1', 'CPU µs/msg', 'vs 1', 'goal', 'met']];
  const results: object[] = [];
  for (const brokerName of BROKERS) {
    for (const mode of MODES) {
      const why = unavailable.get(`${brokerName}|${mode}`);
      if (why && !best.has(`${brokerName}|${mode}|io|1`)) {
        rows.push([brokerName, mode, '', '', `not available (${why})`]);
        continue;
      }
      for (const handler of HANDLERS) {
        const one = best.get(`${brokerName}|${mode}|${handler}|1`);
        for (const k of COUNTS) {
          const b = best.get(`${brokerName}|${mode}|${handler}|${k}`);
          if (!b) continue;
          const thr = one ? b.perSecond / one.perSecond : NaN;
          const cpu = one ? b.cpuUsPerMsg / one.cpuUsPerMsg : NaN;
          let goal = '';
          let met = '';
          if (k === COUNTS[COUNTS.length - 1] && one) {
            const [ratio, ok, text, id, measured, baseline] =
              handler === 'io'
                ? [thr, thr >= 3.5, 'throughput ≥ 3.5×', `scale-a-${brokerName}-${mode}`, b.perSecond, one.perSecond]
                : [cpu, cpu <= 1.3, 'CPU/msg ≤ 1.3×', `scale-b-${brokerName}-${mode}`, b.cpuUsPerMsg, one.cpuUsPerMsg];
            const valid = b.complete && one.complete && b.repeated === 0 && one.repeated === 0;
            goal = text;
            met = valid ? (ok ? 'yes' : 'no') : 'no (incomplete)';
            results.push({
              id,
              ratio: Number(ratio.toFixed(3)),
              goal: handler === 'io' ? '>= 3.5' : '<= 1.3',
              met: valid && ok,
              measured: Number(measured.toFixed(1)),
              baseline: Number(baseline.toFixed(1)),
            });
          }
          const flags = `${b.complete ? '' : ' (incomplete)'}${b.repeated ? ` (${b.repeated} twice!)` : ''}`;
          rows.push([
            brokerName,
            mode,
            handler,
            String(k),
            fmtInt(b.perSecond) + flags,
            fmtRatio(thr),
            fmtInt(b.cpuUsPerMsg),
            fmtRatio(cpu),
            goal,
            met,
          ]);
        }
      }
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.filter((r) => r.length > 5).map((r) => (r[c] ?? '').length)));
  console.log(
    `\nscale bench, ${((Date.now() - began) / 1000).toFixed(0)} s, load average now ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (const r of rows) console.log(r.length > 5 ? r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ') : r.join('  '));
  if (skipped.length > 0) console.log(`skipped (time budget BENCH_SCALE_BUDGET_S): ${skipped.join('; ')}`);
  for (const r of results) console.log(`BENCH_RESULT ${JSON.stringify(r)}`);
}

const role = process.argv[2];
if (role === 'instance') runInstance();
else if (role === 'aedes') await runAedes();
else await main();
