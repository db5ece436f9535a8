// snake_case JSON for the DLQ answers, with a bounded body. @albergue/messaging stores a bounded
// prefix of a raw body with its size and SHA-256; this keeps the API bounded whatever the store holds
// (an entry written before that change, or by another writer, may hold a whole body).
import { createHash } from 'node:crypto';
import type { DeadLetter, ReplayReport } from '@albergue/messaging';

/** The most of a dead letter's raw body the API ever returns (bytes of UTF-8). */
export const DLQ_BODY_PREFIX_BYTES = 4096;

export function deadLetterJson(e: DeadLetter) {
  const bytes = Buffer.from(e.body, 'utf8');
  const prefix = utf8Prefix(bytes, DLQ_BODY_PREFIX_BYTES);
  // @albergue/messaging's bodyBytes/bodySha256/bodyTruncated describe what arrived, not the stored
  // prefix (the API had read other names, so a stored 4 KiB prefix was reported as the whole body).
  // Typed as always present; an entry from another writer may still lack them.
  const facts = e as Partial<Pick<DeadLetter, 'bodyBytes' | 'bodySha256' | 'bodyTruncated'>>;
  const storedTruncated = facts.bodyTruncated === true;
  const size = facts.bodyBytes ?? bytes.length;
  const sha = facts.bodySha256 ?? (storedTruncated ? undefined : createHash('sha256').update(bytes).digest('hex'));
  return {
    id: e.id,
    topic: e.topic,
    subscriber: e.subscriber,
    body: prefix,
    body_size: size,
    ...(sha !== undefined ? { body_sha256: sha } : {}),
    body_truncated: storedTruncated || Buffer.byteLength(prefix) < size,
    reason: e.reason,
    attempts: e.attempts,
    errors: e.errors.map((x) => ({ attempt: x.attempt, at: x.at, message: x.message.slice(0, 2000) })),
    first_failure_at: e.firstFailureAt,
    last_failure_at: e.lastFailureAt,
    dead_lettered_at: e.deadLetteredAt,
  };
}

export function replayJson(r: ReplayReport) {
  return {
    topic: r.topic,
    dry_run: r.dryRun,
    replayed: r.replayed,
    duplicates: r.duplicates,
    invalid: r.invalid,
    not_found: r.notFound,
    entries: r.entries.map((x) => ({
      id: x.id,
      ...(x.subscriber !== undefined ? { subscriber: x.subscriber } : {}),
      outcome: x.outcome,
      ...(x.reason !== undefined ? { reason: x.reason.slice(0, 2000) } : {}),
      ...(x.eventId !== undefined ? { event_id: x.eventId } : {}),
      ...(x.upcastedFrom !== undefined ? { upcasted_from: x.upcastedFrom } : {}),
    })),
  };
}

/** At most `max` bytes of UTF-8, cut on a character boundary. */
export function utf8Prefix(bytes: Buffer, max: number): string {
  if (bytes.length <= max) return bytes.toString('utf8');
  let end = max;
  // Step back over continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
