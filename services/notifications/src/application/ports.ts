// The ports of notifications' application layer: its read model and notification store (one
// transaction port, Postgres in production), the mailer (SMTP), and the queries.
import type { OutboxWriter } from '@albergue/application';
import type { ContactLookup, TemplateLocale } from '../domain/contact.js';
import type { NotificationState, RecipientRef } from '../domain/notification.js';
import type { BookingFacts, TemplateName } from '../domain/templates.js';

export type { Clock } from '@albergue/application';

/** A contact as stored: `as_of` is the occurred_at of the event that wrote it; a forgotten guest keeps only its tombstone. */
export interface StoredContact {
  readonly guest_id: string;
  readonly as_of: string;
  readonly forgotten_at?: string | undefined;
}

/** One row of the notifications table: what was sent or failed, with the recipient masked. */
export interface NotificationRecord {
  readonly notification_id: string;
  readonly template: TemplateName;
  readonly locale: TemplateLocale;
  readonly channel: 'email';
  readonly recipient_masked?: string | undefined;
  readonly status: 'sent' | 'failed';
  readonly related_event_id: string;
  readonly related_event_type: string;
  readonly booking_id?: string | undefined;
  readonly guest_id?: string | undefined;
  readonly correlation_id: string;
  /** Message-ID header of the mail (sent ones). */
  readonly message_id?: string | undefined;
  /** The SMTP server's answer to the message (sent) or the error (failed). */
  readonly detail?: string | undefined;
  readonly sent_at?: string | undefined;
  readonly failed_at?: string | undefined;
}

/** What the handlers do in the inbox transaction. */
export interface NotificationTransaction extends OutboxWriter {
  contactOf(guestId: string): Promise<StoredContact | undefined>;
  /** Inserts or replaces the guest's contact (clears a tombstone). */
  saveContact(contact: { guest_id: string; name: string; email: string; locale: string; as_of: string }): Promise<void>;
  /** Remembers a booking's facts and its guest; the first BookingReserved of a booking wins. */
  saveBooking(booking: BookingFacts & { readonly guest_id: string }): Promise<void>;
  bookingOf(bookingId: string): Promise<(BookingFacts & { readonly guest_id: string }) | undefined>;
  /** The contact of whoever `ref` names: by booking first, else by guest. */
  lookup(ref: RecipientRef): Promise<ContactLookup>;
  /** The notification's state, row-locked (FOR UPDATE) for the rest of the transaction. */
  loadNotification(notificationId: string): Promise<NotificationState>;
  saveNotification(record: NotificationRecord): Promise<void>;
}

/** Erases contacts (the "forget me" request), in its own transaction. */
export interface ContactEraser {
  /** Erases the contact and leaves a tombstone; false when the guest was never known. */
  forget(guestId: string, at: string): Promise<boolean>;
}

export interface NotificationQueries {
  list(filter: { readonly booking_id?: string; readonly guest_id?: string; readonly limit: number }): Promise<NotificationRecord[]>;
}

/** A mail ready to go. */
export interface OutgoingMail {
  readonly to: { readonly name: string; readonly address: string };
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly language: TemplateLocale;
  /** Stable across retries: the same notification always has the same Message-ID. */
  readonly messageId: string;
  /** X-Albergue-* headers. */
  readonly headers: Readonly<Record<string, string>>;
}

/** The server refused the message for good (5xx): retrying it will not help. */
export class MailRejectedError extends Error {
  constructor(
    message: string,
    readonly responseCode: number,
  ) {
    super(message);
    this.name = 'MailRejectedError';
  }
}

/**
 * Sends a mail; resolves with the server's answer once it accepted it. Throws MailRejectedError for
 * a permanent refusal (5xx); anything else it throws (connection refused, timeout, 4xx) is transient.
 */
export interface Mailer {
  send(mail: OutgoingMail, signal?: AbortSignal): Promise<{ readonly response: string }>;
}
