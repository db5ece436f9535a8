import type { HttpSubscription, HttpSubscriptionRegistry } from '../../application/http-subscriptions.js';

/** In-process registry for the embedded mode (registrations last as long as the process). */
export class MemoryHttpSubscriptionRegistry implements HttpSubscriptionRegistry {
  private readonly subs = new Map<string, HttpSubscription>();

  save(s: HttpSubscription): Promise<void> {
    this.subs.set(`${s.subscriber}\u0000${s.filter}`, s);
    return Promise.resolve();
  }

  list(): Promise<HttpSubscription[]> {
    return Promise.resolve([...this.subs.values()]);
  }

  remove(subscriber: string, filter: string): Promise<boolean> {
    return Promise.resolve(this.subs.delete(`${subscriber}\u0000${filter}`));
  }
}
