// Location's Postgres adapter on real Postgres (127.0.0.1:5432; PG_ADMIN_URL overrides), in a
// database of its own that is dropped at the end.
import { postgresLocationSuite } from './postgres-suite.js';
import { openTestPostgres } from '@albergue/outbox/test-databases';

postgresLocationSuite('pg', () => openTestPostgres('location_test'));
