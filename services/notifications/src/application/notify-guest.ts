import { createHash } from 'node:crypto';
import type { Clock, DecisionLog, HandlerOutcome } from '@albergue/application';
import { envelopeMapping, ignoredOutcome, saveDecision } from '@albergue/application';
import { ignore } from '@albergue/decider';
import type { EventEnvelope } from '@albergue/events';
import { NotificationFailed, NotificationSent } from '@albergue/events';
import { FALLBACK_LOCALE, maskEmail, templateLocale } from '../domain/contact.js';
import type { TemplateLocale } from '../domain/contact.js';
import type { FailureReason, NotificationCommand, NotificationState, PlannedMessage, Trigger } from '../domain/notification.js';
import { decide, evolve, planNotification, recipientRefOf } from '../domain/notification.js';
import { render } from '../domain/templates.js';
import type { Mailer, NotificationRecord, NotificationTransaction } from './ports.js';
import { MailRejectedError } from './ports.js';

export interface NotifyDeps {
  readonly clock: Clock;
  readonly mailer: Mailer;
  readonly decisions?: DecisionLog;
  /** The domain part of Message-IDs, e.g. `notifications.albergue.local`. */
  readonly messageIdDomain?: string;
}

/** Where in its retry budget the delivery is (from the handler context). */
export interface DeliveryAttempt {
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly signal?: AbortSignal;
}

/** The contact of a trigger is not known yet (BookingReserved not handled yet): retried by the ledger. */
export class ContactNotKnownYetError extends Error {
  constructor(readonly ref: { readonly booking_id?: string | undefined; readonly guest_id?: string | undefined }) {
    super(
      `no contact known yet for ${ref.booking_id ? `booking ${ref.booking_id}` : ''}${ref.booking_id && ref.guest_id ? ' or ' : ''}${
        ref.guest_id ? `guest ${ref.guest_id}` : ''
      } (BookingReserved not handled yet); retrying`,
    );
    this.name = 'ContactNotKnownYetError';
  }
}

/**
 * The notification id of the message `template` for the event `eventId`: deterministic (a UUID built
 * from SHA-256 of both, version nibble 8), so every redelivery, instance and restart computes the same
 * id, which is the row's key, the Message-ID and the X-Albergue-Notification-Id of the mail.
 */
