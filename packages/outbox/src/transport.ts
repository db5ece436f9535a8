/** One outbox row on its way to the broker. */
export interface OutboxMessage {
  /** MQTT form of the topic (`albergue/booking/v1/BookingReserved`). */
  readonly topic: string;
  /** The envelope JSON. */
  readonly body: string;
  readonly eventId: string;
}

/** Per message: acknowledged by the broker, or why not. */
export type PublishResult = { readonly ok: true } | { readonly ok: false; readonly error: Error };

/**
 * How the relay hands events to the broker (the relay's own port).
 *
 * Contract: `publish` sends the messages in the given order with at-least-once semantics (MQTT
 * QoS 1) and resolves — never rejects — once every message is settled, with one result per
 * message at the same index. `ok` means the broker acknowledged it (PUBACK): only then may the
 * relay mark the row published. A failed message may still have reached the broker (a lost
 * PUBACK), so a retry can duplicate it; consumers dedupe by event_id.
 */
export interface OutboxTransport {
  publish(batch: readonly OutboxMessage[]): Promise<readonly PublishResult[]>;
}
