// `start:services` supervises its children: one that exits is restarted with backoff and logged;
// SIGINT/SIGTERM (or a terminal's Ctrl-C, which reaches every process of the group) stops them all
// and restarts none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { waitFor } from '@albergue/platform/testing';
import { Supervisor } from './supervisor.js';

const idle = ['-e', 'setInterval(() => {}, 1000)'];
const alive = (pid: number | undefined) => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a child that exits is restarted and the restart is logged; the others are left alone', async () => {
  const log: string[] = [];
  const sup = new Supervisor({ initialBackoffMs: 100, log: (m) => log.push(m), output: () => undefined });
  try {
    sup.start({ name: 'broker', command: process.execPath, args: idle });
    sup.start({ name: 'booking', command: process.execPath, args: idle });
    const first = sup.pids();
    assert.ok(alive(first.broker) && alive(first.booking));
    process.kill(first.broker!, 'SIGKILL');
    const back = await waitFor(
      () => {
        const pid = sup.pids().broker;
        return pid !== undefined && pid !== first.broker && alive(pid) ? pid : undefined;
      },
      { timeoutMs: 10_000, message: 'the killed child to be started again' },
    );
    assert.notEqual(back, first.broker);
    assert.equal(sup.pids().booking, first.booking, 'the other child kept running');
    assert.equal(sup.restartsOf('broker'), 1);
    assert.match(log.join('\n'), /broker exited \(SIGKILL\) after [\d.]+ s; restarting in 100 ms \(restart 1\)/);
  } finally {
    await sup.stop();
  }
  assert.ok(
    Object.values(sup.pids()).every((p) => !alive(p)),
    'no child left after stop()',
  );
});

test('a child that keeps exiting is restarted with a doubling, capped backoff', async () => {
  const log: string[] = [];
  const sup = new Supervisor({ initialBackoffMs: 20, maxBackoffMs: 160, log: (m) => log.push(m), output: () => undefined });
  try {
    sup.start({ name: 'crashy', command: process.execPath, args: ['-e', 'process.exit(3)'] });
    await waitFor(() => sup.restartsOf('crashy') >= 6, { timeoutMs: 20_000, message: 'six restarts' });
  } finally {
    await sup.stop();
  }
  const delays = log.filter((m) => m.startsWith('crashy exited (code 3)')).map((m) => Number(/restarting in (\d+) ms/.exec(m)?.[1]));
  assert.deepEqual(delays.slice(0, 6), [20, 40, 80, 160, 160, 160]);
});

test('stop() kills a child that ignores SIGTERM after the grace period and restarts nothing', async () => {
  const log: string[] = [];
  let output = '';
  const sup = new Supervisor({
    initialBackoffMs: 10,
    stopTimeoutMs: 300,
    log: (m) => log.push(m),
    output: (_n, chunk) => {
      output += chunk;
    },
  });
  sup.start({
    name: 'stubborn',
    command: process.execPath,
    args: ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('up')"],
  });
  const pid = sup.pids().stubborn;
  // Its SIGTERM handler is installed once it prints.
  await waitFor(() => output.includes('up'), { timeoutMs: 10_000, message: 'the child to run' });
  await sup.stop();
  assert.equal(alive(pid), false);
  assert.match(log.join('\n'), /stubborn did not stop within 300 ms; killing it/);
  assert.equal(sup.restartsOf('stubborn'), 0);
  assert.deepEqual(sup.pids(), { stubborn: undefined });
});

for (const how of ['SIGINT', 'SIGTERM', 'Ctrl-C (SIGINT to the whole process group)'] as const) {
  test(`the supervisor process stops every child on ${how}, restarts none, and exits 0`, async () => {
    const proc = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'scripts/testing/supervise-fixture.ts'], {
      cwd: new URL('..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    try {
      const line = await waitFor(() => /PIDS (\{.*\})/.exec(out)?.[1], {
        timeoutMs: 20_000,
        message: `the fixture to start its children (${out})`,
      });
      const pids = Object.values(JSON.parse(line) as Record<string, number>);
      assert.equal(pids.length, 2);
      assert.ok(pids.every(alive));
      if (how === 'SIGINT' || how === 'SIGTERM') process.kill(proc.pid!, how);
      else process.kill(-proc.pid!, 'SIGINT');
      assert.equal(await exited, 0);
      assert.ok(
        pids.every((p) => !alive(p)),
        'no child left',
      );
      assert.doesNotMatch(out, /restarting/);
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
  });
}

test('a command that cannot be started is retried with backoff and logged, and stop() still ends cleanly', async () => {
  const log: string[] = [];
  const sup = new Supervisor({ initialBackoffMs: 20, maxBackoffMs: 40, log: (m) => log.push(m), output: () => undefined });
  try {
    sup.start({ name: 'missing', command: '/nonexistent/albergue-service', args: [] });
    await waitFor(() => sup.restartsOf('missing') >= 3, { timeoutMs: 10_000, message: 'three attempts' });
  } finally {
    await sup.stop();
  }
  assert.match(log.join('\n'), /missing: spawn \/nonexistent\/albergue-service ENOENT/);
  assert.match(log.join('\n'), /missing exited \(code null\).*restarting in 40 ms/);
});
