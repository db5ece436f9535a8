import { Counter } from 'prom-client';
import type { Clock } from '@albergue/application';
import { decisionLog, systemClock } from '@albergue/application';
import type { EventDefinition } from '@albergue/events';
import {
  BookingCancelled,
  BookingConfirmed,
  BookingReserved,
  DocumentRejected,
  DocumentValidated,
  PaymentConfirmed,
  PaymentFailed,
  PaymentRefunded,
  ReservationExpired,
} from '@albergue/events';
import type { ServiceDeclaration, SubscriptionPolicy } from '@albergue/messaging';
import { DEFAULT_POLICY, declareService } from '@albergue/messaging';
import { ConfigError, envInt, envOptional, envUrl } from '@albergue/platform';
import type { ServiceRuntime, ServiceRuntimeOptions } from '@albergue/runtime';
import { createServiceRuntime } from '@albergue/runtime';
import { NOTIFICATIONS_MIGRATIONS } from './adapters/postgres/migrations.js';
import { PgNotificationStore } from './adapters/postgres/pg-notification-store.js';
import { NodemailerMailer } from './adapters/smtp/nodemailer-mailer.js';
import { ContactNotKnownYetError, notifyGuest } from './application/notify-guest.js';
import type { Mailer } from './application/ports.js';
import { rememberContactOnBookingReserved } from './application/remember-contact.js';
import { notificationsDeclaration } from './declaration.js';
import { httpApi } from './http.js';

/** Where the embedded mode's mail catcher listens by default. */
export const DEFAULT_SMTP_URL = 'smtp://127.0.0.1:1025';

export interface NotificationsServiceOptions extends Partial<
  Pick<ServiceRuntimeOptions, 'env' | 'config' | 'logger' | 'ledger' | 'relay'>
> {
  readonly clock?: Clock;
  /** The SMTP server (default SMTP_URL, else smtp://127.0.0.1:1025, the mail catcher). */
  readonly smtpUrl?: string;
  /** Tests: wrap the SMTP mailer (e.g. to count or fail sends). */
  readonly wrapMailer?: (mailer: Mailer) => Mailer;
  /** Overrides of the notification subscriptions' ledger policy (tests: short backoff, a small breaker). */
  readonly policy?: Partial<SubscriptionPolicy>;
}

const TRIGGERS: readonly [EventDefinition, string][] = [
  [BookingConfirmed, 'notifyGuestOnBookingConfirmed'],
  [BookingCancelled, 'notifyGuestOnBookingCancelled'],
  [ReservationExpired, 'notifyGuestOnReservationExpired'],
  [PaymentConfirmed, 'notifyGuestOnPaymentConfirmed'],
  [PaymentFailed, 'notifyGuestOnPaymentFailed'],
  [PaymentRefunded, 'notifyGuestOnPaymentRefunded'],
  [DocumentValidated, 'notifyGuestOnDocumentValidated'],
  [DocumentRejected, 'notifyGuestOnDocumentRejected'],
];

/** The declaration with `policy` laid over the policy of every message-sending subscription. */
function withPolicy(d: ServiceDeclaration, policy: Partial<SubscriptionPolicy> | undefined): ServiceDeclaration {
  if (!policy) return d;
  return declareService({
    ...d,
    subscribes: d.subscribes.map((s) =>
      s.event === BookingReserved
        ? s
        : {
            ...s,
            policy: {
              ...s.policy,
              ...policy,
              ...(s.policy?.backoff || policy.backoff
                ? { backoff: { ...s.policy?.backoff, ...policy.backoff } as SubscriptionPolicy['backoff'] }
                : {}),
              ...(s.policy?.breaker || policy.breaker
                ? { breaker: { ...s.policy?.breaker, ...policy.breaker } as SubscriptionPolicy['breaker'] }
                : {}),
            },
          },
    ),
  });
}

/**
 * A mail goes out inside the handler, whose budget is 90% of the visibility timeout; past it the
 * handler is abandoned and the event retried, so a mail the server accepted but answered late would go
 * out twice (same Message-ID). nodemailer applies the timeout per phase (connection, greeting, each
 * reply): three of them must fit in the visibility timeout.
 */
function checkSmtpTimeoutFits(d: ServiceDeclaration, smtpTimeoutMs: number): void {
  for (const s of d.subscribes) {
    if (s.event === BookingReserved) continue;
    const visibilityTimeoutMs = s.policy?.visibilityTimeoutMs ?? DEFAULT_POLICY.visibilityTimeoutMs;
    if (3 * smtpTimeoutMs > visibilityTimeoutMs)
      throw new ConfigError(
        `notifications: NOTIFICATIONS_SMTP_TIMEOUT_MS ${smtpTimeoutMs} ms is too long for the visibility timeout of ` +
          `${s.event.name} (${visibilityTimeoutMs} ms): a late SMTP answer would outlive the handler and the mail would go out ` +
          `twice. Set NOTIFICATIONS_SMTP_TIMEOUT_MS to at most ${Math.floor(visibilityTimeoutMs / 3)} ms, or raise the visibility timeout.`,
      );
  }
}

