// Publishing one claimed batch, one job: in per-aggregate waves, so an aggregate's next row leaves
// only after the broker acknowledged its previous one, and a failed row holds back the rest of its aggregate.
import type { Publisher } from '@albergue/messaging';
import type { ClaimedRow } from './claim.js';

/** What publishing one claimed batch came to. */
export interface Delivery {
  readonly published: ClaimedRow[];
  readonly failed: { row: ClaimedRow; error: Error }[];
  readonly heldBack: ClaimedRow[];
}

/** Publishes `rows` in waves: an aggregate's next row leaves after its previous one's PUBACK. */
export async function deliverInWaves(publisher: Publisher, rows: ClaimedRow[]): Promise<Delivery> {
  const byAggregate = new Map<string, ClaimedRow[]>();
  for (const row of rows.sort(byId)) {
    const key = `${row.aggregate_type}\u0000${row.aggregate_id}`;
    const list = byAggregate.get(key);
    if (list) list.push(row);
    else byAggregate.set(key, [row]);
  }
  const published: ClaimedRow[] = [];
  const failed: { row: ClaimedRow; error: Error }[] = [];
  const heldBack: ClaimedRow[] = [];
  // Wave k sends the k-th row of every aggregate still in good standing, so an aggregate's next
  // row leaves only after its previous one was acknowledged.
  let live = [...byAggregate.values()];
  for (let k = 0; live.length > 0; k++) {
    const wave = live.map((rows) => rows[k]!);
    const results = await publisher.publish(wave.map((r) => ({ topic: r.topic, body: r.body, eventId: r.event_id })));
    const next: ClaimedRow[][] = [];
    live.forEach((rows, i) => {
      const result = results[i];
      const row = wave[i]!;
      if (result?.ok) {
        published.push(row);
        if (rows.length > k + 1) next.push(rows);
      } else {
        failed.push({ row, error: result?.error ?? new Error('publisher returned no result') });
        heldBack.push(...rows.slice(k + 1));
      }
    });
    live = next;
  }
  return { published, failed, heldBack };
}

function byId(a: ClaimedRow, b: ClaimedRow): number {
  return a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
