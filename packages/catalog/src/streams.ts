// Value streams walked through the declarations, and their Mermaid diagrams: one flowchart of the
// whole event graph across contexts, one sequence diagram per stream.
import type { EventDefinition } from '@albergue/events';
import type { ValueStream } from './input.js';
import type { CatalogModel, Edge } from './model.js';

/** A stream as far as the declarations take it. */
export interface WalkedStream {
  readonly stream: ValueStream;
  /** The edges on the paths between its milestones, in walking order. */
  readonly edges: readonly Edge[];
  /** The events it starts with (the first milestone, or the wildcard events of `any`). */
  readonly starts: readonly EventDefinition[] | 'any';
  /** What is not declared yet (empty when the stream runs end to end). */
  readonly gaps: readonly string[];
}

type Node = EventDefinition | 'any';
const keyOf = (n: Node): string => (n === 'any' ? 'any' : n.topic);
const nameOf = (n: Node): string => (n === 'any' ? 'any event' : n.name);
const names = (ns: readonly EventDefinition[]): string => ns.map((n) => n.name).join(' or ');

/** Shortest path (fewest edges) from `from` to `to`; edges are tried in declaration order. */
function shortestPath(model: CatalogModel, from: Node, to: EventDefinition): Edge[] | undefined {
  const prev = new Map<string, Edge | undefined>([[keyOf(from), undefined]]);
  let frontier: Node[] = [from];
  while (frontier.length > 0) {
    const next: Node[] = [];
    for (const n of frontier) {
      for (const e of model.edges) {
        if (keyOf(e.from) !== keyOf(n) || prev.has(e.to.topic)) continue;
        prev.set(e.to.topic, e);
        if (e.to.topic === to.topic) {
          const path: Edge[] = [];
          for (let cur: Edge | undefined = e; cur; cur = prev.get(keyOf(cur.from))) path.unshift(cur);
          return path;
        }
        next.push(e.to);
      }
    }
    frontier = next;
  }
  return undefined;
}

/** Why nothing declared leads from `from` to `to`. */
function gapOf(model: CatalogModel, from: readonly Node[], to: readonly EventDefinition[]): string {
  const unpublished = to.filter((t) => !model.publishers.has(t.topic));
  const fromText = from.map(nameOf).join(' or ');
  if (unpublished.length === to.length) {
    const contexts = [...new Set(unpublished.map((t) => t.context))].join(', ');
    return `${fromText} → ${names(to)}: no declared service publishes ${names(to)} (context ${contexts} not declared yet)`;
  }
  if (from.includes('any') && !model.edges.some((e) => e.from === 'any'))
    return `any event → ${names(to)}: no declared service subscribes to every event (subscribesAll) with a handler that emits ${names(to)} yet`;
  // A wildcard subscriber (audit) sees everything but carries no stream on: it does not count here.
  const consumed = from.filter((f) => f === 'any' || (model.consumers.get(f.topic) ?? []).some((c) => c.wildcard === undefined));
  if (consumed.length === 0) return `${fromText} → ${names(to)}: no declared service subscribes to ${fromText} yet`;
  return `${fromText} → ${names(to)}: no declared handler or follow-up leads there yet`;
}

export function walkStream(model: CatalogModel, stream: ValueStream): WalkedStream {
  const edges: Edge[] = [];
  const seen = new Set<Edge>();
  const gaps: string[] = [];
  const first = stream.milestones[0];
  if (first === undefined) throw new Error(`value stream ${stream.name} has no milestones`);
  let current: Node[] = first === 'any' ? ['any'] : [...first];
  if (first !== 'any') {
    const unpublished = first.filter((e) => !model.publishers.has(e.topic));
    if (unpublished.length > 0)
      gaps.push(
        `${names(unpublished)}: no declared service publishes it (context ${[...new Set(unpublished.map((e) => e.context))].join(', ')} not declared yet)`,
      );
  }
  for (const milestone of stream.milestones.slice(1)) {
    if (milestone === 'any') throw new Error(`value stream ${stream.name}: only the first milestone may be 'any'`);
    const reached: EventDefinition[] = [];
    for (const target of milestone) {
      let found = false;
      for (const from of current) {
        const path = shortestPath(model, from, target);
        if (!path) continue;
        found = true;
        for (const e of path) {
          if (seen.has(e)) continue;
          seen.add(e);
          edges.push(e);
        }
      }
      if (found) reached.push(target);
    }
    if (reached.length === 0) {
      gaps.push(gapOf(model, current, milestone));
      break;
    }
    current = reached;
  }
  return { stream, edges, starts: first === 'any' ? 'any' : first, gaps };
}

// ---- Mermaid -------------------------------------------------------------------------------------

/** Text for a Mermaid label in double quotes. */
function label(text: string): string {
  return text.replaceAll('"', '#quot;');
}

/** Text of a sequence-diagram message or note (one line; `;` and `#` have meanings there). */
function seqText(text: string): string {
  return text.replaceAll(';', ',').replaceAll('#', 'no.').replaceAll('\n', ' ');
}

