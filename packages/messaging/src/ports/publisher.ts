/**
 * Publishing events to the broker (MQTT QoS 1): the one port of the outbox relay, of handlers that
 * publish what they emit directly, and of the benchmarks.
 *
 * Contract: `publish` sends the messages in the given order with at-least-once semantics and
 * resolves — never rejects — once every message is settled, with one result per message at the same
 * index. `ok` means the broker acknowledged it (PUBACK): only then is the event the broker's
 * responsibility (the outbox marks the row published). A failed message may still have reached the
 * broker (a lost PUBACK), so a retry can duplicate it; consumers dedupe by event_id. Batches of
 * concurrent calls leave in call order (a later call queues behind an earlier one), so an
 * aggregate's events stay in order when one caller publishes them.
 */
export interface OutgoingMessage {
  /** Logical topic (`albergue.booking.v1.BookingReserved`); the adapter maps it to its own form. */
  readonly topic: string;
  readonly eventId: string;
  /** The envelope JSON. */
  readonly body: string | Buffer;
}

/** Per message: acknowledged by the broker, or why not. */
export type PublishResult = { readonly ok: true } | { readonly ok: false; readonly error: Error };

export interface Publisher {
  publish(batch: readonly OutgoingMessage[]): Promise<readonly PublishResult[]>;
}

export class PublishManyError extends Error {
  constructor(
    readonly published: number,
    readonly failed: number,
    readonly firstError: Error,
  ) {
    super(`${failed} of ${published + failed} messages were not acknowledged: ${firstError.message}`);
    this.name = 'PublishManyError';
  }
}

/** Publishes `messages` and rejects with a PublishManyError unless the broker acknowledged every one. */
export async function publishAll(publisher: Publisher, messages: readonly OutgoingMessage[]): Promise<void> {
  const results = await publisher.publish(messages);
  const failures = results.filter((r): r is Extract<PublishResult, { ok: false }> => !r.ok);
  const first = failures[0];
  if (first) throw new PublishManyError(results.length - failures.length, failures.length, first.error);
}
