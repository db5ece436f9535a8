// The notification ports on Postgres (pg or PGlite through @albergue/outbox's SqlDatabase port).
// Tables: NOTIFICATIONS_MIGRATIONS.
import type { EventEnvelope } from '@albergue/events';
import type { SqlDatabase, SqlExecutor, SqlTransaction } from '@albergue/outbox';
import { Outbox } from '@albergue/outbox';
import type { ContactLookup } from '../../domain/contact.js';
import type { TemplateLocale } from '../../domain/contact.js';
import type { NotificationState, RecipientRef } from '../../domain/notification.js';
import { NO_NOTIFICATION } from '../../domain/notification.js';
import type { BookingFacts, TemplateName } from '../../domain/templates.js';
import type {
  ContactEraser,
  NotificationQueries,
  NotificationRecord,
  NotificationTransaction,
  StoredContact,
} from '../../application/ports.js';

interface NotificationRow {
  [column: string]: unknown;
  notification_id: string;
  template: string;
  locale: string;
  recipient_masked: string | null;
  status: 'sent' | 'failed';
  related_event_id: string;
  related_event_type: string;
  booking_id: string | null;
  guest_id: string | null;
  correlation_id: string;
  message_id: string | null;
  detail: string | null;
  sent_at: Date | string | null;
  failed_at: Date | string | null;
}

const iso = (v: Date | string | null): string | undefined => (v === null ? undefined : new Date(v).toISOString());
const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

function toRecord(r: NotificationRow): NotificationRecord {
  return {
    notification_id: r.notification_id,
    template: r.template as TemplateName,
    locale: r.locale as TemplateLocale,
    channel: 'email',
    recipient_masked: opt(r.recipient_masked),
    status: r.status,
    related_event_id: r.related_event_id,
    related_event_type: r.related_event_type,
    booking_id: opt(r.booking_id),
    guest_id: opt(r.guest_id),
    correlation_id: r.correlation_id,
    message_id: opt(r.message_id),
    detail: opt(r.detail),
    sent_at: iso(r.sent_at),
    failed_at: iso(r.failed_at),
  };
}

const NOTIFICATION_COLUMNS =
  'notification_id, template, locale, recipient_masked, status, related_event_id, related_event_type, booking_id, guest_id, correlation_id, message_id, detail, sent_at, failed_at';

/** The transaction port on one inbox (or request) transaction. */
class PgNotificationTransaction implements NotificationTransaction {
  constructor(
    private readonly tx: SqlTransaction,
    private readonly outbox: Outbox,
  ) {}

  async appendToOutbox(envelopes: readonly EventEnvelope[]): Promise<void> {
    await this.outbox.append(this.tx, envelopes);
  }

  async contactOf(guestId: string): Promise<StoredContact | undefined> {
    const { rows } = await this.tx.query<{ guest_id: string; as_of: string; forgotten_at: string | null }>(
      'SELECT guest_id, as_of, forgotten_at FROM guest_contacts WHERE guest_id = $1 FOR UPDATE',
      [guestId],
    );
    const r = rows[0];
    return r && { guest_id: r.guest_id, as_of: r.as_of, forgotten_at: opt(r.forgotten_at) };
  }

  async saveContact(c: { guest_id: string; name: string; email: string; locale: string; as_of: string }): Promise<void> {
    await this.tx.query(
      `INSERT INTO guest_contacts (guest_id, name, email, locale, as_of, forgotten_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, NULL, now())
       ON CONFLICT (guest_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, locale = EXCLUDED.locale,
         as_of = EXCLUDED.as_of, forgotten_at = NULL, updated_at = now()`,
      [c.guest_id, c.name, c.email, c.locale, c.as_of],
    );
  }

  async saveBooking(b: BookingFacts & { readonly guest_id: string }): Promise<void> {
    await this.tx.query(
      `INSERT INTO booking_facts (booking_id, guest_id, albergue_id, check_in, check_out, beds, total_minor, currency)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (booking_id) DO NOTHING`,
      [b.booking_id, b.guest_id, b.albergue_id, b.check_in, b.check_out, b.beds, b.total?.amount_minor ?? 0, b.total?.currency ?? 'EUR'],
    );
  }

  async bookingOf(bookingId: string): Promise<(BookingFacts & { readonly guest_id: string }) | undefined> {
    const { rows } = await this.tx.query<{
      booking_id: string;
      guest_id: string;
      albergue_id: string;
      check_in: string;
      check_out: string;
      beds: number;
      total_minor: string | number;
      currency: string;
    }>(
      'SELECT booking_id, guest_id, albergue_id, check_in, check_out, beds, total_minor, currency FROM booking_facts WHERE booking_id = $1',
      [bookingId],
    );
    const r = rows[0];
    return (
      r && {
        booking_id: r.booking_id,
        guest_id: r.guest_id,
        albergue_id: r.albergue_id,
        check_in: r.check_in,
        check_out: r.check_out,
        beds: r.beds,
        total: { amount_minor: Number(r.total_minor), currency: r.currency },
      }
    );
  }

