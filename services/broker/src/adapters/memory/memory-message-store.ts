import type { ChannelNotifier, ClaimOutcome, PublishedMessageStore } from '../../application/ports.js';

/** In-process `mqtt:message:<event_id>` for the embedded mode (lost on restart; bounded by retention). */
export class MemoryPublishedMessageStore implements PublishedMessageStore {
  private readonly entries = new Map<string, { state: 'pending' | 'published'; claimedAt: number; storedAt: number }>();

  /** `now`: the clock (tests move it instead of waiting). */
  constructor(
    private readonly retentionMs = 24 * 3600 * 1000,
    private readonly now: () => number = Date.now,
  ) {}

  claim(eventId: string, _topic: string, _body: string, staleAfterMs: number): Promise<ClaimOutcome> {
    const now = this.now();
    this.expire(now);
    const e = this.entries.get(eventId);
    if (!e) {
      this.entries.set(eventId, { state: 'pending', claimedAt: now, storedAt: now });
      return Promise.resolve('new');
    }
    if (e.state === 'published') return Promise.resolve('duplicate');
    if (now - e.claimedAt > staleAfterMs) {
      e.claimedAt = now;
      return Promise.resolve('retry');
    }
    return Promise.resolve('in-flight');
  }

  markPublished(eventId: string): Promise<void> {
    const e = this.entries.get(eventId);
    if (e) e.state = 'published';
    return Promise.resolve();
  }

  release(eventId: string): Promise<void> {
    this.entries.delete(eventId);
    return Promise.resolve();
  }

  ping(): Promise<boolean> {
    return Promise.resolve(true);
  }

  // Insertion order is storage order, so the oldest entries come first.
  private expire(now: number): void {
    for (const [id, e] of this.entries) {
      if (now - e.storedAt <= this.retentionMs) break;
      this.entries.delete(id);
    }
  }
}

/** In-process stand-in for the Redis channel: listeners in this process only. */
export class MemoryChannelNotifier implements ChannelNotifier {
  private readonly listeners = new Set<(channel: string, body: string) => void>();

  emit(topic: string, body: string): Promise<void> {
    for (const l of this.listeners) l(`mqtt:channel:${topic}`, body);
    return Promise.resolve();
  }

  /** Returns the function that removes the listener. */
  listen(listener: (channel: string, body: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
