// Documents' Postgres adapter on PGlite (the embedded `npm start`), persisted in a temporary folder.
import { openTestPglite } from '@albergue/outbox/test-databases';
import { postgresDocumentsSuite } from './postgres-suite.js';

postgresDocumentsSuite('pglite', () => openTestPglite('documents-pglite'));
