// The causal tree of one flow (pure): events linked by causation_id, parents before children,
// siblings by occurred_at then recording order. A causation_id that names no event of the flow (a
// command id, or a root event caused by itself) makes a root.

/** What the tree needs of a stored event. */
export interface FlowEvent {
  readonly seq: number;
  readonly eventId: string;
  readonly causationId: string;
  /** ISO-8601 UTC, as published. */
  readonly occurredAt: string;
}

export interface FlowNode<E extends FlowEvent> {
  readonly event: E;
  readonly depth: number;
  readonly children: readonly FlowNode<E>[];
}

/** occurred_at instants compared as text: both are UTC ISO-8601 (`…Z`); fractions are aligned first. */
function instantKey(iso: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(iso);
  if (!m) return iso;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}Z`;
}

function bySiblingOrder<E extends FlowEvent>(a: E, b: E): number {
  const ka = instantKey(a.occurredAt);
  const kb = instantKey(b.occurredAt);
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.seq - b.seq;
}

/** The flow's events as a forest, in causal order. */
export function flowTree<E extends FlowEvent>(events: readonly E[]): FlowNode<E>[] {
  const byId = new Map<string, E>();
  for (const e of events) if (!byId.has(e.eventId)) byId.set(e.eventId, e);
  const children = new Map<string, E[]>();
  const roots: E[] = [];
  for (const e of byId.values()) {
    const parent = e.causationId !== e.eventId ? byId.get(e.causationId) : undefined;
    if (!parent) roots.push(e);
    else {
      const list = children.get(parent.eventId);
      if (list) list.push(e);
      else children.set(parent.eventId, [e]);
    }
  }
  // Cycles cannot come from causation (an event is caused by an earlier one), but a hostile
  // publisher can write any ids: events on a cycle become roots, each visited once.
  const visited = new Set<string>();
  const build = (e: E, depth: number): FlowNode<E> => {
    visited.add(e.eventId);
    const kids = (children.get(e.eventId) ?? []).filter((c) => !visited.has(c.eventId)).sort(bySiblingOrder);
    return { event: e, depth, children: kids.map((c) => build(c, depth + 1)) };
  };
  const forest = roots.sort(bySiblingOrder).map((r) => build(r, 0));
  const stranded = [...byId.values()].filter((e) => !visited.has(e.eventId)).sort(bySiblingOrder);
  for (const e of stranded) if (!visited.has(e.eventId)) forest.push(build(e, 0));
  return forest;
}

/** The nodes depth first: the causal order of the flow. */
export function causalOrder<E extends FlowEvent>(forest: readonly FlowNode<E>[]): FlowNode<E>[] {
  const out: FlowNode<E>[] = [];
  const stack = [...forest].reverse();
  while (stack.length > 0) {
    const n = stack.pop()!;
    out.push(n);
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  return out;
}
