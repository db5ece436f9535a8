// A small process supervisor for `npm run start:services`: each child that exits on its own is
// started again after a backoff (doubling, capped, reset once the child has run for a while), and
// every exit and restart is logged. Stopping (Ctrl-C, SIGTERM) cancels pending restarts, sends
// SIGTERM to every child (the last started first), SIGKILLs one that is still there after a grace
// period, and restarts nothing.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface SupervisorOptions {
  /** First restart delay (default 500 ms); doubles on each quick exit up to `maxBackoffMs`. */
  readonly initialBackoffMs?: number;
  /** Default 30 s. */
  readonly maxBackoffMs?: number;
  /** A child that ran this long before exiting is restarted after the initial delay again (default 30 s). */
  readonly stableAfterMs?: number;
  /** How long a child may take to stop after SIGTERM before it is killed (default 10 s). */
  readonly stopTimeoutMs?: number;
  /** Supervisor messages (default: stderr). */
  readonly log?: (message: string) => void;
  /** A child's output (default: stdout, each line prefixed with the child's name). */
  readonly output?: (name: string, chunk: string) => void;
}

interface Supervised {
  readonly spec: ChildSpec;
  process: ChildProcess | undefined;
  startedAt: number;
  quickExits: number;
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

export class Supervisor {
  private readonly children: Supervised[] = [];
  private stopping: Promise<void> | undefined;
  private readonly o: Required<Omit<SupervisorOptions, 'log' | 'output'>> & Pick<SupervisorOptions, 'log' | 'output'>;

  constructor(options: SupervisorOptions = {}) {
    this.o = { initialBackoffMs: 500, maxBackoffMs: 30_000, stableAfterMs: 30_000, stopTimeoutMs: 10_000, ...options };
  }

  /** Starts a child and keeps it running until stop(). */
  start(spec: ChildSpec): void {
    if (this.stopping) throw new Error('the supervisor is stopping');
    const s: Supervised = { spec, process: undefined, startedAt: 0, quickExits: 0, restarts: 0, timer: undefined };
    this.children.push(s);
    this.spawn(s);
  }

  /** The running processes' ids by child name (a child waiting to be restarted has none). */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.children.map((c) => [c.spec.name, c.process?.pid]));
  }

  restartsOf(name: string): number {
    return this.children.find((c) => c.spec.name === name)?.restarts ?? 0;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Stops every child and restarts none. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private spawn(s: Supervised): void {
    const child = spawn(s.spec.command, [...s.spec.args], {
      cwd: s.spec.cwd,
      env: s.spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    s.process = child;
    s.startedAt = Date.now();
    const out = this.o.output ?? ((name: string, chunk: string) => process.stdout.write(chunk.replace(/^(?=.)/gm, `${name.padEnd(9)}| `)));
    for (const stream of [child.stdout, child.stderr]) stream?.on('data', (d: Buffer) => out(s.spec.name, d.toString()));
    // A command that cannot be started (no pid) gets no `exit` event: treat it as one, with backoff.
    child.on('error', (err) => {
      this.say(`${s.spec.name}: ${err.message}`);
      if (child.pid === undefined) this.exited(s, child, null, null);
    });
    child.once('exit', (code, signal) => this.exited(s, child, code, signal));
  }

  private exited(s: Supervised, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (s.process !== child) return;
    s.process = undefined;
    const ran = Date.now() - s.startedAt;
    // A terminal's Ctrl-C reaches the children too, and their exits may be seen just before our own
    // SIGINT handler runs: decide after the handlers of this loop turn have run.
    setImmediate(() => {
      if (this.stopping) return;
      s.quickExits = ran >= this.o.stableAfterMs ? 1 : s.quickExits + 1;
      const delay = Math.min(this.o.initialBackoffMs * 2 ** (s.quickExits - 1), this.o.maxBackoffMs);
      s.restarts++;
      this.say(
        `${s.spec.name} exited (${signal ?? `code ${code}`}) after ${(ran / 1000).toFixed(1)} s; restarting in ${delay} ms (restart ${s.restarts})`,
      );
      s.timer = setTimeout(() => {
        s.timer = undefined;
        if (!this.stopping) this.spawn(s);
      }, delay);
    });
  }

  private async stopAll(): Promise<void> {
    for (const s of this.children) {
      clearTimeout(s.timer);
      s.timer = undefined;
    }
    for (const s of [...this.children].reverse()) {
      const child = s.process;
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), this.o.stopTimeoutMs);
      });
      if ((await Promise.race([gone, late])) === 'late') {
        this.say(`${s.spec.name} did not stop within ${this.o.stopTimeoutMs} ms; killing it`);
        child.kill('SIGKILL');
        await gone;
      }
      clearTimeout(timer);
    }
  }

  private say(message: string): void {
    (this.o.log ?? ((m: string) => console.error(`supervisor| ${m}`)))(message);
  }
}

/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP stop the supervisor and then this process (exit code 0). The
 * children of a terminal's Ctrl-C get the SIGINT too; nothing is restarted because the stop cancels
 * the restarts (each waits at least the initial backoff).
 */
export function stopOnSignals(supervisor: Supervisor, onStopped: () => void = () => process.exit(0)): void {
  const stop = (signal: NodeJS.Signals) => {
    if (!supervisor.isStopping) console.error(`supervisor| ${signal}: stopping every service`);
    void supervisor.stop().then(onStopped);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
}
