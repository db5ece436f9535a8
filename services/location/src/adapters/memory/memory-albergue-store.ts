// In-memory AlbergueRepository + AlbergueQueries: transactions run one at a time and roll back on a
// throw. For tests and for running location without a database; the Postgres adapter is the real one.
import type { EventEnvelope } from '@albergue/events';
import type {
  AlbergueFilter,
  AlbergueQueries,
  AlbergueRecord,
  AlbergueRepository,
  AlbergueTransaction,
  AlbergueView,
} from '../../application/ports.js';
import { AlbergueConflictError } from '../../application/ports.js';
import { albergueView } from '../../application/support.js';

export class MemoryAlbergueStore implements AlbergueRepository, AlbergueQueries {
  private albergues = new Map<string, AlbergueRecord>();
  private appended: EventEnvelope[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  /** Every envelope appended to the outbox, in commit order. */
  get outbox(): readonly EventEnvelope[] {
    return this.appended;
  }

  transaction<T>(work: (tx: AlbergueTransaction) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const albergues = new Map(this.albergues);
      const appended = [...this.appended];
      try {
        return await work(this.tx());
      } catch (err) {
        this.albergues = albergues;
        this.appended = appended;
        throw err;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  findAlbergue(albergueId: string, today: string): Promise<AlbergueView | undefined> {
    const r = this.albergues.get(albergueId);
    return Promise.resolve(r && albergueView(r.state, today));
  }

  listAlbergues(filter: AlbergueFilter, today: string): Promise<AlbergueView[]> {
    const views = [...this.albergues.values()]
      .map((r) => albergueView(r.state, today))
      .filter((v) => (filter.route === undefined || v.route === filter.route) && (filter.town === undefined || v.town === filter.town))
      .sort((a, b) => b.location.lon - a.location.lon || a.name.localeCompare(b.name));
    return Promise.resolve(views);
  }

  private tx(): AlbergueTransaction {
    const loaded = new Set<string>(); // ids this transaction loaded or saved: save updates those, inserts the rest
    return {
      load: (id) => {
        const r = this.albergues.get(id);
        if (r) loaded.add(id);
        return Promise.resolve(r);
      },
      save: (record) => {
        const id = record.state.albergue.albergue_id;
        if (this.albergues.has(id) && !loaded.has(id)) return Promise.reject(new AlbergueConflictError(`albergue ${id} is already stored`));
        this.albergues.set(id, record);
        loaded.add(id);
        return Promise.resolve();
      },
      appendToOutbox: (envelopes) => {
        this.appended.push(...envelopes);
        return Promise.resolve();
      },
    };
  }
}
