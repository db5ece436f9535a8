import { filterCovers, topicMatches } from './topic-filter.js';

/**
 * What one MQTT account may do. Topics and filters are in MQTT form (`albergue/booking/v1/X`).
 * Everything not granted is refused.
 */
export interface AccountGrant {
  readonly username: string;
  /** Topics (or filters) the account may publish to. */
  readonly publish: readonly string[];
  /** Filters the account may subscribe to; a requested filter must be covered by one of them. */
  readonly subscribe: readonly string[];
}

/** The broker's access-control list: a grant per account; unknown accounts may do nothing. */
export class AccessControlList {
  private readonly grants = new Map<string, AccountGrant>();

  constructor(grants: readonly AccountGrant[]) {
    for (const g of grants) {
      const existing = this.grants.get(g.username);
      this.grants.set(
        g.username,
        existing
          ? {
              username: g.username,
              publish: unique([...existing.publish, ...g.publish]),
              subscribe: unique([...existing.subscribe, ...g.subscribe]),
            }
          : { username: g.username, publish: unique(g.publish), subscribe: unique(g.subscribe) },
      );
    }
  }

  accounts(): AccountGrant[] {
    return [...this.grants.values()];
  }

  grant(username: string): AccountGrant | undefined {
    return this.grants.get(username);
  }

  /** Publishing to a concrete topic (no wildcards). */
  mayPublish(username: string, topic: string): boolean {
    const g = this.grants.get(username);
    return g !== undefined && g.publish.some((p) => topicMatches(p, topic));
  }

  /** Subscribing to a filter: allowed when one granted filter covers it entirely. */
  maySubscribe(username: string, filter: string): boolean {
    const g = this.grants.get(username);
    return g !== undefined && g.subscribe.some((s) => filterCovers(s, filter));
  }
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)].sort();
}
