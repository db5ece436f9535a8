// Keeps the live store a copy of the Postgres projections. After an inbox transaction commits, the
// rows it changed are pushed (newest version wins per row, so pushes racing each other or repeated
// converge). A push that fails (Redis away) or finds no generation (Redis empty or lost its data)
// marks the projection: the sync job then resyncs it whole from Postgres into a new generation.
// Postgres is always right; the live store catches up.
import type { Logger } from '@albergue/platform';
import type { Projection } from '../domain/projection.js';
import type { LiveStore, RowChanges, Snapshot } from './ports.js';

/** Every row of a projection in Postgres. */
export interface ProjectionSnapshots {
  snapshot(p: Projection): Promise<Snapshot>;
  /** The rebuild epoch of each projection in Postgres. */
  epochs(): Promise<ReadonlyMap<string, number>>;
}

export class LiveProjections {
  private readonly stale = new Set<string>();
  private readonly failing = new Set<string>();
  /** Copies that did not land, per projection: a resync clears the mark only if none was missed while it ran. */
  private readonly missed = new Map<string, number>();

  constructor(
    private readonly projections: readonly Projection[],
    private readonly snapshots: ProjectionSnapshots,
    readonly live: LiveStore,
    private readonly logger?: Logger,
  ) {}

  /** Copies committed changes; never throws (a failure marks the projection for a resync). */
  async push(changes: ReadonlyMap<Projection, RowChanges>): Promise<void> {
    for (const [p, rows] of changes) {
      // Even while the projection is stale: a resync running now may have read its snapshot before
      // this commit, and the copy reaches the generation it fills.
      try {
        if (!(await this.live.push(p, rows))) this.markMissed(p.name);
      } catch (err) {
        if (!this.stale.has(p.name))
          this.logger?.warn({ err, projection: p.name }, 'live store push failed; resyncing it from Postgres when it is back');
        this.markMissed(p.name);
      }
    }
  }

  private markMissed(name: string): void {
    this.stale.add(name);
    this.missed.set(name, (this.missed.get(name) ?? 0) + 1);
  }

  /** Whether a projection waits for a resync. */
  isStale(name: string): boolean {
    return this.stale.has(name);
  }

  /** Marks every projection (or one) for a resync at the next `sync()`. */
  markStale(name?: string): void {
    for (const p of this.projections) if (name === undefined || p.name === name) this.stale.add(p.name);
  }

  /**
   * Resyncs each projection that is marked, or that the live store has no generation of. Returns the
   * names resynced; throws nothing (failures leave the mark and are logged).
   */
  async sync(): Promise<string[]> {
    const done: string[] = [];
    let epochs: ReadonlyMap<string, number>;
    try {
      epochs = await this.snapshots.epochs();
    } catch (err) {
      this.logger?.warn({ err }, 'reading the projection epochs failed; retrying');
      return done;
    }
    for (const p of this.projections) {
      try {
        // A rebuild elsewhere (the CLI) raised the epoch: the live copy is of the old rows.
        if (!this.stale.has(p.name) && (await this.live.epoch(p)) === (epochs.get(p.name) ?? 0)) continue;
        this.stale.add(p.name);
        if (await this.resync(p)) done.push(p.name);
      } catch (err) {
        // Once per outage, not once per attempt.
        if (!this.failing.has(p.name)) this.logger?.warn({ err, projection: p.name }, 'live store resync failed; retrying');
        this.failing.add(p.name);
      }
    }
    return done;
  }

  /** Replaces the live copy of one projection with Postgres' rows now. */
  async resync(p: Projection): Promise<boolean> {
    this.stale.add(p.name);
    const missedBefore = this.missed.get(p.name) ?? 0;
    const ok = await this.live.resync(p, () => this.snapshots.snapshot(p));
    if (ok && (this.missed.get(p.name) ?? 0) === missedBefore) {
      this.stale.delete(p.name);
      this.failing.delete(p.name);
      this.logger?.info({ projection: p.name, store: this.live.kind }, 'live projection resynced from Postgres');
      return true;
    }
    return false;
  }
}