/**
 * The notifications service wired: Postgres adapters (contacts, booking facts, notifications), the
 * SMTP mailer (nodemailer to SMTP_URL), its handlers (each in the inbox transaction), HTTP routes.
 *
 * Environment: SMTP_URL (required with NODE_ENV=production; default smtp://127.0.0.1:1025),
 * NOTIFICATIONS_FROM (the From header), NOTIFICATIONS_SMTP_TIMEOUT_MS (default 10000),
 * NOTIFICATIONS_MAX_ATTEMPTS (the retry budget of a message, default 8).
 */
export async function createNotificationsService(o: NotificationsServiceOptions = {}): Promise<ServiceRuntime> {
  const env = o.env ?? process.env;
  const smtpUrl = o.smtpUrl ?? envUrl('SMTP_URL', ['smtp:', 'smtps:'], env);
  if (smtpUrl === undefined && env.NODE_ENV === 'production')
    throw new ConfigError('notifications: set SMTP_URL (smtp://host:port or smtps://user:password@host:465)');
  const from = envOptional('NOTIFICATIONS_FROM', env) ?? 'Albergue <no-reply@albergue.example>';
  const smtpTimeoutMs = envInt('NOTIFICATIONS_SMTP_TIMEOUT_MS', 10_000, { min: 100, max: 60_000 }, env);
  const maxAttempts = envOptional('NOTIFICATIONS_MAX_ATTEMPTS', env) && envInt('NOTIFICATIONS_MAX_ATTEMPTS', 8, { min: 1, max: 100 }, env);
  const policy = maxAttempts ? { ...o.policy, maxAttempts } : o.policy;

  const declaration = withPolicy(notificationsDeclaration, policy);
  checkSmtpTimeoutFits(declaration, smtpTimeoutMs);

  const rt = await createServiceRuntime({
    ...o,
    declaration,
    defaultPort: 8105,
    migrations: NOTIFICATIONS_MIGRATIONS,
    description: "Messages to guests (email over SMTP) from the events of their bookings, payments and documents; guests' contacts.",
  });
  const clock = o.clock ?? systemClock;
  const log = rt.logger;
  const decisions = decisionLog(log, rt.metrics);
  const smtp = new NodemailerMailer({ url: smtpUrl ?? DEFAULT_SMTP_URL, from, timeoutMs: smtpTimeoutMs });
  const mailer = o.wrapMailer ? o.wrapMailer(smtp) : smtp;
  const store = new PgNotificationStore(rt.db, rt.outbox);

  const sent = new Counter({
    name: 'notifications_sent_total',
    help: 'Messages the SMTP server accepted, by template and language.',
    labelNames: ['template', 'locale'] as const,
    registers: [rt.metrics],
  });
  const failed = new Counter({
    name: 'notifications_failed_total',
    help: 'Messages recorded as failed for good (NotificationFailed), by template and reason.',
    labelNames: ['template', 'reason'] as const,
    registers: [rt.metrics],
  });
  const retried = new Counter({
    name: 'notifications_send_errors_total',
    help: 'Attempts that will be retried: SMTP unavailable (smtp) or the contact not known yet (no_contact_yet).',
    labelNames: ['kind'] as const,
    registers: [rt.metrics],
  });

  rt.on(BookingReserved, 'rememberContactOnBookingReserved', async (ctx, tx) => {
    await rememberContactOnBookingReserved({ decisions }, store.forTransaction(tx), ctx.event);
  });
  for (const [def, handler] of TRIGGERS) {
    rt.on(def, handler, async (ctx, tx) => {
      try {
        const r = await notifyGuest(
          { clock, mailer, decisions, messageIdDomain: 'notifications.albergue.local' },
          store.forTransaction(tx),
          ctx.event,
          { attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, signal: ctx.signal },
        );
        const n = r.status === 'applied' ? r.notification : undefined;
        if (!n) return;
        tx.afterCommit(() => {
          if (n.status === 'sent') {
            sent.inc({ template: n.template, locale: n.locale });
            ctx.log.info({ notification_id: n.notification_id, template: n.template, recipient: n.recipient_masked }, 'notification sent');
          } else {
            const reason = (n.detail ?? '').split(':')[0] ?? 'unknown';
            failed.inc({ template: n.template, reason });
            ctx.log.warn(
              { notification_id: n.notification_id, template: n.template, reason, recipient: n.recipient_masked },
              'notification failed',
            );
          }
        });
      } catch (err) {
        retried.inc({ kind: err instanceof ContactNotKnownYetError ? 'no_contact_yet' : 'smtp' });
        throw err;
      }
    });
  }
  await rt.http.register(httpApi({ clock, contacts: store, queries: store }));

  const close = rt.close.bind(rt);
  return Object.assign(rt, {
    async close() {
      await close();
      smtp.close();
    },
  });
}
