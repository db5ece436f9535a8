/**
 * Building blocks of dead-letter entries shared by both ledger adapters, the MQTT subscriber and the
 * broker's HTTP paths: bounded bodies, ids derived from the bytes, and dead-letter notifications.
 */
import { createHash } from 'node:crypto';
import type { DeadLetter, DeadLetterInput, DeadLetterNotice } from '../ports/ledger.js';

/** Default prefix of a raw body kept in a DLQ entry: the rest is only described (size, SHA-256). */
export const DEFAULT_MAX_DLQ_BODY_BYTES = 4 * 1024;

const bytesOf = (body: string | Uint8Array): Buffer =>
  typeof body === 'string'
    ? Buffer.from(body, 'utf8')
    : Buffer.isBuffer(body)
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength);

/**
 * The body fields of a DLQ entry: at most `maxBytes` of the body (cut on a UTF-8 boundary, so the
 * prefix is valid text), with the full size and SHA-256 of what was received.
 */
export function boundedBody(
  body: string | Uint8Array,
  maxBytes = DEFAULT_MAX_DLQ_BODY_BYTES,
): Pick<DeadLetter, 'body' | 'bodyBytes' | 'bodySha256' | 'bodyTruncated'> {
  const bytes = bytesOf(body);
  const bodySha256 = createHash('sha256').update(bytes).digest('hex');
  if (bytes.length <= maxBytes) {
    return { body: typeof body === 'string' ? body : bytes.toString('utf8'), bodyBytes: bytes.length, bodySha256, bodyTruncated: false };
  }
  let end = Math.max(0, maxBytes);
  // Back off continuation bytes (10xxxxxx) so no character is cut in half.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return { body: bytes.subarray(0, end).toString('utf8'), bodyBytes: bytes.length, bodySha256, bodyTruncated: true };
}

/**
 * The DLQ id of a message that is not a valid envelope (so has no event_id): derived from the
 * subscriber and the bytes received, so the same bytes redelivered (an ack lost on a reconnect, a
 * publisher retrying) give the same entry, not a second one — on every path (MQTT, HTTP).
 */
export function deadLetterId(subscriber: string, body: string | Uint8Array): string {
  return `invalid-${createHash('sha256').update(subscriber).update('\n').update(bytesOf(body)).digest('hex').slice(0, 32)}`;
}

/** A DLQ entry for a message that never entered the ledger (invalid envelope, unrecordable, …). */
export function rejectedMessage(args: {
  readonly subscriber: string;
  readonly topic: string;
  readonly body: string | Uint8Array;
  readonly problems: readonly string[];
  readonly reason?: 'invalid_envelope' | 'unrecordable';
  /** The event_id when the envelope was valid (unrecordable); else the id is derived from the bytes. */
  readonly id?: string;
  readonly at?: Date;
}): DeadLetterInput {
  const now = (args.at ?? new Date()).toISOString();
  return {
    id: args.id ?? deadLetterId(args.subscriber, args.body),
    topic: args.topic,
    subscriber: args.subscriber,
    body: args.body,
    reason: args.reason ?? 'invalid_envelope',
    attempts: 0,
    errors: args.problems.map((message) => ({ attempt: 0, at: now, message })),
    firstFailureAt: now,
    lastFailureAt: now,
    deadLetteredAt: now,
  };
}

/** A stored entry as callers see it: the body fields filled in for entries written before they existed. */
export function completeDeadLetter(e: Omit<DeadLetter, 'bodyBytes' | 'bodySha256' | 'bodyTruncated'> & Partial<DeadLetter>): DeadLetter {
  if (e.bodySha256 !== undefined && e.bodyBytes !== undefined && e.bodyTruncated !== undefined) return e as DeadLetter;
  const b = boundedBody(e.body, Number.MAX_SAFE_INTEGER);
  return { ...e, bodyBytes: e.bodyBytes ?? b.bodyBytes, bodySha256: e.bodySha256 ?? b.bodySha256, bodyTruncated: e.bodyTruncated ?? false };
}

/** Listeners of dead letters written through one store (shared by a ledger and its DLQ store). */
export class DeadLetterEvents {
  private readonly listeners = new Set<(n: DeadLetterNotice) => void>();

  on(listener: (n: DeadLetterNotice) => void): () => void {
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const l = (n: DeadLetterNotice) => listener(n);
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  emit(n: DeadLetterNotice): void {
    for (const l of this.listeners) {
      try {
        l(n);
      } catch (err) {
        // A listener (a metric) must never break the write that was already done; say so, though.
        process.emitWarning(`a dead-letter listener failed: ${(err as Error).message}`, 'DeadLetterListenerWarning');
      }
    }
  }
}
