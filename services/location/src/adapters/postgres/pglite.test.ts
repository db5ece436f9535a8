// Location's Postgres adapter on PGlite, persisted in a temporary folder removed at the end.
import { postgresLocationSuite } from './postgres-suite.js';
import { openTestPglite } from '@albergue/outbox/test-databases';

postgresLocationSuite('pglite', () => openTestPglite('location-pglite'));
