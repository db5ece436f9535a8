/**
 * Publishing events to the transport (MQTT QoS 1). Used by the outbox relay and by handlers that
 * publish the events they emit directly.
 *
 * Contract:
 * - `publish` resolves only after the broker acknowledged the message (PUBACK): the event is then
 *   the broker's responsibility. It rejects if that cannot be confirmed; the caller retries (the
 *   event_id makes a repeat harmless: consumers deduplicate by it).
 * - `publishMany` keeps up to `window` messages in flight and resolves when every one is
 *   acknowledged; on failure it rejects after the in-flight ones settled, listing how many made it.
 *   Messages of one call are handed to the broker in input order (one connection, QoS 1), so an
 *   aggregate's events stay in order when they are published by one caller.
 * - Topics are logical (`albergue.booking.v1.BookingReserved`); the adapter maps them to its form.
 */
export interface OutgoingMessage {
  /** Logical topic. */
  readonly topic: string;
  readonly eventId: string;
  /** The envelope JSON. */
  readonly body: string | Buffer;
}

export interface PublishManyOptions {
  /** Messages in flight at once (default 100). */
  readonly window?: number;
}

export interface Publisher {
  publish(message: OutgoingMessage): Promise<void>;
  publishMany(messages: readonly OutgoingMessage[], options?: PublishManyOptions): Promise<void>;
  close(): Promise<void>;
}

export class PublishManyError extends Error {
  constructor(readonly published: number, readonly failed: number, readonly firstError: Error) {
    super(`${failed} of ${published + failed} messages were not acknowledged: ${firstError.message}`);
    this.name = 'PublishManyError';
  }
}
