// Events and counters for messaging tests (reusable by other packages' tests).
import { BookingReserved, newEnvelope } from '@albergue/events';
import { SAMPLE_PAYLOADS } from '@albergue/events/node';
import type { EnvelopeOf, EventMeta } from '@albergue/events';

/** A valid BookingReserved; `padTo` grows free-text fields so the JSON is about that many bytes (≤ ~1,000). */
export function bookingReserved(bookingId = 'bk-1', meta: EventMeta = {}, padTo = 0): EnvelopeOf<typeof BookingReserved> {
  const payload = { ...SAMPLE_PAYLOADS.BookingReserved, booking_id: bookingId, guest: { ...SAMPLE_PAYLOADS.BookingReserved.guest } };
  if (padTo > 0) {
    let missing = padTo - JSON.stringify(newEnvelope(BookingReserved, payload, meta)).length;
    const grow = (value: string, max: number): string => {
      const n = Math.max(0, Math.min(missing, max - value.length));
      missing -= n;
      return value + 'x'.repeat(n);
    };
    payload.guest.name = grow(payload.guest.name, 200);
    payload.albergue_id = grow(payload.albergue_id, 128);
    payload.guest.guest_id = grow(payload.guest.guest_id, 128);
  }
  return newEnvelope(BookingReserved, payload, meta);
}

/** Counts effects by key: "effect once" means count(key) === 1 for every key. */
export class EffectCounter {
  private readonly counts = new Map<string, number>();

  add(key: string): number {
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n;
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Distinct keys seen. */
  get size(): number {
    return this.counts.size;
  }

  /** Sum over all keys. */
  get total(): number {
    let t = 0;
    for (const n of this.counts.values()) t += n;
    return t;
  }

  /** Keys seen more than once. */
  repeated(): string[] {
    return [...this.counts].filter(([, n]) => n > 1).map(([k]) => k);
  }
}

/**
 * The value of a metric in a prom-client registry for the given labels, summed (0 when absent).
 * Histogram series are read as `<name>_count` / `<name>_sum`.
 */
export async function metricValue(
  registry: {
    getSingleMetric(
      name: string,
    ): { get(): Promise<{ values: { labels: Record<string, unknown>; value: number; metricName?: string }[] }> } | undefined;
  },
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const series = /_(count|sum)$/.exec(name);
  const metric = registry.getSingleMetric(name) ?? (series ? registry.getSingleMetric(name.slice(0, -series[0].length)) : undefined);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => v.metricName === undefined || v.metricName === name)
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((sum, v) => sum + v.value, 0);
}
