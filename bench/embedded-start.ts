// `npm start`'s footprint (issue 17 P5): time to all-healthy and resident memory of the whole system
// (the start process and every process under it), on a first start (empty DATA_DIR) and a warm one.
// Runs the built system (`npm run build` first): node dist/scripts/start.js, every port 0, a
// temporary DATA_DIR. Memory is sampled from /proc every 25 ms: RSS summed over the process tree
// (what `ps` shows; shared pages counted once per process) and PSS (shared pages split between
// the processes that map them: the tree's real share of the machine). Absolute figures, printed next
// to the core count; the goal is ≤ 5 s to all-healthy and ≤ 400 MB.
//   npm run bench -- embedded-start            (3 rounds of first + warm start)
//   ROUNDS=1 npm run bench -- embedded-start
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportResult } from './lib/report.js';

const root = new URL('..', import.meta.url).pathname;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const STEADY_MS = Number(process.env.STEADY_MS ?? 3000);

function children(pid: number): number[] {
  const out: number[] = [];
  for (const task of safeList(`/proc/${pid}/task`)) {
    const raw = safeRead(`/proc/${pid}/task/${task}/children`);
    for (const c of raw.split(' ').filter(Boolean)) out.push(Number(c));
  }
  return out;
}
function tree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i]!));
  return all;
}
function safeList(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}
function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}
function kb(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
/** RSS and PSS (MB) summed over the process tree of `pid`. */
export function treeMemory(pid: number): { rss: number; pss: number; processes: number } {
  let rss = 0;
  let pss = 0;
  const pids = tree(pid);
  for (const p of pids) {
    const roll = safeRead(`/proc/${p}/smaps_rollup`);
    rss += kb(roll, 'Rss');
    pss += kb(roll, 'Pss');
  }
  return { rss: rss / 1024, pss: pss / 1024, processes: pids.length };
}

/** CPU seconds (user + system) spent by the tree of `pid`, including its reaped children. */
function treeCpu(pid: number): number {
  let ticks = 0;
  for (const p of tree(pid)) {
    const f = safeRead(`/proc/${p}/stat`).split(') ')[1]?.split(' ') ?? [];
    // after "pid (comm) ": state=0 … utime=11 stime=12 cutime=13 cstime=14
    ticks += Number(f[11] ?? 0) + Number(f[12] ?? 0) + Number(f[13] ?? 0) + Number(f[14] ?? 0);
  }
  return ticks / 100;
}

interface Run {
  readonly bannerMs: number;
  readonly healthyMs: number;
  readonly cpuToHealthy: number;
  readonly peakRss: number;
  readonly peakPss: number;
  readonly steadyRss: number;
  readonly steadyPss: number;
  readonly processes: number;
  readonly stopMs: number;
  readonly left: number;
}

const notReady = new Map<string, string>();
async function healthy(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3000) });
    if (r.status !== 200) notReady.set(url, await r.text());
    return r.status === 200;
  } catch (err) {
    notReady.set(url, String(err));
    return false;
  }
}

