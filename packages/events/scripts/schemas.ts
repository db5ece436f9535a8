// npm run schemas        → writes packages/events/schemas/** from the definitions (refuses breaking changes)
// npm run schemas:check  → fails on a breaking change to a committed version or on stale files
import { ALL_EVENTS } from '../src/definitions/index.js';
import { describePlan, planSchemas, writeSchemas, SCHEMA_DIR } from '../src/schema-files.js';

const mode = process.argv[2] ?? 'check';
const dirArg = process.argv.indexOf('--dir');
const dir = dirArg > 0 && process.argv[dirArg + 1] ? process.argv[dirArg + 1]! : SCHEMA_DIR;
const plan = planSchemas(ALL_EVENTS, dir);
const report = describePlan(plan, dir);

if (plan.breaking.length > 0) {
  console.error(report);
  console.error(
    '\nA published event version cannot change incompatibly: consumers, DLQ entries and backlogs still hold it.\n' +
      'Define a new version (name + version: N+1, topic albergue.<context>.vN+1.<Event>) and add an upcaster from vN in\n' +
      'packages/events/src/upcasters.ts. Additive optional fields keep the version.',
  );
  process.exit(1);
}

if (mode === 'write') {
  writeSchemas(ALL_EVENTS, plan, dir);
  console.log(report || `schemas up to date (${ALL_EVENTS.length} event versions)`);
} else if (mode === 'check') {
  if (plan.writes.length > 0) {
    console.log(`${report}\n\nCompatible changes: run \`npm run schemas\` and commit the files.`);
  } else {
    console.log(`schemas compatible and up to date (${ALL_EVENTS.length} event versions)`);
  }
} else {
  console.error(`unknown mode "${mode}": use write or check`);
  process.exit(2);
}
