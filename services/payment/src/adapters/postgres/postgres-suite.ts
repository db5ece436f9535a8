// Payment's port contracts on Postgres, for pg.test.ts (real Postgres) and pglite.test.ts: one
// database per file, migrated once, emptied before each test.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EventEnvelope } from '@albergue/events';
import { events } from '@albergue/events';
import type { SqlDatabase } from '@albergue/outbox';
import { migrate, OUTBOX_MIGRATIONS, runInbox } from '@albergue/outbox';
import { paymentQueriesContract } from '../../application/payment-queries.contract.js';
import type { PaymentStoreHarness } from '../../application/payment-repository.contract.js';
import { paymentRepositoryContract } from '../../application/payment-repository.contract.js';
import { SIMULATED_CARD_NETWORK_MIGRATIONS } from '../provider/simulated-card-network.js';
import { PAYMENT_MIGRATIONS } from './migrations.js';
import { PgPaymentQueries } from './pg-payment-queries.js';
import { PgPaymentRepository } from './pg-payment-repository.js';
import type { TestDatabase } from '@albergue/outbox/test-databases';
import { someoneWaitsForALock } from '@albergue/outbox/test-databases';

const ALL_MIGRATIONS = [...OUTBOX_MIGRATIONS, ...PAYMENT_MIGRATIONS, ...SIMULATED_CARD_NETWORK_MIGRATIONS];

export function postgresPaymentSuite(label: string, open: () => Promise<TestDatabase>): void {
  let handle: TestDatabase | undefined;
  const db = (): SqlDatabase => {
    if (!handle) throw new Error('the test database is not open');
    return handle.db;
  };

  before(async () => {
    handle = await open();
    const report = await migrate(db(), ALL_MIGRATIONS);
    assert.deepEqual(
      report.applied,
      ALL_MIGRATIONS.map((m) => m.version),
    );
  });

  after(async () => {
    await handle?.dispose();
  });

  test(`${label}: migrations — payment's run after the outbox's from version 100; a second run changes nothing`, async () => {
    assert.ok(PAYMENT_MIGRATIONS.every((m) => m.version >= 100 && m.version < 150));
    assert.ok(SIMULATED_CARD_NETWORK_MIGRATIONS.every((m) => m.version >= 150));
    const again = await migrate(db(), ALL_MIGRATIONS);
    assert.deepEqual(again, { applied: [], skipped: ALL_MIGRATIONS.map((m) => m.version) });
    const { rows } = await db().query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 'payment%' ORDER BY table_name`,
    );
    assert.deepEqual(
      rows.map((r) => r.table_name),
      ['payment_views', 'payments'],
    );
  });

  const harness: PaymentStoreHarness = {
    label,
    withNetwork: true,
    async fresh() {
      const d = db();
      await d.exec(
        'TRUNCATE payments, payment_views, outbox_events, inbox_events, charge_attempts, refunds, sim_card_network_charges, sim_card_network_cancellations',
      );
      const repo = new PgPaymentRepository(d);
      const fixture = {
        db: d,
        repo,
        queries: new PgPaymentQueries(d),
        async handle<T>(
          envelope: EventEnvelope,
          work: (tx: ReturnType<PgPaymentRepository['forTransaction']>) => Promise<T>,
        ): Promise<T | undefined> {
          const topic = events.definition(envelope.event_type, envelope.event_version)?.topic ?? envelope.event_type;
          const r = await runInbox(d, { subscriber: 'payment', eventId: envelope.event_id, topic }, (tx) => work(repo.forTransaction(tx)));
          return r.status === 'processed' ? r.value : undefined;
        },
        async outbox(): Promise<EventEnvelope[]> {
          const { rows } = await d.query<{ envelope: EventEnvelope }>('SELECT envelope FROM outbox_events ORDER BY id');
          return rows.map((r) => r.envelope);
        },
      };
      return d.driver === 'pg' ? { ...fixture, someoneWaitsForALock: () => someoneWaitsForALock(d) } : fixture;
    },
  };

  paymentRepositoryContract(harness);
  paymentQueriesContract(harness);
}
