// npm run bench: every benchmark in this folder, one after another (each bounded in count and time).
// Figures are ratios against a baseline measured in the same run: these machines are shared and noisy.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const dir = new URL('.', import.meta.url).pathname;
const only = process.argv.slice(2);
const all = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts'));
// A name that is a bench runs that bench alone (`scale` is not also `embedded-scale`); else by substring.
const benches = all
  .filter((f) => only.length === 0 || only.some((o) => (all.includes(`${o}.ts`) ? f === `${o}.ts` : f.includes(o))))
  .sort();
let failed = 0;
for (const f of benches) {
  console.log(`\n=== bench/${f}`);
  const r = spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', `${dir}${f}`], {
    stdio: 'inherit',
    timeout: 10 * 60_000,
  });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