  async lookup(ref: RecipientRef): Promise<ContactLookup> {
    const byBooking = ref.booking_id ? await this.bookingOf(ref.booking_id) : undefined;
    const guestId = byBooking?.guest_id ?? ref.guest_id;
    if (guestId === undefined) return { status: 'unknown' };
    const { rows } = await this.tx.query<{
      guest_id: string;
      name: string | null;
      email: string | null;
      locale: string | null;
      forgotten_at: string | null;
    }>('SELECT guest_id, name, email, locale, forgotten_at FROM guest_contacts WHERE guest_id = $1', [guestId]);
    const r = rows[0];
    if (!r) return { status: 'unknown' };
    if (r.forgotten_at !== null || r.email === null || r.name === null) return { status: 'forgotten', guest_id: r.guest_id };
    return { status: 'known', contact: { guest_id: r.guest_id, name: r.name, email: r.email, locale: r.locale ?? '' } };
  }

  async loadNotification(notificationId: string): Promise<NotificationState> {
    const { rows } = await this.tx.query<NotificationRow>(
      `SELECT ${NOTIFICATION_COLUMNS} FROM notifications WHERE notification_id = $1 FOR UPDATE`,
      [notificationId],
    );
    const r = rows[0];
    if (!r) return NO_NOTIFICATION;
    const n = toRecord(r);
    return n.status === 'sent'
      ? {
          status: 'sent',
          notification: {
            notification_id: n.notification_id,
            channel: 'email',
            template: n.template,
            recipient_masked: n.recipient_masked ?? '',
            related_event_id: n.related_event_id,
            sent_at: n.sent_at ?? '',
          },
        }
      : {
          status: 'failed',
          notification: {
            notification_id: n.notification_id,
            channel: 'email',
            template: n.template,
            related_event_id: n.related_event_id,
            error: n.detail ?? '',
            failed_at: n.failed_at ?? '',
          },
        };
  }

  async saveNotification(n: NotificationRecord): Promise<void> {
    await this.tx.query(
      `INSERT INTO notifications (${NOTIFICATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        n.notification_id,
        n.template,
        n.locale,
        n.recipient_masked ?? null,
        n.status,
        n.related_event_id,
        n.related_event_type,
        n.booking_id ?? null,
        n.guest_id ?? null,
        n.correlation_id,
        n.message_id ?? null,
        n.detail ?? null,
        n.sent_at ?? null,
        n.failed_at ?? null,
      ],
    );
  }
}

/** The notification store: transaction port for handlers, the eraser and the queries. */
export class PgNotificationStore implements ContactEraser, NotificationQueries {
  constructor(
    private readonly db: SqlDatabase,
    private readonly outbox: Outbox = new Outbox(db),
  ) {}

  forTransaction(tx: SqlTransaction): NotificationTransaction {
    return new PgNotificationTransaction(tx, this.outbox);
  }

  async forget(guestId: string, at: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ known: boolean }>(
        `SELECT (email IS NOT NULL) AS known FROM guest_contacts WHERE guest_id = $1 FOR UPDATE`,
        [guestId],
      );
      // A tombstone even for a guest not known yet: an older BookingReserved arriving later stays forgotten.
      await tx.query(
        `INSERT INTO guest_contacts (guest_id, name, email, locale, as_of, forgotten_at, updated_at)
         VALUES ($1, NULL, NULL, NULL, $2, $2, now())
         ON CONFLICT (guest_id) DO UPDATE SET name = NULL, email = NULL, locale = NULL,
           forgotten_at = coalesce(guest_contacts.forgotten_at, EXCLUDED.forgotten_at), updated_at = now()`,
        [guestId, at],
      );
      return rows[0]?.known === true;
    });
  }

  async list(filter: { readonly booking_id?: string; readonly guest_id?: string; readonly limit: number }): Promise<NotificationRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.booking_id !== undefined) where.push(`booking_id = $${params.push(filter.booking_id)}`);
    if (filter.guest_id !== undefined) where.push(`guest_id = $${params.push(filter.guest_id)}`);
    const sql = `SELECT ${NOTIFICATION_COLUMNS} FROM notifications ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at, notification_id LIMIT $${params.push(filter.limit)}`;
    const { rows } = await (this.db as SqlExecutor).query<NotificationRow>(sql, params);
    return rows.map(toRecord);
  }
}
