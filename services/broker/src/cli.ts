// Operator CLI over the delivery ledger in Redis (REDIS_URL, default redis://127.0.0.1:6379):
//   npm run albergue-broker -- dlq list
//   npm run albergue-broker -- dlq show <topic> [--offset N] [--limit N] [--id ID]
//   npm run albergue-broker -- dlq replay <topic> [--id ID ...] [--subscriber S] [--dry-run]
//   npm run albergue-broker -- dlq purge <topic> [--id ID ...] [--subscriber S] --yes
//   npm run albergue-broker -- circuits list
//   npm run albergue-broker -- circuits reset <subscriber> <topic>
// Output is JSON; exit code 2 on usage errors, 1 on failures.
import { USAGE, UsageError, runCommand } from './cli-commands';

try {
  const out = await runCommand(process.argv.slice(2), process.env.REDIS_URL !== undefined ? { url: process.env.REDIS_URL } : {});
  console.log(JSON.stringify(out, null, 2));
} catch (err) {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    if ((err as Error).message) console.error(`albergue-broker: ${(err as Error).message}`);
    console.error(USAGE);
    process.exitCode = 2;
  } else {
    console.error(`albergue-broker: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
