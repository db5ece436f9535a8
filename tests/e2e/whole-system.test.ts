// The whole system as `npm start` runs it (built JS, every port free, a temporary DATA_DIR, a short
// hold): the demo's flows through the gateway — reserve → pay → confirmed, declined → cancelled, hold
// → expired, document accepted and rejected — each with its event tree from the audit service, its
// events as the broker's observer account sees them (type, correlation, causation) and exactly one
// mail per outcome at the mail catcher, in the guest's language. A second demo run registers nothing
// twice. Then SIGINT, and no process is left in the group.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { DEV_KEYS } from '@albergue/gateway';
import { freePort, waitFor } from '@albergue/platform/testing';
import { EXPECTED_EVENTS, runDemo, walkTree, type CaughtMail, type FlowName } from '../../scripts/demo.js';

const root = new URL('../..', import.meta.url).pathname;

function processesInGroup(pgid: number): number[] {
  const ps = spawnSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' });
  return ps.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
}

/** Signals the process group; false when it is gone already (the system exited by itself). */
function signalGroup(pgid: number, sig: 'SIGINT' | 'SIGKILL'): boolean {
  try {
    return process.kill(-pgid, sig);
  } catch {
    return false;
  }
}

interface Envelope {
  readonly event_id: string;
  readonly event_type: string;
  readonly correlation_id: string;
  readonly causation_id: string;
}

/** The event a flow's mail answers (NotificationSent is caused by it). */
const TOLD_BY: Readonly<Record<FlowName, string>> = {
  paid: 'BookingConfirmed',
  declined: 'PaymentFailed',
  expiry: 'ReservationExpired',
  'document-accepted': 'DocumentValidated',
  'document-rejected': 'DocumentRejected',
};

