// Location's Postgres adapter on PGlite, persisted in a temporary folder removed at the end.
import { postgresLocationSuite } from './postgres-suite';
import { openTestPglite } from './testing';

postgresLocationSuite('pglite', () => openTestPglite('location-pglite'));
