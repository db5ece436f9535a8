import { events, parseEnvelope, toMqttTopic } from '@albergue/events';
import type { ParseResult, Problem } from '@albergue/events';
import type { ChannelNotifier, MqttPublisher, PublishedMessageStore } from './ports.js';

export type PublishResult =
  | { readonly status: 'published' | 'duplicate'; readonly eventId: string; readonly topic: string }
  | { readonly status: 'invalid'; readonly reason: string; readonly problems: readonly Problem[] }
  | { readonly status: 'in-flight'; readonly eventId: string; readonly topic: string };

export interface PublishEventDeps {
  readonly store: PublishedMessageStore;
  readonly channel: ChannelNotifier;
  readonly mqtt: MqttPublisher;
  /** An unfinished claim older than this is taken over (the publisher crashed). */
  readonly claimStaleAfterMs?: number;
  readonly onPublished?: (topic: string) => void;
}

/**
 * Publishes one envelope received over HTTP: validates it (every problem listed), stores it once
 * under its event_id, announces it on `mqtt:channel:<topic>`, publishes it over MQTT with QoS 1,
 * then marks it published. A repeated event_id is accepted once. If a step fails the claim is
 * released and the error propagates, so the caller can retry without losing the event.
 */
export async function publishEvent(deps: PublishEventDeps, input: unknown, options: { retain?: boolean } = {}): Promise<PublishResult> {
  let parsed: ParseResult;
  try {
    parsed = parseEnvelope(input);
  } catch (err) {
    // A parser failure (e.g. nesting deeper than the stack) is bad input, a 400, never a 503.
    const reason = `envelope could not be parsed: ${(err as Error).message.slice(0, 200)}`;
    return { status: 'invalid', reason, problems: [{ path: '/', message: reason }] };
  }
  if (!parsed.ok) return { status: 'invalid', reason: parsed.reason, problems: parsed.problems };
  const event = parsed.event;
  // Published as received: on the topic of the version it was written in (not the upcast one).
  const logicalTopic = events.topicOf(event.event_type, parsed.upcastedFrom ?? event.event_version);
  const body = typeof input === 'string' ? input : JSON.stringify(input);
  const outcome = await deps.store.claim(event.event_id, logicalTopic, body, deps.claimStaleAfterMs ?? 30_000);
  if (outcome === 'duplicate' || outcome === 'in-flight') return { status: outcome, eventId: event.event_id, topic: logicalTopic };
  try {
    await deps.channel.emit(logicalTopic, body);
    await deps.mqtt.publish(toMqttTopic(logicalTopic), Buffer.from(body), { retain: options.retain ?? false });
    await deps.store.markPublished(event.event_id);
  } catch (err) {
    await deps.store.release(event.event_id).catch(() => undefined);
    throw err;
  }
  deps.onPublished?.(logicalTopic);
  return { status: 'published', eventId: event.event_id, topic: logicalTopic };
}
