/**
 * Dead-letter operations as a library: the broker's admin HTTP API and the CLI call these.
 * Replay re-validates each entry against the current schemas (upcasting old versions) and hands
 * valid ones back to the ledger of their subscriber with a fresh attempt budget.
 */
import type { ParseOptions, ParseResult } from '@albergue/events';
import { parseEnvelope } from '@albergue/events';
import type { DeadLetter, DeadLetterStore, DeliveryLedger } from '../ports/ledger.js';

export interface DlqOperationsDeps {
  readonly deadLetters: DeadLetterStore;
  /** The ledger replayed entries are recorded into. */
  readonly ledger: DeliveryLedger;
  /** Envelope validation; parseEnvelope of @albergue/events by default. */
  readonly parse?: (body: string, options: ParseOptions) => ParseResult;
}

export interface DlqPage {
  readonly topic: string;
  readonly offset: number;
  readonly limit: number;
  /** Entries of the topic in all. */
  readonly total: number;
  readonly entries: DeadLetter[];
}

export type ReplayOutcome =
  /** Valid: recorded into the ledger with a fresh attempt budget and removed from the DLQ. */
  | 'replayed'
  /** Dry run: would be replayed. */
  | 'would-replay'
  /** Already pending in the ledger or processed within the dedup window: removed from the DLQ (not in a dry run). */
  | 'duplicate'
  /** Dry run: would be removed as a duplicate. */
  | 'would-skip-duplicate'
  /** Still not a valid envelope for this topic: stays in the DLQ; `reason` says why. */
  | 'invalid'
  /** No entry with this id (only when ids were given). */
  | 'not-found';

export interface ReplayEntryResult {
  readonly id: string;
  /** Absent for ids that were not found. */
  readonly subscriber?: string;
  readonly outcome: ReplayOutcome;
  /** Why the entry is invalid. */
  readonly reason?: string;
  /** The event_id the entry is (re)recorded under. */
  readonly eventId?: string;
  /** The envelope version it was stored at, when the current consumer reads a newer one. */
  readonly upcastedFrom?: number;
}

export interface ReplayReport {
  readonly topic: string;
  readonly dryRun: boolean;
  readonly replayed: number;
  readonly duplicates: number;
  readonly invalid: number;
  readonly notFound: number;
  readonly entries: ReplayEntryResult[];
}

export interface ReplayOptions {
  /** Entry ids (event ids); every entry of the topic when omitted. */
  readonly ids?: readonly string[];
  /** Only this subscriber's entries. */
  readonly subscriber?: string;
  /** Report what would happen; change nothing. */
  readonly dryRun?: boolean;
}

const PAGE = 500;

export class DlqOperations {
  private readonly parse: (body: string, options: ParseOptions) => ParseResult;

  constructor(private readonly deps: DlqOperationsDeps) {
    this.parse = deps.parse ?? parseEnvelope;
  }

  /** Topics with dead letters and how many each holds. */
  topics(): Promise<{ topic: string; depth: number }[]> {
    return this.deps.deadLetters.topics();
  }

  /** One page of a topic's entries, oldest first. */
  async read(topic: string, options: { offset?: number; limit?: number } = {}): Promise<DlqPage> {
    const offset = Math.max(0, Math.floor(options.offset ?? 0));
    const limit = Math.min(1_000, Math.max(1, Math.floor(options.limit ?? 50)));
    const [entries, depths] = await Promise.all([this.deps.deadLetters.list(topic, { offset, limit }), this.deps.deadLetters.topics()]);
    return { topic, offset, limit, total: depths.find((t) => t.topic === topic)?.depth ?? 0, entries };
  }

  get(topic: string, id: string, subscriber?: string): Promise<DeadLetter | undefined> {
    return this.deps.deadLetters.get(topic, id, subscriber);
  }

