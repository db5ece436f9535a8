/**
 * Ports of the broker's HTTP publish path. Topics are logical (`albergue.booking.v1.X`) unless
 * named mqttTopic.
 */

export type ClaimOutcome =
  /** Stored now under its event_id: publish it. */
  | 'new'
  /** Already published: accept, do not publish again. */
  | 'duplicate'
  /** Another request is publishing it right now: tell the caller to retry. */
  | 'in-flight'
  /** Stored earlier but its publish never completed (a crash): publish it now. */
  | 'retry';

/**
 * `mqtt:message:<event_id>`: every envelope published over HTTP, stored once under its event_id
 * (the Redis message id), kept for the retention period.
 */
export interface PublishedMessageStore {
  /** Atomically stores the message unless its event_id is known; a stale unfinished claim (older than `staleAfterMs`) is taken over. */
  claim(eventId: string, topic: string, body: string, staleAfterMs: number): Promise<ClaimOutcome>;
  /** Marks the message as published (after the broker took it). */
  markPublished(eventId: string): Promise<void>;
  /** Forgets a claim whose publish failed, so the caller's retry publishes it. */
  release(eventId: string): Promise<void>;
  /** Whether the store can be reached (readiness). */
  ping(): Promise<boolean>;
}

/** `mqtt:channel:<topic>`: a pub/sub announcement of each published envelope, for non-MQTT listeners. */
export interface ChannelNotifier {
  emit(topic: string, body: string): Promise<void>;
}

/** Publishes into the MQTT broker with QoS 1; resolves once the broker has taken the message. */
export interface MqttPublisher {
  publish(mqttTopic: string, payload: Buffer, options: { retain: boolean }): Promise<void>;
}