const idOf = (n: Node): string => (n === 'any' ? 'ANY_EVENT' : `${n.name}_v${n.version}`);

/**
 * The event graph across contexts: one subgraph per context with its events; solid arrows are
 * handlers that emit (labelled with service and handler), dotted ones follow-ups (timers, HTTP
 * commands, callbacks). A wildcard subscription is one node, "any event".
 */
export function flowchart(model: CatalogModel): string {
  const lines = ['flowchart LR'];
  const contexts = [...new Set(model.events.map((e) => e.context))].sort();
  const declared = new Map(model.services.map((d) => [d.context, d.service]));
  for (const ctx of contexts) {
    const service = declared.get(ctx);
    lines.push(`  subgraph ctx_${ctx}["${label(service ? `${ctx} (service ${service})` : `${ctx} (no service declared yet)`)}"]`);
    for (const e of model.events.filter((x) => x.context === ctx)) lines.push(`    ${idOf(e)}["${label(`${e.name} v${e.version}`)}"]`);
    lines.push('  end');
  }
  if (model.edges.some((e) => e.from === 'any')) lines.push(`  ANY_EVENT(["any event"])`);
  for (const e of model.edges) {
    const text = label(`${e.service}: ${e.label}`);
    lines.push(e.kind === 'handles' ? `  ${idOf(e.from)} -->|"${text}"| ${idOf(e.to)}` : `  ${idOf(e.from)} -.->|"${text}"| ${idOf(e.to)}`);
  }
  return lines.join('\n');
}

/**
 * A stream as a sequence: the actor starts it at the publishing service; every event goes through
 * the broker to the subscriber whose handler carries the stream on; follow-ups are notes on the
 * service; what is not declared yet is a note at the end. An event published once is drawn once, so
 * alternatives are said in notes: the stream's alternative first events, and a handler that
 * publishes one of several events (each handler that receives the stream goes on to any of them).
 */
export function sequenceDiagram(model: CatalogModel, walked: WalkedStream): string {
  const publisherOf = (e: EventDefinition): string => model.publishers.get(e.topic)?.[0] ?? `${e.context} (not declared)`;
  const participants: string[] = [];
  const pid = (service: string): string => {
    const id = `p_${service.replace(/[^A-Za-z0-9]/g, '_')}`;
    if (!participants.includes(service)) participants.push(service);
    return id;
  };
  const body: string[] = [];
  const published = new Set<string>();
  const delivered = new Set<string>();
  const publish = (service: string, e: EventDefinition) => {
    if (published.has(e.topic)) return;
    published.add(e.topic);
    body.push(`  ${pid(service)}-)Broker: ${seqText(`${e.name} v${e.version}`)}`);
  };
  const { actor, action } = walked.stream.startedBy;
  if (walked.starts === 'any') {
    body.push(`  Starter->>Broker: ${seqText(action)}`);
  } else {
    const startServices = [...new Set(walked.starts.map(publisherOf))];
    for (const s of startServices) body.push(`  Starter->>${pid(s)}: ${seqText(action)}`);
    for (const e of walked.starts) if (model.publishers.has(e.topic)) publish(publisherOf(e), e);
    for (const svc of startServices) {
      const mine = walked.starts.filter((e) => publisherOf(e) === svc);
      if (mine.length > 1) body.push(`  Note over ${pid(svc)}: ${seqText(`either ${names(mine)}, each going on as below`)}`);
    }
  }
  // What each handler of the stream may publish: more than one event means one of them.
  const outcomes = new Map<string, EventDefinition[]>();
  for (const e of walked.edges)
    if (e.kind === 'handles') {
      const key = `${keyOf(e.from)} ${e.service} ${e.label}`;
      outcomes.set(key, [...(outcomes.get(key) ?? []), e.to]);
    }
  for (const e of walked.edges) {
    const s = pid(e.service);
    if (e.from !== 'any') publish(publisherOf(e.from), e.from);
    if (e.kind === 'handles') {
      const what = e.from === 'any' ? 'every event' : `${e.from.name} v${e.from.version}`;
      const key = `${keyOf(e.from)} ${e.service} ${e.label}`;
      if (!delivered.has(key)) {
        delivered.add(key);
        body.push(`  Broker-)${s}: ${seqText(`${what} → ${e.label}`)}`);
        const may = outcomes.get(key) ?? [];
        if (may.length > 1) body.push(`  Note over ${s}: ${seqText(`${e.label} publishes either ${names(may)}`)}`);
      }
    } else {
      body.push(`  Note over ${s}: ${seqText(e.label)}`);
    }
    publish(e.service, e.to);
  }
  for (const g of walked.gaps) body.push(`  Note over Broker: ${seqText(`not declared yet: ${g}`)}`);
  const head = ['sequenceDiagram', `  actor Starter as ${seqText(actor)}`];
  for (const p of participants) head.push(`  participant ${pid(p)} as ${seqText(p)}`);
  head.push('  participant Broker as MQTT broker');
  return [...head, ...body].join('\n');
}
