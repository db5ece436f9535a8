// `node services/operations/dist/cli.js rebuild <name>|all` (npm run projections:rebuild -- <name>|all).
import { runRebuildCli } from './rebuild-cli.js';

runRebuildCli(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
