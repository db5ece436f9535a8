// Payment's Postgres adapter on PGlite, persisted in a temporary folder removed at the end.
import { postgresPaymentSuite } from './postgres-suite.js';
import { openTestPglite } from '@albergue/outbox/test-databases';

postgresPaymentSuite('pglite', () => openTestPglite('payment-pglite'));