async function once(dataDir: string, extraEnv: Record<string, string>): Promise<Run> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...extraEnv };
  for (const v of [
    'BROKER_MQTT_PORT',
    'BROKER_WS_PORT',
    'BROKER_HTTP_PORT',
    'GATEWAY_PORT',
    'LOCATION_PORT',
    'BOOKING_PORT',
    'PAYMENT_PORT',
    'DOCUMENTS_PORT',
    'NOTIFICATIONS_PORT',
    'AUDIT_PORT',
    'OPERATIONS_PORT',
    'MAIL_CATCHER_SMTP_PORT',
    'MAIL_CATCHER_HTTP_PORT',
  ])
    env[v] = '0';
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(root, 'dist/scripts/start.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));
  let peakRss = 0;
  let peakPss = 0;
  let processes = 0;
  const sample = () => {
    const m = treeMemory(child.pid!);
    peakRss = Math.max(peakRss, m.rss);
    peakPss = Math.max(peakPss, m.pss);
    processes = Math.max(processes, m.processes);
  };
  const sampler = setInterval(sample, 25);
  try {
    return await measureRun();
  } finally {
    clearInterval(sampler);
    if (!exited) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }

  async function measureRun(): Promise<Run> {
    let healthyMs = 0;
    let bannerMs = 0;
    let cpuToHealthy = 0;
    const deadline = Date.now() + 300_000;
    for (;;) {
      if (exited) throw new Error(`start exited early:\n${out}`);
      if (Date.now() > deadline) throw new Error(`not healthy in 300 s:\n${out}`);
      if (out.includes('Ctrl-C stops it')) {
        bannerMs ||= performance.now() - t0;
        const urls = [...new Set([...out.matchAll(/ (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]!))];
        const ok = await Promise.all(urls.map(healthy));
        if (urls.length > 0 && ok.every(Boolean)) {
          healthyMs = performance.now() - t0;
          cpuToHealthy = treeCpu(child.pid!);
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, STEADY_MS));
    clearInterval(sampler);
    const steady = treeMemory(child.pid!);
    const pids = tree(child.pid!);
    const s0 = performance.now();
    const stopped = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGINT');
    await stopped;
    const stopMs = performance.now() - s0;
    // Processes of the tree still alive shortly after the stop (orphans).
    const until = Date.now() + 2000;
    let left = pids.filter((p) => p !== child.pid && safeRead(`/proc/${p}/stat`) !== '').length;
    while (left > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
      left = pids.filter((p) => p !== child.pid && safeRead(`/proc/${p}/stat`) !== '').length;
    }
    if (process.env.DEBUG_HEALTH) console.log([...notReady.entries()]);
    notReady.clear();
    return { bannerMs, healthyMs, cpuToHealthy, peakRss, peakPss, steadyRss: steady.rss, steadyPss: steady.pss, processes, stopMs, left };
  }
}

const fmt = (r: Run, label: string) =>
  `${label.padEnd(6)} running ${(r.bannerMs / 1000).toFixed(2).padStart(5)} s  healthy ${(r.healthyMs / 1000).toFixed(2).padStart(5)} s (CPU ${r.cpuToHealthy.toFixed(1)} s)   peak RSS ${r.peakRss.toFixed(0).padStart(5)} MB (PSS ${r.peakPss
    .toFixed(0)
    .padStart(5)})   steady RSS ${r.steadyRss.toFixed(0).padStart(5)} MB (PSS ${r.steadyPss.toFixed(0).padStart(5)})   processes ${
    r.processes
  }   stop ${r.stopMs.toFixed(0)} ms   left ${r.left}`;

async function main(): Promise<void> {
  const extra: Record<string, string> = {};
  if (process.env.EMBEDDED_DB) extra.EMBEDDED_DB = process.env.EMBEDDED_DB;
  console.log(
    `npm start footprint: ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)}, node ${process.version}, ${ROUNDS} rounds, EMBEDDED_DB=${extra.EMBEDDED_DB ?? 'postgres'}`,
  );
  let healthyMs = Infinity;
  let peakPss = Infinity;
  for (let i = 0; i < ROUNDS; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'albergue-start-'));
    try {
      const first = await once(dataDir, extra);
      console.log(fmt(first, 'first'));
      const warm = await once(dataDir, extra);
      console.log(fmt(warm, 'warm'));
      healthyMs = Math.min(healthyMs, first.healthyMs);
      peakPss = Math.min(peakPss, Math.max(first.peakPss, warm.peakPss));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  // Best of the rounds (the machine is shared): first start's time to all healthy; the peak PSS of both starts.
  const s = healthyMs / 1000;
  reportResult({
    id: 'P5-start-healthy',
    ratio: s / 5,
    goal: '<= 1',
    measured: s,
    baseline: 5,
    detail: `s to all healthy (first start) vs 5 s, ${availableParallelism()} cores`,
  });
  reportResult({
    id: 'P5-start-memory',
    ratio: peakPss / 400,
    goal: '<= 1',
    measured: peakPss,
    baseline: 400,
    detail: 'MB peak PSS of the process tree vs 400 MB',
  });
}

await main();
