#!/usr/bin/env node
// `npx albergue-broker …`: the operator CLI (src/cli.ts), as built by `npm run build` (dist/cli.js).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('albergue-broker: the broker is not built (no services/broker/dist/cli.js); run `npm run build` first.');
  process.exit(1);
}
await import(cli.href);
