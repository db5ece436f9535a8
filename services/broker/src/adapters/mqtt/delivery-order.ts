// Makes Aedes 1.2 deliver every QoS 1 message it acknowledged to every live matching subscription,
// in each publisher's order. Aedes is not edited (no patch-package here): the broker instance, its
// clients and its emitter are wrapped right after creation. Why, in short (docs/architecture.md
// "Broker decisions" has the long version):
//
// - Aedes numbers each packet (`brokerCounter`, per broker id) when it enters `broker.publish`, then
//   stores it for persistent sessions (`outgoingEnqueueCombi`) and only then emits it. On Redis that
//   store takes one round trip per persistent subscriber, so packets of different publishers overtake
//   each other. Each client then drops any packet whose counter is not above the last one it got from
//   that broker (`dedupe` in lib/client.js, meant to drop the second copy of a packet matching two of
//   its subscriptions): the overtaken packets were never sent live — lost for a clean session, left
//   in the `outgoing:` queue until the next reconnect for a persistent one.
// - Here the counter comparison is replaced by an exact one: a client skips a packet only if it has
//   just been given that very packet (same broker id and counter) through another subscription.
// - And a publisher's packets are emitted in the order they arrived, even when a later one (a topic
//   without persistent subscribers) is stored sooner than an earlier one.

import { RecentKeys } from './recent-keys.js';

/** The parts of Aedes 1.2 this module relies on (checked by delivery-order.test.ts). */
interface AedesPacket {
  brokerId?: string | null;
  brokerCounter?: number | string;
  clientId?: string;
  qos?: number;
}
type Deliver = (packet: AedesPacket, cb: () => void) => void;
interface AedesClient {
  id: string | null;
  duplicates: Record<string, number>;
  deliverQoS: Deliver;
  deliver0: Deliver;
}
interface Emitter {
  emit(packet: AedesPacket, cb?: (err?: unknown) => void): unknown;
}
interface Persistence {
  outgoingEnqueueCombi(subs: readonly { clientId: string }[], packet: AedesPacket): Promise<void>;
}
interface AedesInternals {
  id: string;
  persistence: Persistence;
  counter: number;
  mq: Emitter;
  handle(conn: unknown, req?: unknown): AedesClient;
  publish(packet: AedesPacket, client?: unknown, done?: (err?: unknown) => void): void;
}

/** How many recently delivered packets each client remembers to skip a second copy. */
const RECENT_PER_CLIENT = 1024;

export function preserveDeliveryOrder(broker: unknown): void {
  const aedes = broker as AedesInternals;
  exactDuplicatesOnly(aedes);
  emitInPublisherOrder(aedes);
  queueOncePerClient(aedes.persistence);
}

/**
 * A persistent client whose subscriptions overlap (`albergue/#` and `albergue/booking/#`) matches a
 * packet once per subscription, and Aedes queued the packet that many times for it. It is delivered
 * (and acknowledged) once, so the in-memory persistence kept the other copies until the next
 * reconnect (growing while connected, then sent again), and the Redis one kept the packet's counter
 * above zero for ever. One queued copy per client.
 */
function queueOncePerClient(persistence: Persistence): void {
  const enqueue = persistence.outgoingEnqueueCombi.bind(persistence);
  persistence.outgoingEnqueueCombi = (subs, packet) => {
    if (subs.length < 2) return enqueue(subs, packet);
    const seen = new Set<string>();
    return enqueue(
      subs.filter((s) => !seen.has(s.clientId) && seen.add(s.clientId)),
      packet,
    );
  };
}

/**
 * Every client Aedes creates skips only exact duplicates: a packet it was given moments ago (the same
 * packet reaching it through a second matching subscription). The per-broker "counter must grow"
 * check is neutralised by resetting the client's counter for that broker before Aedes looks at it.
 */
