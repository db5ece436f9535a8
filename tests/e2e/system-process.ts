// A whole system started by an end-to-end test as users start it (built JS in its own process group),
// and stopped with a signal, reporting any process of the group left behind.
import { spawn, spawnSync } from 'node:child_process';
import { waitFor } from '@albergue/platform/testing';

const root = new URL('../..', import.meta.url).pathname;

export interface SystemProcess {
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** The exit code once it exited (null when killed by a signal), else undefined. */
  exitCode(): number | null | undefined;
  /** Waits until the output includes `line` (or it exits: then it throws with the output). */
  waitForLine(line: string, timeoutMs: number): Promise<void>;
  /**
   * Sends `signal` to the process (or, `group`, to its whole group as a terminal's Ctrl-C does), waits
   * for its exit, then for its group to be empty; SIGKILLs whatever is still there. Never throws.
   */
  stop(signal: 'SIGINT' | 'SIGTERM', o: { group: boolean; timeoutMs: number }): Promise<{ stopped: boolean; left: number[] }>;
}

function processesInGroup(pgid: number): number[] {
  const ps = spawnSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' });
  return ps.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
}

/** Signals a process or group; false when it is gone already. */
function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    return process.kill(pid, sig);
  } catch {
    return false;
  }
}

/** Runs `node <script>` from the repository root, detached into its own process group. */
export function spawnSystem(script: string, env: NodeJS.ProcessEnv): SystemProcess {
  const child = spawn(process.execPath, [script], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let code: number | null | undefined;
  child.once('exit', (c) => (code = c));
  const pgid = child.pid!;
  return {
    output: () => out,
    exitCode: () => code,
    async waitForLine(line, timeoutMs) {
      await waitFor(() => out.includes(line) || code !== undefined, {
        timeoutMs,
        message: `${script} to print "${line}"; output so far:\n${out}`,
      });
      if (!out.includes(line)) throw new Error(`${script} exited (${code}) before printing "${line}":\n${out}`);
    },
    async stop(sig, o) {
      signal(o.group ? -pgid : pgid, sig);
      const stopped = await waitFor(() => code !== undefined, { timeoutMs: o.timeoutMs }).then(
        () => true,
        () => false,
      );
      const left = stopped
        ? await waitFor(() => processesInGroup(pgid).length === 0, { timeoutMs: 5_000 }).then(
            () => [],
            () => processesInGroup(pgid),
          )
        : processesInGroup(pgid);
      if (!stopped || left.length > 0) signal(-pgid, 'SIGKILL');
      return { stopped, left };
    },
  };
}