  /**
   * Re-validates entries with the current schemas and, unless dryRun, records the valid ones into
   * the ledger of their subscriber (fresh attempt budget, original body) and removes them from the
   * DLQ. Invalid entries stay, with the reason reported.
   */
  async replay(topic: string, options: ReplayOptions = {}): Promise<ReplayReport> {
    const dryRun = options.dryRun ?? false;
    const entries = await this.select(topic, options);
    const results: ReplayEntryResult[] = [];
    for (const id of options.ids ?? []) {
      if (!entries.some((e) => e.id === id)) results.push({ id, outcome: 'not-found' });
    }

    // Valid entries grouped by subscriber: one ledger batch each.
    const valid = new Map<string, { entry: DeadLetter; eventId: string; upcastedFrom?: number }[]>();
    const checked: (ReplayEntryResult | { entry: DeadLetter })[] = [];
    for (const entry of entries) {
      if (entry.bodyTruncated) {
        checked.push({
          id: entry.id,
          subscriber: entry.subscriber,
          outcome: 'invalid',
          reason: `only the first ${Buffer.byteLength(entry.body)} of ${entry.bodyBytes} bytes were kept: not replayable`,
        });
        continue;
      }
      const parsed = this.parse(entry.body, { topic });
      if (!parsed.ok) {
        checked.push({ id: entry.id, subscriber: entry.subscriber, outcome: 'invalid', reason: parsed.reason });
        continue;
      }
      const item = {
        entry,
        eventId: parsed.event.event_id,
        ...(parsed.upcastedFrom !== undefined ? { upcastedFrom: parsed.upcastedFrom } : {}),
      };
      const list = valid.get(entry.subscriber) ?? [];
      list.push(item);
      valid.set(entry.subscriber, list);
      checked.push({ entry });
    }

    const outcomeOf = new Map<DeadLetter, ReplayEntryResult>();
    for (const [subscriber, items] of valid) {
      let outcomes: ReplayOutcome[];
      if (dryRun) {
        // Detects a duplicate processed within the dedup window; one still pending in the ledger
        // shows as would-replay here and as duplicate in the real replay.
        outcomes = await Promise.all(
          items.map(async (it) =>
            (await this.deps.ledger.isProcessed(subscriber, topic, it.eventId)) ? 'would-skip-duplicate' : 'would-replay',
          ),
        );
      } else {
        const recorded = await this.deps.ledger.record(
          subscriber,
          items.map((it) => ({ topic, eventId: it.eventId, body: it.entry.body })),
        );
        outcomes = recorded.map((r) => (r === 'recorded' ? 'replayed' : 'duplicate'));
        await this.deps.deadLetters.remove(
          topic,
          items.map((it) => it.entry.id),
          subscriber,
        );
      }
      items.forEach((it, i) => {
        outcomeOf.set(it.entry, {
          id: it.entry.id,
          subscriber,
          outcome: outcomes[i]!,
          eventId: it.eventId,
          ...(it.upcastedFrom !== undefined ? { upcastedFrom: it.upcastedFrom } : {}),
        });
      });
    }
    for (const c of checked) results.push('entry' in c ? outcomeOf.get(c.entry)! : c);

    const count = (...o: ReplayOutcome[]) => results.filter((r) => o.includes(r.outcome)).length;
    return {
      topic,
      dryRun,
      replayed: count('replayed', 'would-replay'),
      duplicates: count('duplicate', 'would-skip-duplicate'),
      invalid: count('invalid'),
      notFound: count('not-found'),
      entries: results,
    };
  }

  /** Deletes entries (given ids, a subscriber's, or the whole topic); returns how many. */
  purge(topic: string, options: { ids?: readonly string[]; subscriber?: string } = {}): Promise<number> {
    return this.deps.deadLetters.remove(topic, options.ids, options.subscriber);
  }

  private async select(topic: string, options: ReplayOptions): Promise<DeadLetter[]> {
    const wanted = options.ids && new Set(options.ids);
    const out: DeadLetter[] = [];
    if (wanted && options.subscriber !== undefined) {
      for (const id of wanted) {
        const e = await this.deps.deadLetters.get(topic, id, options.subscriber);
        if (e) out.push(e);
      }
      return out;
    }
    // Snapshot the topic page by page before changing anything.
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.deps.deadLetters.list(topic, { offset, limit: PAGE });
      for (const e of page) {
        if (wanted && !wanted.has(e.id)) continue;
        if (options.subscriber !== undefined && e.subscriber !== options.subscriber) continue;
        out.push(e);
      }
      if (page.length < PAGE) return out;
    }
  }
}
