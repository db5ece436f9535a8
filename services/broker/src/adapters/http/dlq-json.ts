// snake_case JSON for the DLQ answers, with a bounded body. @albergue/messaging stores a bounded
// prefix of a raw body with its size and SHA-256; this keeps the API bounded whatever the store holds
// (an entry written before that change, or by another writer, may hold a whole body).
import type { DeadLetter, ReplayReport } from '@albergue/messaging';

/** The most of a dead letter's raw body the API ever returns (bytes of UTF-8). */
const DLQ_BODY_PREFIX_BYTES = 4096;

export function deadLetterJson(e: DeadLetter) {
  // The store keeps at most a bounded prefix plus the full body's size and SHA-256; an entry kept
  // whole (an envelope dead-lettered from the ledger) is cut here, so no answer is ever larger.
  const prefix = utf8Prefix(Buffer.from(e.body, 'utf8'), DLQ_BODY_PREFIX_BYTES);
  return {
    id: e.id,
    topic: e.topic,
    subscriber: e.subscriber,
    body: prefix,
    body_size: e.bodyBytes,
    body_sha256: e.bodySha256,
    body_truncated: e.bodyTruncated || Buffer.byteLength(prefix) < e.bodyBytes,
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
function utf8Prefix(bytes: Buffer, max: number): string {
  if (bytes.length <= max) return bytes.toString('utf8');
  let end = max;
  // Step back over continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
