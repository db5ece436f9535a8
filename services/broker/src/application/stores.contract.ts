/**
 * The contract of the broker's stores (application/ports.ts, application/http-subscriptions.ts):
 * the published-message store, the channel notifier and the HTTP subscription registry, run by every
 * adapter's test file (memory, Redis). A fixture is one set of stores on a fresh, isolated state,
 * on the suite's clock; `peer()` opens a second set on the same state (another broker instance).
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { waitFor } from '@albergue/platform/testing';
import type { HttpSubscription, HttpSubscriptionRegistry } from './http-subscriptions.js';
import type { ChannelNotifier, ClaimOutcome, PublishedMessageStore } from './ports.js';

interface BrokerStores {
  readonly messages: PublishedMessageStore;
  readonly channel: ChannelNotifier;
  readonly registry: HttpSubscriptionRegistry;
}

interface BrokerStoresFixture extends BrokerStores {
  peer(): Promise<BrokerStores>;
  /** Receives what the channel announces, as a non-MQTT listener would (channel name, body); resolves once listening. */
  listen(listener: (channel: string, body: string) => void): Promise<void>;
  /** Closes the fixture, its peers and listeners, and removes what it stored. */
  close(): Promise<void>;
}

/** `now` is the clock every store of the fixture must read. */
export type BrokerStoresFactory = (now: () => number) => Promise<BrokerStoresFixture>;

const TOPIC = 'albergue.booking.v1.BookingReserved';
const STALE_MS = 30_000;

function subscription(subscriber: string, filter: string, over: Partial<HttpSubscription> = {}): HttpSubscription {
  return {
    subscriber,
    filter,
    maxAttempts: 5,
    visibilityTimeoutMs: 30_000,
    retryDelayMs: 1_000,
    maxRetryDelayMs: 60_000,
    createdAt: '2026-06-01T10:00:00.000Z',
    ...over,
  };
}

