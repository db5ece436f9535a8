// Private redis-server processes for tests: one server, or a Redis Cluster of several masters, on
// free loopback ports with their data in a temporary directory that `stop()` removes.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '@albergue/platform/testing';
import { Redis } from 'ioredis';

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** The running server's process id (a new one after `restart()`); benches read its CPU time. */
  readonly pid: number;
  /** Stops the server for good and removes its data. */
  stop(): Promise<void>;
  /** Stops the server (SIGTERM = Redis' clean shutdown; SIGKILL = a crash), keeping its data. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same data (an AOF server reloads what it had). */
  restart(): Promise<void>;
}

/** Why redis-server cannot be started here (not installed), or undefined when it can. */
export function redisServerMissing(): string | undefined {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.error ? `redis-server is not installed (${r.error.message}); install Redis 7 to run this test` : undefined;
}

/**
 * A private redis-server on a free port (keys and pub/sub stay isolated). Not persistent by default;
 * `appendonly: true` runs it with AOF in a temporary directory, as production would.
 */
export async function startRedisServer(options: { appendonly?: boolean; extraArgs?: readonly string[] } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'albergue-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendonly ? 'yes' : 'no',
    ...(options.extraArgs ?? []),
  ];
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
  const kill = (signal: NodeJS.Signals = 'SIGTERM') =>
    new Promise<void>((resolve) => {
      const c = child;
      if (!c || exited(c)) return resolve();
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  const launch = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await waitFor(
        async () => {
          try {
            if (probe.status !== 'ready') await probe.connect();
            // An AOF server answers LOADING while it replays its file.
            return (await probe.ping()) === 'PONG';
          } catch {
            probe.disconnect();
            return false;
          }
        },
        { timeoutMs: 10_000, message: `redis-server on ${port}` },
      );
    } finally {
      probe.disconnect();
    }
  };
  try {
    await launch();
  } catch (err) {
    await kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    get pid() {
      return child!.pid!;
    },
    kill,
    restart: launch,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestRedisCluster {
  /** `redis+cluster://127.0.0.1:<p1>,127.0.0.1:<p2>,…`: the REDIS_URL spelling of a cluster. */
  readonly url: string;
  readonly nodes: readonly TestRedis[];
  /** Stops every node and removes their data. */
  stop(): Promise<void>;
}

const SLOTS = 16_384;

/**
 * A Redis Cluster of `masters` masters (default 3, no replicas) on free loopback ports: each node
 * runs with `cluster-enabled yes` and its own config file in a temporary directory, the slots are
 * split evenly (CLUSTER ADDSLOTSRANGE), the nodes meet, and the call returns once every node reports
 * `cluster_state:ok`.
 */
export async function startRedisCluster(options: { masters?: number } = {}): Promise<TestRedisCluster> {
  const masters = options.masters ?? 3;
  const nodes: TestRedis[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startRedisServer({
          extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${i}.conf`, '--cluster-node-timeout', '5000'],
        }),
      );
    }
    const clients = nodes.map((n) => new Redis(n.url, { maxRetriesPerRequest: 1 }));
    try {
      const per = Math.ceil(SLOTS / masters);
      await Promise.all(
        clients.map((c, i) => c.call('CLUSTER', 'ADDSLOTSRANGE', String(i * per), String(Math.min(SLOTS, (i + 1) * per) - 1))),
      );
      for (const n of nodes.slice(1)) await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(n.port));
      await waitFor(
        async () => {
          const infos = await Promise.all(clients.map((c) => c.call('CLUSTER', 'INFO') as Promise<string>));
          return infos.every((s) => s.includes('cluster_state:ok') && s.includes(`cluster_known_nodes:${masters}`));
        },
        { timeoutMs: 20_000, intervalMs: 50, message: `a ${masters}-master Redis Cluster to reach cluster_state:ok` },
      );
    } finally {
      clients.forEach((c) => c.disconnect());
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`, nodes, stop };
}
