// The operator's view of a flow in a terminal: the causal tree, one line per event, then one line
// per subscriber with its delivery state, then the breakers that are not closed.
import type { BreakerView, SubscriberDelivery } from './application/ports.js';
import type { FlowEventView, FlowView } from './application/queries.js';

export interface RenderOptions {
  /** ANSI colours (default off; the CLI turns them on for a TTY without NO_COLOR). */
  readonly color?: boolean;
}

const paint = (on: boolean, code: string, s: string): string => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

/** HH:MM:SS.mmm of an ISO instant (UTC), or the text itself. */
const clock = (iso: string | undefined): string => (iso && /T(\d\d:\d\d:\d\d(\.\d{1,3})?)/.exec(iso)?.[1]) ?? iso ?? '';

function deliveryLine(d: SubscriberDelivery, color = false): string {
  const last = d.errors[d.errors.length - 1]?.message;
  switch (d.state) {
    case 'processed':
      return `${paint(color, '32', '✓')} ${d.subscriber} processed${d.processed_at ? ` at ${clock(d.processed_at)}` : ''}`;
    case 'pending':
      return `${paint(color, '33', '…')} ${d.subscriber} pending (attempt ${d.attempts + 1}${d.max_attempts ? ` of ${d.max_attempts}` : ''}${
        d.next_attempt_at ? `, next at ${clock(d.next_attempt_at)}` : ''
      })${last ? `: last error: ${last}` : ''}`;
    case 'leased':
      return `${paint(color, '33', '…')} ${d.subscriber} being handled (attempt ${d.attempts}${d.max_attempts ? ` of ${d.max_attempts}` : ''})${
        last ? `: last error: ${last}` : ''
      }`;
    case 'dead_lettered': {
      const dl = d.dead_letter;
      const why = dl ? `${dl.reason}${dl.code ? ` (${dl.code})` : ''} after ${dl.attempts} attempt(s)` : 'dead-lettered';
      const err = dl?.errors[dl.errors.length - 1]?.message ?? last;
      return `${paint(color, '31', '✗')} ${d.subscriber} DLQ: ${why}${err ? `: ${err}` : ''}${dl ? ` [dlq id ${dl.id}]` : ''}`;
    }
    default:
      return `${paint(color, '90', '?')} ${d.subscriber} unknown`;
  }
}

function breakerLine(b: BreakerView, color: boolean): string {
  return `${paint(color, '31', '⚡')} breaker ${b.subscriber} on ${b.topic}: ${b.state} (${b.failures} failure(s))${
    b.open_until ? ` until ${clock(b.open_until)}` : ''
  }`;
}

/** The whole flow as text lines. */
export function renderFlow(flow: FlowView, o: RenderOptions = {}): string {
  const color = o.color ?? false;
  const lines = [`flow ${flow.correlation_id}: ${flow.event_count} event(s)`];
  for (const w of flow.warnings) lines.push(`${paint(color, '33', '!')} ${w}`);
  const walk = (n: FlowEventView, prefix: string, last: boolean, root: boolean) => {
    const branch = root ? '' : last ? '└─ ' : '├─ ';
    lines.push(
      `${prefix}${branch}${paint(color, '1', n.event_type)} v${n.event_version}  ${clock(n.occurred_at)}  ${n.aggregate.type} ${n.aggregate.id}  (${n.event_id})`,
    );
    const inner = root ? prefix : `${prefix}${last ? '   ' : '│  '}`;
    const pipe = n.children.length > 0 ? '│  ' : '   ';
    for (const d of n.delivery) lines.push(`${inner}${pipe}  ${deliveryLine(d, color)}`);
    n.children.forEach((c, i) => walk(c, inner, i === n.children.length - 1, false));
  };
  for (const r of flow.roots) walk(r, '', true, true);
  if (flow.breakers.length > 0) for (const b of flow.breakers) lines.push(breakerLine(b, color));
  else lines.push('no open breakers');
  return lines.join('\n');
}
