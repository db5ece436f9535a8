#!/usr/bin/env node
// Runs every *.test.ts under packages/ and services/ with Node's test runner (tsx for TypeScript).
// Usage: node scripts/test.mjs [path-filter ...]   e.g. node scripts/test.mjs packages/events
// Tests run the TypeScript sources: `--conditions=development` makes `@albergue/*` imports resolve to
// `src/*.ts` (package.json `exports`), and child processes that tests start pass it on. The build
// (`tsc -b`, incremental) runs first, because a few tests run what users run: the built CLI, `npm start`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.') || name === 'data' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const files = ['packages', 'services', 'scripts', 'tests', 'bench']
  .flatMap((d) => {
    try {
      return walk(join(root, d), []);
    } catch {
      return [];
    }
  })
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error(`No test files matched ${filters.join(' ') || '(all)'}.`);
  process.exit(1);
}

const build = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) {
  console.error('The build (tsc -b tsconfig.build.json) failed; no tests were run.');
  process.exit(build.status ?? 1);
}

const concurrency = process.env.TEST_CONCURRENCY ?? '1';
const res = spawnSync(
  process.execPath,
  ['--conditions=development', '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(res.status ?? 1);