test(
  'npm start, the whole system: every value stream through the gateway, its events, audit tree and mail',
  { timeout: 300_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'albergue-whole-system-'));
    const ports: Record<string, number> = {};
    for (const name of [
      'LOCATION_PORT',
      'BOOKING_PORT',
      'PAYMENT_PORT',
      'DOCUMENTS_PORT',
      'NOTIFICATIONS_PORT',
      'AUDIT_PORT',
      'OPERATIONS_PORT',
      'MAIL_CATCHER_SMTP_PORT',
      'MAIL_CATCHER_HTTP_PORT',
      'BROKER_HTTP_PORT',
      'BROKER_MQTT_PORT',
      'BROKER_WS_PORT',
      'GATEWAY_PORT',
    ])
      ports[name] = await freePort();
    const env: Record<string, string | undefined> = {
      ...process.env,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      PAYMENT_SIM_LATENCY_MS: '50',
      BOOKING_HOLD_MS: '8000',
      BOOKING_EXPIRY_SWEEP_MS: '200',
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    };
    delete env.NODE_TEST_CONTEXT;
    for (const k of ['MQTT_URL', 'REDIS_URL', 'DATABASE_URL', 'SMTP_URL', 'GATEWAY_KEYS', 'GATEWAY_KEYS_FILE', 'NODE_ENV']) delete env[k];
    // Built JS, as `npm start` runs it (node scripts/test.mjs has built it).
    const child = spawn(process.execPath, ['dist/scripts/start.js'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let exitCode: number | null | undefined;
    child.once('exit', (code) => (exitCode = code));
    const pgid = child.pid!;
    const seen: Envelope[] = [];
    let observer: mqtt.MqttClient | undefined;
    try {
      await waitFor(() => out.includes('Albergue is running') || exitCode !== undefined, {
        timeoutMs: 180_000,
        message: `npm start to report it is running; output so far:\n${out}`,
      });
      assert.ok(out.includes('Albergue is running'), `npm start exited:\n${out}`);
      const gatewayUrl = `http://127.0.0.1:${ports.GATEWAY_PORT}`;
      const mailCatcherUrl = `http://127.0.0.1:${ports.MAIL_CATCHER_HTTP_PORT}`;
      assert.ok(out.includes(gatewayUrl), out);
      assert.ok(out.includes(`${mailCatcherUrl}/messages`), out);

      // Every event on the broker, as the observer account (read-only on albergue/#) sees it.
      observer = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.BROKER_MQTT_PORT}`, {
        clientId: `albergue-observer-whole-system-${process.pid}`,
        username: 'observer',
        password: 'observer-dev-password',
        reconnectPeriod: 200,
      });
      observer.on('message', (_topic, payload) => {
        seen.push(JSON.parse(payload.toString()) as Envelope);
      });
      await observer.subscribeAsync('albergue/#', { qos: 1 });

      const key = (scope: string) => DEV_KEYS.find((k) => k.scopes.includes(scope as never))!.key;
      const lines: string[] = [];
      const results = await runDemo({
        gatewayUrl,
        guestKey: key('guest'),
        hostelKey: key('hostel'),
        operatorKey: key('operator'),
        mailCatcherUrl,
        holdWaitMs: 30_000,
        log: (l) => lines.push(l),
      });
      const log = lines.join('\n');
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
        const events = await waitFor(
          () => {
            const mine = seen.filter((e) => e.correlation_id === r.correlationId);
            return EXPECTED_EVENTS[flow].every((t) => mine.some((e) => e.event_type === t)) ? mine : undefined;
          },
          { timeoutMs: 20_000, message: `${flow}: the observer to see ${EXPECTED_EVENTS[flow].join(', ')}` },
        );
        const byId = new Map(events.map((e) => [e.event_id, e]));
        for (const node of nodes) {
          const e = byId.get(node.event_id);
          assert.ok(e, `${flow}: the observer saw ${node.event_type} ${node.event_id}`);
          assert.equal(e.event_type, node.event_type);
          assert.equal(e.causation_id, node.causation_id, `${flow}: ${node.event_type}'s causation`);
        }
        const sent = events.find((e) => e.event_type === 'NotificationSent')!;
        assert.equal(byId.get(sent.causation_id)?.event_type, TOLD_BY[flow], `${flow}: the mail was caused by ${TOLD_BY[flow]}`);
        const roots = events.filter((e) => !byId.has(e.causation_id));
        assert.equal(roots.length, 1, `${flow}: one root (caused by a command): ${roots.map((e) => e.event_type).join(', ')}`);
        assert.equal(roots[0]!.event_type, EXPECTED_EVENTS[flow][0]);
      }

      // Exactly one mail per outcome, in the guest's language (es for paid/declined, en for the others).
      const mailsTo = async (email: string) =>
        ((await (await fetch(`${mailCatcherUrl}/messages?to=${encodeURIComponent(email)}`)).json()) as { messages: CaughtMail[] }).messages;
      const expectedMails: Record<FlowName, [RegExp[], string]> = {
        paid: [[/^Reserva confirmada/], 'es'],
        declined: [[/^No pudimos cobrar/], 'es'],
        expiry: [[/^Your reservation expired/], 'en'],
        'document-accepted': [[/^Booking confirmed/, /^Document accepted/], 'en'],
        'document-rejected': [[/^Booking confirmed/, /^Your document needs a correction/], 'en'],
      };
      for (const r of results) {
        const [subjects, language] = expectedMails[r.name];
        const mails = await mailsTo(r.email!);
        assert.equal(mails.length, subjects.length, `${r.name}: ${mails.map((m) => m.subject).join(' | ')}`);
        for (const s of subjects) assert.equal(mails.filter((m) => s.test(m.subject)).length, 1, `${r.name}: one mail ${s.source}`);
        for (const m of mails) {
          const lang = Object.entries(m.headers).find(([k]) => k.toLowerCase() === 'content-language')?.[1];
          assert.equal(String(lang), language, `${r.name}: ${m.subject} in ${language}`);
        }
      }
      assert.ok(lines.some((l) => /registered demo-albergue-o-cebreiro|already registered/.test(l)));

      // A second run registers nothing twice.
      const again: string[] = [];
      const second = await runDemo({
        gatewayUrl,
        guestKey: key('guest'),
        hostelKey: key('hostel'),
        holdWaitMs: 0,
        flows: ['paid'],
        log: (l) => again.push(l),
      });
      assert.deepEqual(
        second.map((r) => r.outcome),
        ['ok'],
        again.join('\n'),
      );
      assert.ok(
        again.some((l) => /already registered/.test(l)),
        again.join('\n'),
      );
      const albergues = (await (
        await fetch(`${gatewayUrl}/api/location/albergues`, { headers: { 'x-api-key': key('guest') } })
      ).json()) as {
        albergues: { albergue_id: string }[];
      };
      assert.equal(albergues.albergues.filter((a) => a.albergue_id === 'demo-albergue-o-cebreiro').length, 1);

      // The audit routes are the operator's: a guest key is refused, no key is a 401.
      const tree = `${gatewayUrl}/api/audit/audit/bookings/${results[0]!.bookingId}`;
      assert.equal((await fetch(tree, { headers: { 'x-api-key': key('guest') } })).status, 403);
      assert.equal((await fetch(tree)).status, 401);
    } finally {
      await observer?.endAsync(true).catch(() => undefined);
      signalGroup(pgid, 'SIGINT');
      const stopped = await waitFor(() => exitCode !== undefined, { timeoutMs: 30_000 }).then(
        () => true,
        () => false,
      );
      const left = stopped
        ? await waitFor(() => processesInGroup(pgid).length === 0, { timeoutMs: 5_000 }).then(
            () => [],
            () => processesInGroup(pgid),
          )
        : processesInGroup(pgid);
      if (!stopped || left.length > 0) signalGroup(pgid, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      assert.ok(stopped, `the system did not stop on SIGINT:\n${out}`);
      assert.match(out, /Albergue stopped\./, `the system did not report a clean stop:\n${out}`);
      assert.deepEqual(left, [], 'processes left behind after SIGINT');
    }
  },
);
