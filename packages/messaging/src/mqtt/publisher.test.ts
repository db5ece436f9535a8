// The publisher's PUBACK timeout, and events_published_total shared by several components of one registry.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { BookingReserved } from '@albergue/events';
import { createMetricsRegistry } from '@albergue/platform';
import { uniqueName } from '@albergue/platform/testing';
import { Counter, Gauge } from 'prom-client';
import { eventsPublishedCounter, messagingMetrics } from '../metrics.js';
import { bookingReserved, metricValue, startAedes } from '../testing/index.js';
import { toOutgoing } from './outgoing.js';
import { MqttPublisher, PubackTimeoutError } from './publisher.js';

test('a publish the broker never acknowledges rejects after pubackTimeoutMs, naming the topic and event; later publishes still work', async () => {
  const broker = await startAedes();
  // The broker sits on the first publish (no PUBACK) until released.
  const held: (() => void)[] = [];
  let holding = true;
  broker.broker.authorizePublish = (_client, _packet, callback) => {
    if (holding) held.push(() => callback(null));
    else callback(null);
  };
  const registry = createMetricsRegistry('t');
  const publisher = await MqttPublisher.connect({ url: broker.url, clientId: uniqueName('pub'), clean: true }, { service: 'test', metrics: registry, pubackTimeoutMs: 150 });
  try {
    const message = toOutgoing(bookingReserved('bk-timeout'));
    const started = performance.now();
    await assert.rejects(publisher.publish(message), (err: unknown) => {
      assert.ok(err instanceof PubackTimeoutError, String(err));
      assert.equal(err.topic, BookingReserved.topic);
      assert.equal(err.eventId, message.eventId);
      assert.equal(err.timeoutMs, 150);
      assert.match(err.message, /no PUBACK .* within 150 ms for albergue\.booking\.v1\.BookingReserved \(event_id /);
      return true;
    });
    const waited = performance.now() - started;
    assert.ok(waited >= 140 && waited < 5_000, `rejected after ${waited.toFixed(0)} ms`);
    assert.equal(await metricValue(registry, 'events_published_total'), 0, 'an unacknowledged publish is not counted');
    holding = false;
    for (const release of held.splice(0)) release();
    await publisher.publish(toOutgoing(bookingReserved('bk-after')));
    assert.equal(await metricValue(registry, 'events_published_total', { service: 'test', topic: BookingReserved.topic }), 1);
  } finally {
    holding = false;
    for (const release of held.splice(0)) release();
    await publisher.close();
    await broker.close();
  }
});

test('events_published_total is get-or-create: the publisher and another component (registered first or second) share one counter', async () => {
  // Another component (the outbox relay) registered it first, with its own (smaller) label set.
  const registry = createMetricsRegistry('t');
  const outbox = new Counter({ name: 'events_published_total', help: 'outbox', labelNames: ['topic'], registers: [registry] });
  const metrics = messagingMetrics(registry);
  assert.equal(messagingMetrics(registry), metrics, 'one set of metrics per registry');
  metrics.published.inc({ service: 'booking', topic: 'a' });
  eventsPublishedCounter(registry).inc({ service: 'booking', topic: 'a' });
  outbox.inc({ topic: 'a' });
  assert.equal(await metricValue(registry, 'events_published_total', { topic: 'a' }), 3, 'labels it does not know are dropped, not refused');

  // Messaging first, then a component that asks for the same counter by name.
  const second = createMetricsRegistry('t');
  const published = messagingMetrics(second).published;
  const shared = eventsPublishedCounter(second);
  shared.inc({ service: 'relay', topic: 'b' });
  published.inc({ service: 'relay', topic: 'b' });
  assert.equal(second.getSingleMetric('events_published_total'), shared);
  assert.equal(await metricValue(second, 'events_published_total', { service: 'relay', topic: 'b' }), 2);
  assert.match(await second.metrics(), /^events_published_total\{service="relay",topic="b"\} 2$/m);

  // A different kind of metric under that name is a clear error, not a silent mix-up.
  const third = createMetricsRegistry('t');
  new Gauge({ name: 'events_published_total', help: 'wrong', registers: [third] });
  assert.throws(() => eventsPublishedCounter(third), /events_published_total is already registered on this registry as a Gauge, not a Counter/);
});
