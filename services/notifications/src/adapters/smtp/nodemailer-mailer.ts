// The Mailer port over SMTP with nodemailer: SMTP_URL (smtp://host:port, smtps://user:pass@host:465).
import nodemailer from 'nodemailer';
import type { Mailer, OutgoingMail } from '../../application/ports.js';
import { MailRejectedError } from '../../application/ports.js';
import { redactEmails } from '../../domain/contact.js';

export interface NodemailerMailerOptions {
  /** smtp:// or smtps:// URL (credentials in it when the server wants them). */
  readonly url: string;
  /** The From header, e.g. `Albergue <no-reply@albergue.example>`. */
  readonly from: string;
  /** Upper bound of one send (connection, greeting and every socket wait); default 10 s. */
  readonly timeoutMs?: number;
}

interface SmtpError {
  readonly code?: string;
  readonly responseCode?: number;
  readonly response?: string;
  readonly message?: string;
}

/**
 * One SMTP connection per message (no pool: nothing is left half-open across an outage). A 5xx answer
 * to the envelope or the message (EENVELOPE / EMESSAGE) is a MailRejectedError (permanent); anything
 * else (connection refused or reset, timeout, 4xx, authentication) is rethrown as it is: transient.
 * Plain SMTP to a loopback host (the mail catcher) does not try STARTTLS; any other host uses it when offered.
 */
export class NodemailerMailer implements Mailer {
  private readonly transport: { sendMail(message: Record<string, unknown>): Promise<unknown>; close(): void };

  constructor(private readonly o: NodemailerMailerOptions) {
    const url = new URL(o.url);
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
      throw new Error(`SMTP_URL must be smtp:// or smtps:// (got ${url.protocol})`);
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    const timeout = o.timeoutMs ?? 10_000;
    this.transport = nodemailer.createTransport({
      url: o.url,
      ignoreTLS: loopback && url.protocol === 'smtp:',
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      disableFileAccess: true,
      disableUrlAccess: true,
    } as Parameters<typeof nodemailer.createTransport>[0]);
  }

  async send(mail: OutgoingMail, signal?: AbortSignal): Promise<{ readonly response: string }> {
    signal?.throwIfAborted();
    try {
      const info = (await this.transport.sendMail({
        from: this.o.from,
        to: { name: mail.to.name, address: mail.to.address },
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        headers: { ...mail.headers, 'Content-Language': mail.language },
        disableFileAccess: true,
        disableUrlAccess: true,
      })) as { response?: string; rejected?: unknown[] };
      return { response: String(info.response ?? '250 OK') };
    } catch (err) {
      // Replies echo the recipient: only the masked address leaves this adapter (events, logs, DLQ entries).
      const e = err as SmtpError;
      if ((e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && typeof e.responseCode === 'number' && e.responseCode >= 500)
        throw new MailRejectedError(redactEmails(e.response ?? e.message ?? 'rejected'), e.responseCode);
      throw Object.assign(new Error(`SMTP: ${redactEmails(e.message ?? String(err))}`), {
        ...(e.code !== undefined ? { code: e.code } : {}),
        ...(e.responseCode !== undefined ? { responseCode: e.responseCode } : {}),
      });
    }
  }

  close(): void {
    this.transport.close();
  }
}