export function notificationIdOf(eventId: string, template: string): string {
  const h = createHash('sha256').update(`${eventId}:${template}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const toEnvelope = envelopeMapping({ NotificationSent, NotificationFailed });

/** The message types a trigger may carry. */
const TRIGGER_TYPES = new Set([
  'BookingConfirmed',
  'BookingCancelled',
  'ReservationExpired',
  'PaymentConfirmed',
  'PaymentFailed',
  'PaymentRefunded',
  'DocumentValidated',
  'DocumentRejected',
]);

/**
 * A trigger → at most one message, exactly once. Runs inside the inbox transaction, which holds the
 * (subscriber, event_id) row from its first statement: concurrent deliveries of one event (two
 * instances, a lapsed lease) wait for it and then see the event handled. The mail goes out inside the
 * transaction; only after the SMTP server accepted it is the notification row written with
 * NotificationSent in the outbox, and the transaction commits. A failure to send rolls everything
 * back and the ledger retries the event (transient) — the same notification id and Message-ID every
 * time. A permanent refusal (5xx) is recorded as NotificationFailed and the event is acked.
 *
 * Contact unknown (notifications has not handled the booking's BookingReserved yet): a transient
 * error, retried with the ledger's backoff; on the last attempt it is recorded as NotificationFailed
 * (no_contact). A forgotten guest: NotificationFailed (contact_forgotten) at once.
 */
export async function notifyGuest(
  deps: NotifyDeps,
  tx: NotificationTransaction,
  envelope: EventEnvelope,
  delivery: DeliveryAttempt,
): Promise<HandlerOutcome<{ readonly notification?: NotificationRecord }>> {
  if (!TRIGGER_TYPES.has(envelope.event_type)) throw new Error(`notifyGuest: ${envelope.event_type} is not a trigger`);
  const trigger = { type: envelope.event_type, data: envelope.payload } as unknown as Trigger;
  const ref = recipientRefOf(trigger);
  const booking = ref.booking_id ? await tx.bookingOf(ref.booking_id) : undefined;
  const refs = {
    booking_id: ref.booking_id,
    guest_id: ref.guest_id ?? booking?.guest_id,
    event_id: envelope.event_id,
    correlation_id: envelope.correlation_id,
  };
  const plan = planNotification(trigger, booking);
  if (plan.kind === 'silent') {
    deps.decisions?.ignored({ decision: 'NotifyGuest', ignored: plan.reason, refs });
    return { status: 'ignored', ignored: plan.reason };
  }
  const { template } = plan.message;
  const notificationId = notificationIdOf(envelope.event_id, template);
  const state = await tx.loadNotification(notificationId);
  const base = {
    notification_id: notificationId,
    template,
    channel: 'email' as const,
    related_event_id: envelope.event_id,
    related_event_type: envelope.event_type,
    booking_id: ref.booking_id,
    guest_id: refs.guest_id,
    correlation_id: envelope.correlation_id,
  };
  const record = (command: NotificationCommand, row: NotificationRecord) => save(deps, tx, state, command, row, envelope);

  const failed = async (reason: FailureReason, detail: string, locale: TemplateLocale, recipientMasked?: string) => {
    const failedAt = deps.clock.now().toISOString();
    const error = `${reason}: ${detail}`;
    return record(
      {
        type: 'RecordFailed',
        data: {
          notification_id: notificationId,
          channel: 'email',
          template,
          related_event_id: envelope.event_id,
          error,
          failed_at: failedAt,
        },
      },
      { ...base, locale, recipient_masked: recipientMasked, status: 'failed', detail: error.slice(0, 1000), failed_at: failedAt },
    );
  };

  if (state.status !== 'none') {
    // The inbox normally stops a second delivery before this; this is the notification's own guard.
    return ignoredOutcome(
      deps.decisions,
      'NotifyGuest',
      ignore('already_recorded', `notification ${notificationId} is already ${state.status}`),
      {
        ...refs,
        notification_id: notificationId,
      },
    );
  }
  const found = await tx.lookup(ref);
  if (found.status === 'forgotten') return failed('contact_forgotten', 'the guest asked to be forgotten', FALLBACK_LOCALE);
  if (found.status === 'unknown') {
    if (delivery.attempt < delivery.maxAttempts) throw new ContactNotKnownYetError(ref);
    return failed('no_contact', `no contact known after ${delivery.attempt} attempts`, FALLBACK_LOCALE);
  }
  const contact = found.contact;
  const locale = templateLocale(contact.locale);
  const recipientMasked = maskEmail(contact.email);
  const message = renderPlanned(plan.message, locale, contact.name);
  const messageId = `<${notificationId}@${deps.messageIdDomain ?? 'notifications.albergue.local'}>`;
  if (delivery.signal?.aborted) throw new Error('handler time budget spent before sending; retrying');
  let response: string;
  try {
    ({ response } = await deps.mailer.send(
      {
        to: { name: contact.name, address: contact.email },
        ...message,
        language: locale,
        messageId,
        headers: {
          'X-Albergue-Notification-Id': notificationId,
          'X-Albergue-Event-Id': envelope.event_id,
          'X-Albergue-Event-Type': envelope.event_type,
          'X-Albergue-Template': template,
          'X-Albergue-Correlation-Id': envelope.correlation_id,
          ...(ref.booking_id ? { 'X-Albergue-Booking-Id': ref.booking_id } : {}),
        },
      },
      delivery.signal,
    ));
  } catch (err) {
    if (err instanceof MailRejectedError) return failed('smtp_rejected', `${err.responseCode} ${err.message}`, locale, recipientMasked);
    throw err;
  }
  const sentAt = deps.clock.now().toISOString();
  return record(
    {
      type: 'RecordSent',
      data: {
        notification_id: notificationId,
        channel: 'email',
        template,
        recipient_masked: recipientMasked,
        related_event_id: envelope.event_id,
        sent_at: sentAt,
      },
    },
    {
      ...base,
      locale,
      recipient_masked: recipientMasked,
      status: 'sent',
      message_id: messageId,
      detail: response.slice(0, 1000),
      sent_at: sentAt,
    },
  );
}

function renderPlanned(m: PlannedMessage, locale: TemplateLocale, name: string) {
  switch (m.template) {
    case 'booking_confirmed':
      return render(m.template, locale, name, m.vars);
    case 'reservation_expired':
      return render(m.template, locale, name, m.vars);
    case 'booking_cancelled':
      return render(m.template, locale, name, m.vars);
    case 'payment_failed':
      return render(m.template, locale, name, m.vars);
    case 'payment_refunded':
      return render(m.template, locale, name, m.vars);
    case 'document_validated':
      return render(m.template, locale, name, m.vars);
    case 'document_rejected':
      return render(m.template, locale, name, m.vars);
  }
}

async function save(
  deps: NotifyDeps,
  tx: NotificationTransaction,
  state: NotificationState,
  command: NotificationCommand,
  row: NotificationRecord,
  cause: EventEnvelope,
): Promise<HandlerOutcome<{ readonly notification?: NotificationRecord }>> {
  const decision = decide(command, state);
  if (!decision.ok || decision.ignored)
    return ignoredOutcome(deps.decisions, command.type, decision, { notification_id: row.notification_id, event_id: cause.event_id });
  const saved = await saveDecision(
    tx,
    { evolve, toEnvelope },
    state,
    decision.events,
    { correlation_id: cause.correlation_id, causation_id: cause.event_id },
    async () => {
      await tx.saveNotification(row);
      return row;
    },
  );
  return { status: 'applied', events: saved.envelopes, notification: row };
}
