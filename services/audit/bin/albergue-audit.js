#!/usr/bin/env node
// `npx albergue-audit flow <booking_id|correlation_id>`: the operator's view of a flow (src/cli.ts), as built by `npm run build`.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('albergue-audit: the audit service is not built (no services/audit/dist/cli.js); run `npm run build` first.');
  process.exit(1);
}
await import(cli.href);
