import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { freePort } from '@albergue/platform/testing';
import type { MailCatcher } from './catcher.js';
import { startMailCatcher } from './catcher.js';

const transportOf = (c: MailCatcher) =>
  nodemailer.createTransport({
    url: c.smtpUrl,
    ignoreTLS: true,
    connectionTimeout: 2000,
    greetingTimeout: 2000,
    socketTimeout: 5000,
  } as never);

async function send(c: MailCatcher, to: string, subject: string, extra: Record<string, unknown> = {}) {
  return transportOf(c).sendMail({ from: 'albergue@example.org', to, subject, text: `body of ${subject}`, ...extra });
}

describe('mail catcher', () => {
  let catcher: MailCatcher;
  const dir = mkdtempSync(join(tmpdir(), 'notifications-catcher-'));

  before(async () => {
    catcher = await startMailCatcher({ smtpPort: 0, httpPort: 0, dir, maxMessageBytes: 64 * 1024, maxMessages: 5 });
  });
  after(async () => {
    await catcher.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('keeps a message: SMTP in, JSON and .eml out, with Message-ID and X-Albergue-* headers, .eml on disk', async () => {
    catcher.clear();
    await send(catcher, 'Ana@Example.org', 'Reserva confirmada', {
      html: '<p>hola</p>',
      messageId: '<n-1@albergue.test>',
      headers: { 'X-Albergue-Notification-Id': 'n-1', 'X-Other': 'dropped' },
    });
    const [m] = await catcher.waitFor((x) => x.subject === 'Reserva confirmada');
    assert.deepEqual(m!.to, ['ana@example.org']);
    assert.equal(m!.from, 'albergue@example.org');
    assert.match(m!.text, /body of Reserva confirmada/);
    assert.match(m!.html ?? '', /<p>hola<\/p>/);
    assert.equal(m!.headers['message-id'], '<n-1@albergue.test>');
    assert.equal(m!.headers['x-albergue-notification-id'], 'n-1');
    assert.equal(m!.headers['x-other'], undefined);
    assert.ok(existsSync(join(dir, `${m!.id}.eml`)));

    const list = (await (await fetch(`${catcher.httpUrl}/messages?to=ana@example.org`)).json()) as { messages: { id: string }[] };
    assert.deepEqual(
      list.messages.map((x) => x.id),
      [m!.id],
    );
    const none = (await (await fetch(`${catcher.httpUrl}/messages?to=nobody@example.org`)).json()) as { messages: unknown[] };
    assert.equal(none.messages.length, 0);
    const one = await fetch(`${catcher.httpUrl}/messages/${m!.id}`);
    assert.equal(((await one.json()) as { subject: string }).subject, 'Reserva confirmada');
    const eml = await fetch(`${catcher.httpUrl}/messages/${m!.id}.eml`);
    assert.equal(eml.headers.get('content-type'), 'message/rfc822');
    const raw = await eml.text();
    assert.match(raw, /Message-ID: <n-1@albergue.test>/i);
    assert.equal(raw, readFileSync(join(dir, `${m!.id}.eml`), 'utf8'));
  });

  test('bad requests are problem+json; DELETE /messages clears memory and files', async () => {
    await send(catcher, 'b@example.org', 'to be cleared');
    await catcher.waitFor((x) => x.subject === 'to be cleared');
    const missing = await fetch(`${catcher.httpUrl}/messages/00000000-0000-4000-8000-000000000000`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('content-type'), 'application/problem+json');
    assert.equal(((await missing.json()) as { code: string }).code, 'message_not_found');
    const unknown = await fetch(`${catcher.httpUrl}/messages?subject=x`);
    assert.equal(unknown.status, 400);
    const twice = await fetch(`${catcher.httpUrl}/messages?to=a&to=b`);
    assert.equal(twice.status, 400);
    const tooLong = await fetch(`${catcher.httpUrl}/messages?to=${'a'.repeat(321)}`);
    assert.equal(tooLong.status, 400);
    assert.equal((await fetch(`${catcher.httpUrl}/nowhere`)).status, 404);
    assert.equal((await fetch(`${catcher.httpUrl}/messages`, { method: 'POST' })).status, 405);
    const files = catcher.messages().map((m) => join(dir, `${m.id}.eml`));
    assert.equal((await fetch(`${catcher.httpUrl}/messages`, { method: 'DELETE' })).status, 204);
    assert.equal(catcher.messages().length, 0);
    for (const f of files) assert.equal(existsSync(f), false);
  });

  test('bounded: a message over the size limit gets 552 and is not kept; beyond maxMessages the oldest goes', async () => {
    catcher.clear();
    await assert.rejects(send(catcher, 'c@example.org', 'too big', { text: 'x'.repeat(100 * 1024) }), (err: { responseCode?: number }) => {
      assert.equal(err.responseCode, 552);
      return true;
    });
    assert.equal(catcher.messages().length, 0);
    for (let i = 0; i < 7; i++) await send(catcher, 'd@example.org', `n${i}`);
    assert.deepEqual(
      catcher.messages().map((m) => m.subject),
      ['n2', 'n3', 'n4', 'n5', 'n6'],
    );
  });

  test('outages: refused connections, 451, 550 per recipient; resume accepts on the same port', async () => {
    catcher.clear();
    await catcher.stopAccepting('refuse');
    await assert.rejects(send(catcher, 'e@example.org', 'while down'), (err: { code?: string }) => {
      assert.equal(err.code, 'ESOCKET');
      return true;
    });
    await catcher.resume();
    await catcher.stopAccepting('tempfail');
    await assert.rejects(send(catcher, 'e@example.org', 'tempfail'), (err: { responseCode?: number }) => err.responseCode === 451);
    await catcher.resume();
    catcher.rejectRecipient('Gone@example.org');
    await assert.rejects(send(catcher, 'gone@example.org', 'rejected'), (err: { responseCode?: number }) => err.responseCode === 550);
    await send(catcher, 'e@example.org', 'after the outage');
    assert.deepEqual(
      catcher.messages().map((m) => m.subject),
      ['after the outage'],
    );
  });

  test('a port in use is an error naming the variable to set', async () => {
    const port = await freePort();
    const first = await startMailCatcher({ smtpPort: port, httpPort: 0 });
    try {
      await assert.rejects(startMailCatcher({ smtpPort: port, httpPort: 0 }), /MAIL_CATCHER_SMTP_PORT/);
      await assert.rejects(startMailCatcher({ smtpPort: 0, httpPort: first.httpPort }), /MAIL_CATCHER_HTTP_PORT/);
    } finally {
      await first.close();
    }
  });
});
