// Guest contacts as notifications keeps them: who to write to, in which language. Pure.

/** The languages the templates are written in; every template exists in each. */
export const LOCALES = ['es', 'en'] as const;
export type TemplateLocale = (typeof LOCALES)[number];
/** The language of a guest whose locale has no templates (or is not known). */
export const FALLBACK_LOCALE: TemplateLocale = 'en';

/**
 * The template language for a guest's BCP 47 locale: its primary language when templates exist in
 * it (`es-ES`, `es-AR`, `ES` → es), else the fallback (`fr`, `pt-BR`, '' → en).
 */
export function templateLocale(locale: string | undefined): TemplateLocale {
  const primary = (locale ?? '').trim().toLowerCase().split(/[-_]/)[0] ?? '';
  return (LOCALES as readonly string[]).includes(primary) ? (primary as TemplateLocale) : FALLBACK_LOCALE;
}

/**
 * An address as events and lists show it: the first character of the local part, `***`, and the
 * domain (`ana.peregrina@example.org` → `a***@example.org`). Anything that is not an address becomes `***`.
 * Never longer than 320 characters (the events' limit).
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return '***';
  const local = email.slice(0, at);
  const domain = email.slice(at + 1).toLowerCase();
  const first = [...local][0] ?? '';
  return `${first}***@${domain}`.slice(0, 320);
}

/**
 * `text` with every address in it masked: SMTP servers echo the recipient in their replies (`550 5.1.1
 * <ana@example.org>: Recipient address rejected`), and those replies end up in events, logs and DLQ entries.
 */
export function redactEmails(text: string): string {
  return text.replace(/[^\s<>"'(),;:@]+@[^\s<>"'(),;:@]+/g, (address) => maskEmail(address));
}

/** A guest's contact, learnt from BookingReserved. */
export interface Contact {
  readonly guest_id: string;
  readonly name: string;
  readonly email: string;
  readonly locale: string;
}

/** What the read model knows of a guest: the contact, a forgotten guest, or nothing yet. */
export type ContactLookup =
  | { readonly status: 'known'; readonly contact: Contact }
  | { readonly status: 'forgotten'; readonly guest_id: string }
  | { readonly status: 'unknown' };

/**
 * Whether a BookingReserved that occurred at `occurredAt` may (re)write the stored contact: not when a
 * newer event already wrote it (events of several bookings arrive out of order), and not when the
 * guest asked to be forgotten after the event occurred (a replayed old event must not bring the
 * contact back). Instants are ISO-8601 UTC strings of one format, so they compare as strings.
 */
export function mayRemember(
  stored: { readonly as_of: string; readonly forgotten_at?: string | undefined } | undefined,
  occurredAt: string,
): 'remember' | 'stale' | 'forgotten' {
  if (!stored) return 'remember';
  if (stored.forgotten_at !== undefined && stored.forgotten_at >= occurredAt) return 'forgotten';
  if (stored.forgotten_at === undefined && stored.as_of > occurredAt) return 'stale';
  return 'remember';
}
