// What a whole system must show after `runDemo` walked every value stream through its gateway, shared
// by the end-to-end tests of `npm start` (embedded) and `start:services` (one process per service):
// each flow's audit tree, its events as the broker's observer account saw them (type, correlation,
// causation) and exactly one mail per outcome at the mail catcher, in the guest's language.
import { strict as assert } from 'node:assert';
import mqtt from 'mqtt';
import { waitFor } from '@albergue/platform/testing';
import { EXPECTED_EVENTS, walkTree, type CaughtMail, type FlowName, type FlowResult } from '../../scripts/demo.js';

interface Envelope {
  readonly event_id: string;
  readonly event_type: string;
  readonly correlation_id: string;
  readonly causation_id: string;
}

export interface EventWatch {
  /** Every envelope seen on albergue/#, in arrival order. */
  readonly seen: readonly Envelope[];
  close(): Promise<void>;
}

/** Subscribes to every event (albergue/#) as the read-only observer account, with a client id of its own. */
export async function watchEvents(mqttUrl: string, clientId: string): Promise<EventWatch> {
  const seen: Envelope[] = [];
  const observer = await mqtt.connectAsync(mqttUrl, {
    clientId,
    username: 'observer',
    password: 'observer-dev-password',
    reconnectPeriod: 200,
    connectTimeout: 10_000,
  });
  observer.on('message', (_topic, payload) => {
    seen.push(JSON.parse(payload.toString()) as Envelope);
  });
  await observer.subscribeAsync('albergue/#', { qos: 1 });
  return { seen, close: () => observer.endAsync(true).catch(() => undefined) };
}

/** The event a flow's mail answers (NotificationSent is caused by it). */
const TOLD_BY: Readonly<Record<FlowName, string>> = {
  paid: 'BookingConfirmed',
  declined: 'PaymentFailed',
  expiry: 'ReservationExpired',
  'document-accepted': 'DocumentValidated',
  'document-rejected': 'DocumentRejected',
};

/** The mails each flow's guest gets (subjects) and their language (es for paid/declined, en for the others). */
const EXPECTED_MAILS: Readonly<Record<FlowName, readonly [readonly RegExp[], string]>> = {
  paid: [[/^Reserva confirmada/], 'es'],
  declined: [[/^No pudimos cobrar/], 'es'],
  expiry: [[/^Your reservation expired/], 'en'],
  'document-accepted': [[/^Booking confirmed/, /^Document accepted/], 'en'],
  'document-rejected': [[/^Booking confirmed/, /^Your document needs a correction/], 'en'],
};

export interface DemoEvidence {
  readonly results: readonly FlowResult[];
  /** The demo's log, shown with any failure. */
  readonly log: string;
  readonly events: EventWatch;
  readonly mailCatcherUrl: string;
}

/**
 * Every flow ok; for each, its audit tree holds the expected events once with the mail's
 * NotificationSent under its trigger and nothing dead-lettered; the observer saw the same events with
 * the flow's correlation and the tree's causation, rooted in one event caused by a command; and the
 * guest got exactly the expected mails, in the guest's language.
 */
export async function assertDemoFlows({ results, log, events, mailCatcherUrl }: DemoEvidence): Promise<void> {
  assert.deepEqual(
    results.map((r) => [r.name, r.outcome]),
    [
      ['paid', 'ok'],
      ['declined', 'ok'],
      ['expiry', 'ok'],
      ['document-accepted', 'ok'],
      ['document-rejected', 'ok'],
    ],
    log,
  );
  assert.match(results[1]!.detail, /payment_failed/);
  assert.match(results[4]!.detail, /dni_check_letter_mismatch/);

  for (const r of results) {
    const flow = r.name;
    // The audit tree: the flow's expected events, each once, the mail's NotificationSent under its trigger.
    assert.ok(r.tree && r.correlationId, `${flow}: no tree or correlation id\n${log}`);
    assert.equal(r.tree.correlation_id, r.correlationId, `${flow}: the tree is the flow the gateway named`);
    const nodes = walkTree(r.tree.roots);
    for (const type of EXPECTED_EVENTS[flow])
      assert.equal(nodes.filter((n) => n.event_type === type).length, 1, `${flow}: one ${type} in the tree\n${log}`);
    const trigger = nodes.find((n) => n.event_type === TOLD_BY[flow])!;
    assert.ok(
      trigger.children.some((c) => c.event_type === 'NotificationSent'),
      `${flow}: NotificationSent is a child of ${TOLD_BY[flow]}\n${log}`,
    );
    assert.ok(
      nodes.every((n) => (n.delivery ?? []).every((d) => d.state !== 'dead_lettered')),
      `${flow}: nothing dead-lettered`,
    );

    // The broker's view: the same events, carrying the flow's correlation; each caused by one before it.
    const mine = await waitFor(
      () => {
        const m = events.seen.filter((e) => e.correlation_id === r.correlationId);
        return EXPECTED_EVENTS[flow].every((t) => m.some((e) => e.event_type === t)) ? m : undefined;
      },
      { timeoutMs: 20_000, message: `${flow}: the observer to see ${EXPECTED_EVENTS[flow].join(', ')}` },
    );
    const byId = new Map(mine.map((e) => [e.event_id, e]));
    for (const node of nodes) {
      const e = byId.get(node.event_id);
      assert.ok(e, `${flow}: the observer saw ${node.event_type} ${node.event_id}`);
      assert.equal(e.event_type, node.event_type);
      assert.equal(e.causation_id, node.causation_id, `${flow}: ${node.event_type}'s causation`);
    }
    const sent = mine.find((e) => e.event_type === 'NotificationSent')!;
    assert.equal(byId.get(sent.causation_id)?.event_type, TOLD_BY[flow], `${flow}: the mail was caused by ${TOLD_BY[flow]}`);
    const roots = mine.filter((e) => !byId.has(e.causation_id));
    assert.equal(roots.length, 1, `${flow}: one root (caused by a command): ${roots.map((e) => e.event_type).join(', ')}`);
    assert.equal(roots[0]!.event_type, EXPECTED_EVENTS[flow][0]);
  }

  // Exactly one mail per outcome, in the guest's language.
  for (const r of results) {
    const [subjects, language] = EXPECTED_MAILS[r.name];
    const res = await fetch(`${mailCatcherUrl}/messages?to=${encodeURIComponent(r.email!)}`, { signal: AbortSignal.timeout(5_000) });
    const mails = ((await res.json()) as { messages: CaughtMail[] }).messages;
    assert.equal(mails.length, subjects.length, `${r.name}: ${mails.map((m) => m.subject).join(' | ')}`);
    for (const s of subjects) assert.equal(mails.filter((m) => s.test(m.subject)).length, 1, `${r.name}: one mail ${s.source}`);
    for (const m of mails) {
      const lang = Object.entries(m.headers).find(([k]) => k.toLowerCase() === 'content-language')?.[1];
      assert.equal(String(lang), language, `${r.name}: ${m.subject} in ${language}`);
    }
  }
}
