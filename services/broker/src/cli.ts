// Operator CLI over the broker's admin HTTP API (BROKER_URL, BROKER_ADMIN_TOKEN; see USAGE):
//   npx albergue-broker dlq list | circuits list | subscriptions list | retained list 'albergue/#' ...
// Output is JSON; exit code 2 on usage errors, 1 on failures (one line on stderr).
import { BrokerError, BrokerUnreachableError, USAGE, UsageError, runCommand } from './cli-commands.js';

try {
  const out = await runCommand(process.argv.slice(2));
  console.log(JSON.stringify(out, null, 2));
} catch (err) {
  if (err instanceof UsageError) {
    if (err.message) console.error(`albergue-broker: ${err.message}`);
    console.error(USAGE);
    process.exitCode = 2;
  } else if (err instanceof BrokerError || err instanceof BrokerUnreachableError) {
    console.error(`albergue-broker: ${err.message}`);
    process.exitCode = 1;
  } else {
    console.error(`albergue-broker: ${(err as Error).message.split('\n')[0]}`);
    process.exitCode = 1;
  }
}
