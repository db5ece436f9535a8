// The embedded mode's database survives a killed system: `npm start` (the built start script) on a
// DATA_DIR, a booking confirmed, the start process SIGKILLed — its Postgres server stops by itself
// (the lifeline), a second start on the same DATA_DIR is healthy and has the booking; a concurrent
// start on that DATA_DIR is refused; a server orphaned with its watchdog is taken over by the next
// start; Ctrl-C leaves no process and no lock.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '@albergue/platform/testing';
import type { Urls } from './guest.js';
import { http, reserveAndPay, waitForBookingStatus, waitUntilBookable } from './guest.js';

const root = new URL('../..', import.meta.url).pathname;

interface System {
  readonly child: ChildProcess;
  readonly urls: Urls;
  output(): string;
  exited: Promise<number | null>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function processesInGroup(pgid: number): number[] {
  const ps = spawnSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' });
  return ps.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
}

function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
}

function postmasterPid(dataDir: string): number | undefined {
  const f = join(dataDir, 'postgres', 'postmaster.pid');
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').split('\n')[0]);
  return pid > 0 ? pid : undefined;
}

function launch(dataDir: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const env: Record<string, string | undefined> = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn', PAYMENT_SIM_LATENCY_MS: '50' };
  for (const v of ['LOCATION_PORT', 'BOOKING_PORT', 'PAYMENT_PORT', 'BROKER_HTTP_PORT', 'BROKER_MQTT_PORT', 'BROKER_WS_PORT']) env[v] = '0';
  for (const k of ['NODE_TEST_CONTEXT', 'MQTT_URL', 'REDIS_URL', 'DATABASE_URL', 'EMBEDDED_DB']) delete env[k];
  const child = spawn(process.execPath, [join(root, 'dist/scripts/start.js')], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

async function start(dataDir: string): Promise<System> {
  const s = launch(dataDir);
  let code: number | null | undefined;
  void s.exited.then((c) => (code = c));
  await waitFor(() => code !== undefined || s.output().includes('Ctrl-C stops it'), {
    timeoutMs: 120_000,
    message: `the system to report it is running; output so far:\n${s.output()}`,
  });
  assert.equal(code, undefined, `the system exited (${code}) while starting:\n${s.output()}`);
  const url = (name: string) => {
    const m = new RegExp(`${name}\\s+(http://127\\.0\\.0\\.1:\\d+)`).exec(s.output());
    assert.ok(m, `no ${name} URL in:\n${s.output()}`);
    return m[1]!;
  };
  const urls = { location: url('location'), booking: url('booking'), payment: url('payment') };
  for (const u of Object.values(urls))
    await waitFor(async () => (await http('GET', `${u}/health`)).status === 200, { timeoutMs: 30_000, message: `${u}/health` });
  return { ...s, urls };
}

test(
  'embedded Postgres: SIGKILL, restart on the same DATA_DIR keeps the data; a second start is refused; Ctrl-C leaves nothing',
  { timeout: 400_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'embedded-restart-')); // mode 0700: as root the server's user must still reach it
    const groups: number[] = [];
    try {
      // 1. First start (initdb), a booking confirmed.
      const first = await start(dataDir);
      groups.push(first.child.pid!);
      assert.match(first.output(), /booking\s+http:\S+\s+data: .*embedded-restart-.*postgres \(database albergue_booking\)/);
      const albergues = await http<{ albergues: { albergue_id: string }[] }>('GET', `${first.urls.location}/albergues`);
      const albergueId = albergues.body.albergues[0]!.albergue_id;
      await waitUntilBookable(first.urls, albergueId);
      const { bookingId } = await reserveAndPay(first.urls, albergueId, 1, '4242 4242 4242 4242');
      await waitForBookingStatus(first.urls, bookingId, 'confirmed');

      // 2. SIGKILL the start process: the server notices its lifeline closed and stops by itself.
      const server1 = postmasterPid(dataDir);
      assert.ok(server1 && alive(server1), 'the embedded Postgres runs');
      first.child.kill('SIGKILL');
      await first.exited;
      await waitFor(() => !alive(server1), { timeoutMs: 30_000, message: 'the orphaned Postgres server to stop by itself' });

      // 3. Start again on the same folder: healthy, the booking is still there.
      const second = await start(dataDir);
      groups.push(second.child.pid!);
      const kept = await http<{ status: string }>('GET', `${second.urls.booking}/bookings/${bookingId}`);
      assert.equal(kept.status, 200, JSON.stringify(kept.body));
      assert.equal(kept.body.status, 'confirmed');
      assert.equal(
        (await http<{ albergues: unknown[] }>('GET', `${second.urls.location}/albergues`)).body.albergues.length,
        albergues.body.albergues.length,
      );

      // 4. A concurrent start on the same DATA_DIR is refused with a clear error, and harms nothing.
      const intruder = launch(dataDir);
      groups.push(intruder.child.pid!);
      const intruderCode = await intruder.exited;
      assert.notEqual(intruderCode, 0);
      assert.match(intruder.output(), /in use \(server pid \d+\): is another npm start running on this DATA_DIR\?/);
      assert.equal((await http('GET', `${second.urls.booking}/health`)).status, 200);

      // 5. Kill the start process and the server's watchdog at once: the server is orphaned with no lifeline...
      const server2 = postmasterPid(dataDir)!;
      const watchdog = Number(readFileSync(`/proc/${server2}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      assert.match(readFileSync(`/proc/${watchdog}/cmdline`, 'utf8'), /albergue-embedded-postgres/);
      // (its lifeline reader too: a child of the watchdog that would otherwise still stop the server)
      for (const pid of childrenOf(watchdog)) if (pid !== server2) process.kill(pid, 'SIGKILL');
      process.kill(watchdog, 'SIGKILL');
      second.child.kill('SIGKILL');
      await second.exited;
      assert.ok(alive(server2), 'an orphaned server (its watchdog killed too) keeps running');
      // ...and the next start shuts it down and takes over.
      const third = await start(dataDir);
      groups.push(third.child.pid!);
      assert.ok(!alive(server2), 'the orphaned server was stopped');
      assert.equal((await http<{ status: string }>('GET', `${third.urls.booking}/bookings/${bookingId}`)).body.status, 'confirmed');

      // 6. Ctrl-C: a clean stop, no process of the system or of its server left, no lock file.
      const server3 = postmasterPid(dataDir)!;
      const serverGroup = Number(readFileSync(`/proc/${server3}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);
      process.kill(-third.child.pid!, 'SIGINT');
      assert.equal(await third.exited, 0, third.output());
      assert.match(third.output(), /Albergue stopped\./);
      assert.ok(!alive(server3), 'the server stopped with the system');
      assert.deepEqual(processesInGroup(third.child.pid!), []);
      assert.deepEqual(processesInGroup(serverGroup), []);
      assert.equal(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), false, 'no lock file left');
    } finally {
      for (const g of groups) if (processesInGroup(g).length > 0) process.kill(-g, 'SIGKILL');
      const left = postmasterPid(dataDir);
      if (left && alive(left)) process.kill(left, 'SIGQUIT');
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