function exactDuplicatesOnly(aedes: AedesInternals): void {
  const handle = aedes.handle.bind(aedes);
  aedes.handle = (conn, req) => {
    const client = handle(conn, req);
    const recent = new RecentKeys(RECENT_PER_CLIENT);
    const admit = (packet: AedesPacket): boolean => {
      const id = packet.brokerId;
      if (!id) return true; // retained messages on SUBSCRIBE carry no broker id; Aedes never dedupes them
      const key = `${id}\u0000${String(packet.brokerCounter)}`;
      if (recent.has(key)) return false;
      recent.add(key);
      // -Infinity is truthy, so Aedes' `(duplicates[id] || 0) < counter` holds for any counter.
      client.duplicates[id] = -Infinity;
      return true;
    };
    const deliver0 = client.deliver0;
    const deliverQoS = client.deliverQoS;
    // Subscriptions capture these functions when they are made, so they must be replaced now.
    client.deliver0 = (packet, cb) => {
      if (!admit(packet)) return void setImmediate(cb);
      deliver0(packet, cb);
    };
    client.deliverQoS = (packet, cb) => {
      // Aedes hands a QoS 0 packet on to `client.deliver0` (the wrapper above), which admits it.
      if (packet.qos === 0) return client.deliver0(packet, cb);
      if (!admit(packet)) return void setImmediate(cb);
      deliverQoS(packet, cb);
    };
    return client;
  };
}

interface Lane {
  readonly clientId: string | null;
  /** Counters of this publisher's packets that entered `publish` and are not emitted yet, oldest first. */
  readonly order: number[];
  /** Emissions that are ready but wait for an older packet of the same publisher. */
  readonly ready: Map<number, () => void>;
}

/**
 * A publisher's packets are emitted in the order they entered `broker.publish`. A packet is held only
 * while an older packet of the same publisher is still being stored; one that fails or is refused
 * before emission releases the ones behind it. Publishes without a client (the broker's own, wills,
 * the HTTP API) and packets that already carry a counter are not reordered.
 */
function emitInPublisherOrder(aedes: AedesInternals): void {
  const lanes = new WeakMap<object, Lane>();
  const inFlight = new Map<number, Lane>();

  const drain = (lane: Lane) => {
    while (lane.order.length > 0) {
      const head = lane.order[0]!;
      const go = lane.ready.get(head);
      if (!go) return;
      lane.order.shift();
      lane.ready.delete(head);
      inFlight.delete(head);
      go();
    }
  };
  const settle = (counter: number) => {
    const lane = inFlight.get(counter);
    if (!lane || lane.ready.has(counter)) return;
    inFlight.delete(counter);
    const i = lane.order.indexOf(counter);
    if (i >= 0) lane.order.splice(i, 1);
    drain(lane);
  };

  const publish = aedes.publish.bind(aedes);
  aedes.publish = (packet, client, done) => {
    if (typeof client === 'function' || client === null || typeof client !== 'object' || packet.brokerCounter !== undefined) {
      return publish(packet, client, done);
    }
    let lane = lanes.get(client);
    if (!lane) lanes.set(client, (lane = { clientId: (client as AedesClient).id, order: [], ready: new Map() }));
    // Aedes numbers the packet synchronously inside publish(): it gets the next counter.
    const counter = aedes.counter + 1;
    lane.order.push(counter);
    inFlight.set(counter, lane);
    publish(packet, client, (err) => {
      settle(counter);
      done?.(err);
    });
    // Refused before a packet was made (e.g. too many topic levels): nothing to wait for.
    if (aedes.counter < counter) settle(counter);
  };

  const mq = aedes.mq;
  const emit = mq.emit.bind(mq);
  mq.emit = (packet, cb) => {
    const counter = typeof packet.brokerCounter === 'number' ? packet.brokerCounter : NaN;
    const lane = packet.brokerId === aedes.id ? inFlight.get(counter) : undefined;
    if (!lane || lane.clientId !== (packet.clientId ?? null)) return emit(packet, cb);
    lane.ready.set(counter, () => void emit(packet, cb));
    drain(lane);
    return mq;
  };
}
