// npm run bench: every benchmark in this folder, one after another (each bounded in count and time).
// Figures are ratios against a baseline measured in the same run: these machines are shared and noisy.
// Each bench prints `BENCH_RESULT {json}` lines (bench/lib/report.ts) among its output; this runner
// passes the output through live, collects those lines, ends with one summary table of every goal
// and writes them to bench/results.json (a list of { id, ratio, goal, met, measured, baseline }).
//   npm run bench                 every bench
//   npm run bench -- flows events only the benches whose file name contains one of these
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { BenchResult } from './lib/report.js';
import { collectResults, summaryTable } from './lib/summary.js';

const dir = new URL('.', import.meta.url).pathname;
const only = process.argv.slice(2);
const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts'));
// A name that is a bench runs that bench alone (`scale` is not also `embedded-scale`); else by substring.
const benches = files
  .filter((f) => only.length === 0 || only.some((o) => (files.includes(`${o}.ts`) ? f === `${o}.ts` : f.includes(o))))
  .sort();

/** Runs one bench as a child process (10 min at most): its output goes through live; its result lines are collected. */
function runBench(file: string): Promise<{ ok: boolean; results: BenchResult[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', `${dir}${file}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 10 * 60_000,
    });
    const collector = collectResults((line) => process.stdout.write(`${line}\n`));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => collector.push(chunk));
    child.once('close', (code) => resolve({ ok: code === 0, results: collector.end() }));
  });
}

let failed = 0;
const all: BenchResult[] = [];
for (const f of benches) {
  console.log(`\n=== bench/${f}`);
  const r = await runBench(f);
  if (!r.ok) {
    failed++;
    console.log(`=== bench/${f} FAILED`);
  }
  all.push(...r.results);
}
console.log(`\n=== Summary (${availableParallelism()} cores; ratio = measured / baseline)`);
console.log(summaryTable(all));
const out = `${dir}results.json`;
writeFileSync(out, `${JSON.stringify(all, null, 2)}\n`);
console.log(`${all.length} result(s) written to ${out}${failed > 0 ? `; ${failed} bench(es) failed` : ''}`);
process.exit(failed > 0 ? 1 : 0);
