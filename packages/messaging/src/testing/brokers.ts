// Brokers for tests and benchmarks: an in-process Aedes and a Mosquitto started with the project's
// configuration (limits that never drop QoS 1 messages), each on its own loopback port.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { freePort, waitFor } from '@albergue/platform/testing';

export interface TestBroker {
  readonly name: 'aedes' | 'mosquitto';
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface TestAedes extends TestBroker {
  readonly broker: Aedes;
  /** Drops every client connection (as a broker restart would, minus the session loss). */
  disconnectAll(): void;
}

export async function startAedes(): Promise<TestAedes> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  return {
    name: 'aedes',
    broker,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    disconnectAll() {
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

/**
 * The Mosquitto configuration the project is tested with: QoS 1 never dropped under load
 * (stock max_queued_messages / max_inflight_messages dropped 2–12% here), loopback only.
 */
export function mosquittoConfig(port: number): string {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'max_queued_messages 0',
    'max_inflight_messages 0',
    'max_queued_bytes 0',
    'log_type error',
    'log_dest stderr',
    '',
  ].join('\n');
}

const MOSQUITTO_PATHS = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/local/bin/mosquitto'];

/** The mosquitto binary, or undefined when it is not installed. */
export function mosquittoPath(): string | undefined {
  return MOSQUITTO_PATHS.find((p) => existsSync(p));
}

/** Starts `mosquitto -c <project config>` on a free loopback port; `close()` kills it and removes the config. */
export async function startMosquitto(): Promise<TestBroker> {
  const bin = mosquittoPath();
  if (!bin) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'albergue-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, mosquittoConfig(port));
  const child: ChildProcess = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  try {
    await waitFor(
      async () => {
        if (exited) throw new Error(`mosquitto exited: ${stderr.trim()}`);
        return canConnect(port);
      },
      { timeoutMs: 5_000, message: `mosquitto listening on ${port}` },
    );
  } catch (err) {
    child.kill('SIGKILL');
    await exit;
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    name: 'mosquitto',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      if (!exited) child.kill('SIGTERM');
      await exit;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export type BrokerKind = 'aedes' | 'mosquitto';

/** The brokers available here: Aedes always, Mosquitto when installed. */
export function brokerKinds(): BrokerKind[] {
  return mosquittoPath() ? ['aedes', 'mosquitto'] : ['aedes'];
}

export async function startBroker(kind: BrokerKind): Promise<TestBroker> {
  return kind === 'aedes' ? startAedes() : startMosquitto();
}
