// Test support for this package: a real in-process MQTT broker, a cuttable TCP link to it, a
// subscriber that records what arrives, throwaway Postgres databases and sample events.
import { createServer, Socket } from 'node:net';
import type { Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { BookingReserved, newEnvelope } from '@albergue/events';
import type { EventEnvelope } from '@albergue/events';
import { freePort, uniqueName } from '@albergue/platform/testing';

const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh database on the local Postgres; `drop()` removes it. */
export async function createTestDatabase(prefix = 'outbox_test'): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = uniqueName(prefix).toLowerCase();
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

async function listen(server: Server, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Aedes (MQTT 3.1.1, in memory) on a free loopback port. */
export async function startBroker(): Promise<{ url: string; port: number; close: () => Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  const sockets = trackSockets(server);
  const port = await freePort();
  await listen(server, port);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    close: async () => {
      await closeServer(server, sockets);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

/** A TCP proxy to `targetPort`: `cut()` drops every connection and refuses new ones until `restore()`. */
export async function startProxy(
  targetPort: number,
): Promise<{ url: string; cut: () => Promise<void>; restore: () => Promise<void>; close: () => Promise<void> }> {
  const port = await freePort();
  let server: Server | undefined;
  let sockets = new Set<Socket>();
  const open = async () => {
    const s = createServer((inbound) => {
      const outbound = new Socket();
      outbound.connect(targetPort, '127.0.0.1');
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('error', () => outbound.destroy());
      outbound.on('error', () => inbound.destroy());
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    sockets = trackSockets(s);
    await listen(s, port);
    server = s;
  };
  const cut = async () => {
    if (server) await closeServer(server, sockets);
    server = undefined;
  };
  await open();
  return { url: `mqtt://127.0.0.1:${port}`, cut, restore: open, close: cut };
}

/** Subscribes to every Albergue topic and records each envelope received, in arrival order. */
export class RecordingSubscriber {
  readonly received: EventEnvelope[] = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (_topic, payload) => {
      this.received.push(JSON.parse(payload.toString()) as EventEnvelope);
    });
  }

  static async connect(url: string, topic = 'albergue/#'): Promise<RecordingSubscriber> {
    const client = await mqtt.connectAsync(url, { clientId: uniqueName('sub'), reconnectPeriod: 200 });
    const sub = new RecordingSubscriber(client);
    await client.subscribeAsync(topic, { qos: 1 });
    return sub;
  }

  ids(): string[] {
    return this.received.map((e) => e.event_id);
  }

  has(eventId: string): boolean {
    return this.received.some((e) => e.event_id === eventId);
  }

  distinct(): number {
    return new Set(this.ids()).size;
  }

  /** Event ids per aggregate in the order of their first arrival. */
  orderByAggregate(): Map<string, string[]> {
    const seen = new Set<string>();
    const out = new Map<string, string[]>();
    for (const e of this.received) {
      if (seen.has(e.event_id)) continue;
      seen.add(e.event_id);
      const list = out.get(e.aggregate_id) ?? [];
      list.push(e.event_id);
      out.set(e.aggregate_id, list);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

let counter = 0;

/** A valid BookingReserved for `bookingId` (its aggregate). */
export function bookingEvent(bookingId: string): EventEnvelope {
  counter++;
  return newEnvelope(BookingReserved, {
    booking_id: bookingId,
    albergue_id: 'alb-1',
    guest: { guest_id: `g-${counter}`, name: 'Ana Peregrina', email: 'ana@example.org', locale: 'es' },
    check_in: '2025-06-01',
    check_out: '2025-06-03',
    beds: 1,
    total: { amount_minor: 3000, currency: 'EUR' },
    hold_expires_at: '2025-05-30T12:00:00.000Z',
  });
}