/** In code-unit order of subscriber, then filter (adapters list in any order). */
const byKey = (list: readonly HttpSubscription[]) => {
  const key = (s: HttpSubscription) => `${s.subscriber}\u0000${s.filter}`;
  return [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
};

export function brokerStoresContract(name: string, factory: BrokerStoresFactory): void {
  /** Runs `body` on a fresh fixture whose clock starts at a fixed time and moves only when told. */
  const withStores = async (body: (f: BrokerStoresFixture, clock: { advance(ms: number): void }) => Promise<void>) => {
    let now = Date.parse('2026-06-01T10:00:00.000Z');
    const f = await factory(() => now);
    try {
      await body(f, {
        advance: (ms) => {
          now += ms;
        },
      });
    } finally {
      await f.close();
    }
  };

  describe(`broker stores contract: published-message store (${name})`, () => {
    test('a claim is new, then in flight, taken over once stale; published is a duplicate for good; a released claim is new again', () =>
      withStores(async ({ messages }, clock) => {
        assert.equal(await messages.claim('e-1', TOPIC, '{}', STALE_MS), 'new');
        assert.equal(await messages.claim('e-1', TOPIC, '{}', STALE_MS), 'in-flight');
        clock.advance(STALE_MS);
        assert.equal(await messages.claim('e-1', TOPIC, '{}', STALE_MS), 'in-flight', 'exactly staleAfterMs is not yet stale');
        clock.advance(1);
        assert.equal(await messages.claim('e-1', TOPIC, '{}', STALE_MS), 'retry');
        // The takeover is a fresh claim: in flight again until it goes stale in turn.
        assert.equal(await messages.claim('e-1', TOPIC, '{}', STALE_MS), 'in-flight');
        await messages.markPublished('e-1');
        assert.equal(await messages.claim('e-1', TOPIC, '{}', STALE_MS), 'duplicate');
        clock.advance(10 * STALE_MS);
        assert.equal(await messages.claim('e-1', TOPIC, '{}', STALE_MS), 'duplicate');

        assert.equal(await messages.claim('e-2', TOPIC, '{}', STALE_MS), 'new');
        await messages.release('e-2');
        assert.equal(await messages.claim('e-2', TOPIC, '{}', STALE_MS), 'new');
      }));

    test('marking or releasing an id that was never claimed changes nothing', () =>
      withStores(async ({ messages }) => {
        await messages.markPublished('never-claimed');
        await messages.release('never-released');
        assert.equal(await messages.claim('never-claimed', TOPIC, '{}', STALE_MS), 'new');
        assert.equal(await messages.claim('never-released', TOPIC, '{}', STALE_MS), 'new');
        // A claim released and then marked (a publish that failed after a takeover) is not a duplicate.
        await messages.release('never-claimed');
        await messages.markPublished('never-claimed');
        assert.equal(await messages.claim('never-claimed', TOPIC, '{}', STALE_MS), 'new');
      }));

    test('racing claims from two instances: exactly one is new', () =>
      withStores(async (f) => {
        const peer = await f.peer();
        const outcomes = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? f.messages : peer.messages).claim('raced', TOPIC, '{}', STALE_MS)),
        );
        assert.deepEqual(outcomes.filter((o) => o === 'new').length, 1);
        assert.ok(
          outcomes.every((o): o is ClaimOutcome => o === 'new' || o === 'in-flight'),
          outcomes.join(','),
        );
        await peer.messages.markPublished('raced');
        assert.equal(await f.messages.claim('raced', TOPIC, '{}', STALE_MS), 'duplicate');
      }));

    test('ids that look alike, contain separators or glob characters, or are long, are distinct; any body is accepted', () =>
      withStores(async ({ messages }) => {
        const ids = ['a', 'a:b', 'a*', '*', 'A', 'ä', 'a\u0000b', 'a b', 'x'.repeat(200)];
        const body = `{"payload":"${'ñ€😀'.repeat(20_000)}\u0000"}`;
        for (const id of ids) assert.equal(await messages.claim(id, TOPIC, body, STALE_MS), 'new', JSON.stringify(id));
        await messages.markPublished('a*');
        for (const id of ids)
          assert.equal(await messages.claim(id, TOPIC, body, STALE_MS), id === 'a*' ? 'duplicate' : 'in-flight', JSON.stringify(id));
      }));

    test('ping answers true when the store is reachable', () =>
      withStores(async ({ messages }) => {
        assert.equal(await messages.ping(), true);
      }));
  });

  describe(`broker stores contract: channel notifier (${name})`, () => {
    test('each emitted body reaches a listener on mqtt:channel:<logical topic>, byte for byte and in order', () =>
      withStores(async (f) => {
        const got: [string, string][] = [];
        await f.listen((channel, body) => got.push([channel, body]));
        const sent: [string, string][] = [];
        const big = `{"payload":"${'ñ😀\u2028'.repeat(30_000)}"}`;
        for (let i = 0; i < 50; i++) {
          const topic = i % 2 === 0 ? TOPIC : 'albergue.payment.v1.PaymentConfirmed';
          const body = i === 7 ? big : `{"seq":${i}}`;
          sent.push([`mqtt:channel:${topic}`, body]);
          await f.channel.emit(topic, body);
        }
        await waitFor(() => got.length >= sent.length, { timeoutMs: 5_000, message: `channel messages (${got.length}/${sent.length})` });
        assert.deepEqual(got, sent);
      }));

    test('emitting with nobody listening succeeds', () =>
      withStores(async ({ channel }) => {
        await channel.emit(TOPIC, '{}');
      }));
  });

  describe(`broker stores contract: HTTP subscription registry (${name})`, () => {
    test('saved subscriptions are listed with every field, by any instance; one per subscriber and filter', () =>
      withStores(async (f) => {
        assert.deepEqual(await f.registry.list(), []);
        const saved = [
          subscription('reports', 'albergue/booking/#'),
          subscription('reports', 'albergue/payment/+/PaymentConfirmed', { maxAttempts: 1 }),
          subscription('reports.eu', 'albergue/booking/#', { createdAt: '2026-06-02T00:00:00.000Z' }),
          subscription('r', `albergue/ñ😀/${'x'.repeat(1_000)}/#`),
        ];
        for (const s of saved) await f.registry.save(s);
        const peer = await f.peer();
        assert.deepEqual(byKey(await peer.registry.list()), byKey(saved));

        // Saving the same subscriber and filter again replaces it.
        const replaced = subscription('reports', 'albergue/booking/#', { maxAttempts: 9, visibilityTimeoutMs: 5_000 });
        await peer.registry.save(replaced);
        assert.deepEqual(byKey(await f.registry.list()), byKey([replaced, ...saved.slice(1)]));
      }));

    test('remove takes exactly one subscriber and filter, and says whether there was one', () =>
      withStores(async ({ registry }) => {
        await registry.save(subscription('reports', 'albergue/booking/#'));
        await registry.save(subscription('reports', 'albergue/payment/#'));
        await registry.save(subscription('reports.eu', 'albergue/booking/#'));
        assert.equal(await registry.remove('reports', 'albergue/booking/+'), false);
        assert.equal(await registry.remove('report', 'albergue/booking/#'), false);
        assert.equal(await registry.remove('reports', 'albergue/booking/#'), true);
        assert.equal(await registry.remove('reports', 'albergue/booking/#'), false);
        assert.deepEqual(
          byKey(await registry.list()).map((s) => [s.subscriber, s.filter]),
          [
            ['reports', 'albergue/payment/#'],
            ['reports.eu', 'albergue/booking/#'],
          ],
        );
      }));
  });
}
