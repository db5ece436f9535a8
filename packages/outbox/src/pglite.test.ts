// The outbox/inbox contract on PGlite, persisted in a temporary data folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteDatabase } from './db/pglite.js';
import { outboxContract } from './contract-suite.js';

let dir: string | undefined;

outboxContract({
  label: 'pglite',
  async open() {
    dir ??= await mkdtemp(join(tmpdir(), 'outbox-pglite-'));
    return PgliteDatabase.open(join(dir, 'data'));
  },
  async cleanup() {
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});
