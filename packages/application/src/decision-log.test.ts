import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { accept, ignore, reject } from '@albergue/decider';
import { decisionLog, ignoredOutcome } from './decision-log.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info', base: { service: 'booking' } }, stream) };
}

async function ignoredTotal(registry: Registry): Promise<string> {
  return registry.getSingleMetricAsString('decisions_ignored_total');
}

test('a decision not applied is logged with its reason and counted by decision and reason', async () => {
  const { lines, logger } = capture();
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'booking' });
  const log = decisionLog(logger, registry);
  const late = ignore('late_payment', 'payment p-1 settled after booking b-1 was expired');
  const out = ignoredOutcome(log, 'ConfirmBooking', late, { booking_id: 'b-1', event_id: 'e-1', correlation_id: 'c-1' });
  assert.deepEqual(out, {
    status: 'ignored',
    ignored: { code: 'late_payment', reason: 'payment p-1 settled after booking b-1 was expired' },
  });
  ignoredOutcome(log, 'ConfirmBooking', ignore('amount_mismatch', 'wrong amount'));
  ignoredOutcome(log, 'ConfirmBooking', ignore('amount_mismatch', 'wrong amount again'));
  // A refused event is not applied either: its first reason is reported.
  ignoredOutcome(log, 'InitiatePayment', reject({ code: 'invalid_amount', reason: 'nothing to pay' }, { code: 'other', reason: 'x' }));

  const text = await ignoredTotal(registry);
  assert.match(text, /decisions_ignored_total\{decision="ConfirmBooking",reason="late_payment",service="booking"\} 1/);
  assert.match(text, /decisions_ignored_total\{decision="ConfirmBooking",reason="amount_mismatch",service="booking"\} 2/);
  assert.match(text, /decisions_ignored_total\{decision="InitiatePayment",reason="invalid_amount",service="booking"\} 1/);
  assert.equal(lines.length, 4);
  assert.equal(lines[0]!.level, 40, 'logged as a warning');
  assert.deepEqual(
    {
      decision: lines[0]!.decision,
      reason: lines[0]!.reason,
      detail: lines[0]!.detail,
      booking_id: lines[0]!.booking_id,
      event_id: lines[0]!.event_id,
      correlation_id: lines[0]!.correlation_id,
      service: lines[0]!.service,
    },
    {
      decision: 'ConfirmBooking',
      reason: 'late_payment',
      detail: 'payment p-1 settled after booking b-1 was expired',
      booking_id: 'b-1',
      event_id: 'e-1',
      correlation_id: 'c-1',
      service: 'booking',
    },
  );
});

test('one counter per registry: a second decision log on the same registry shares it', async () => {
  const registry = new Registry();
  const { logger } = capture();
  decisionLog(logger, registry).ignored({ decision: 'SettlePayment', ignored: { code: 'already_settled', reason: 'x' } });
  decisionLog(logger, registry).ignored({ decision: 'SettlePayment', ignored: { code: 'already_settled', reason: 'y' } });
  assert.match(await ignoredTotal(registry), /decision="SettlePayment",reason="already_settled"\} 2/);
});

test('ignoredOutcome without a wired log still answers ignored (unit tests)', () => {
  assert.deepEqual(ignoredOutcome(undefined, 'ExpireReservation', ignore('hold_not_due', 'later')), {
    status: 'ignored',
    ignored: { code: 'hold_not_due', reason: 'later' },
  });
  // Misuse (an applied decision reported as ignored) is still a clear, counted reason, never a crash.
  assert.equal(ignoredOutcome(undefined, 'ExpireReservation', accept()).ignored.code, 'not_applied');
});
