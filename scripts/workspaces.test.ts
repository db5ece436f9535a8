// The workspace half of "every import is declared by the package that makes it" (knip checks the
// external packages; it resolves `@albergue/*` imports to files and does not ask who declares them), and
// the build's wiring: each workspace's tsconfig.build.json references exactly the workspaces it depends
// on, and the root build lists every workspace. A new package or service that misses one fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

interface PackageJson {
  name: string;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
interface BuildConfig {
  references?: { path: string }[];
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const workspaces = ['packages', 'services']
  .flatMap((d) => readdirSync(join(root, d)).map((n) => join(d, n)))
  .filter((w) => existsSync(join(root, w, 'package.json')))
  .sort();
const nameOf = new Map(workspaces.map((w) => [readJson<PackageJson>(join(root, w, 'package.json')).name, w]));

function sourceFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sourceFiles(p, out);
    else if (/\.(ts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

/** `@albergue/x` named by an import, export or dynamic import in `text` (type-only ones too: the build needs them). */
function importsIn(text: string): string[] {
  const found = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](@albergue\/[a-z0-9-]+)(?:\/[^'"]*)?['"]/g)].map((m) => m[1]!);
  return [...new Set(found)];
}
const workspaceImports = (file: string) => importsIn(readFileSync(file, 'utf8'));

// Tests, their helpers and the benches may use devDependencies; everything else runs in production.
const isTestOnly = (file: string) =>
  /\.test\.ts$|^bench\/|^tests\/|\/testdata\/|\/testing\/|testing\.ts$|test-databases\.ts$|\.contract\.ts$|contract-suite\.ts$|\.suite\.ts$|postgres-suite\.ts$|fixtures\.ts$/.test(
    file,
  );

test('every @albergue import is declared by the workspace that makes it (production code in dependencies)', () => {
  const problems: string[] = [];
  const check = (dir: string, files: string[]) => {
    const pkg = readJson<PackageJson>(join(root, dir, 'package.json'));
    for (const file of files) {
      for (const dep of workspaceImports(file)) {
        if (dep === pkg.name) continue;
        const where = relative(root, file);
        if (!nameOf.has(dep)) problems.push(`${where}: ${dep} is no workspace`);
        else if (pkg.dependencies?.[dep]) continue;
        else if (pkg.devDependencies?.[dep] && isTestOnly(where)) continue;
        else
          problems.push(
            `${where}: ${dep} is not in ${join(dir, 'package.json')} ${isTestOnly(where) ? 'dependencies or devDependencies' : 'dependencies'}`,
          );
      }
    }
  };
  for (const w of workspaces)
    check(w, [...sourceFiles(join(root, w, 'src')), ...sourceFiles(join(root, w, 'scripts')), ...sourceFiles(join(root, w, 'bin'))]);
  check(
    '.',
    ['scripts', 'bench', 'tests'].flatMap((d) => sourceFiles(join(root, d))),
  );
  assert.deepEqual(problems, []);
});

test('each build config references exactly the workspaces its package depends on, and the root build lists them all', () => {
  const refsOf = (config: string) =>
    (readJson<BuildConfig>(config).references ?? [])
      .map((r) => relative(root, join(config, '..', r.path)).replace(/\/tsconfig\.build\.json$/, ''))
      .sort();
  for (const w of workspaces) {
    const config = join(root, w, 'tsconfig.build.json');
    assert.ok(existsSync(config), `${w} has no tsconfig.build.json (copy one from packages/outbox)`);
    const pkg = readJson<PackageJson>(join(root, w, 'package.json'));
    const deps = Object.keys(pkg.dependencies ?? {})
      .flatMap((d) => nameOf.get(d) ?? [])
      .sort();
    assert.deepEqual(refsOf(config), deps, `${w}/tsconfig.build.json references vs its package.json dependencies`);
  }
  const rootPkg = readJson<PackageJson>(join(root, 'package.json'));
  const scriptDeps = Object.keys(rootPkg.dependencies ?? {})
    .flatMap((d) => nameOf.get(d) ?? [])
    .sort();
  assert.deepEqual(
    refsOf(join(root, 'scripts/tsconfig.build.json')),
    scriptDeps,
    'scripts/tsconfig.build.json references vs the root package.json dependencies',
  );
  assert.deepEqual(
    refsOf(join(root, 'tsconfig.build.json')),
    [...workspaces, 'scripts'].sort(),
    'tsconfig.build.json lists every workspace',
  );
});

test('every package export has the source for TypeScript and tests and the build for plain node', () => {
  const problems: string[] = [];
  for (const w of workspaces) {
    for (const [path, target] of Object.entries(readJson<PackageJson>(join(root, w, 'package.json')).exports ?? {})) {
      const t = (typeof target === 'object' && target !== null ? target : {}) as Record<string, unknown>;
      const src = typeof t.types === 'string' ? t.types : '';
      const ok =
        /^\.\/src\/.+\.ts$/.test(src) &&
        existsSync(join(root, w, src)) &&
        t.development === src &&
        t.default === src.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '.js') &&
        Object.keys(t).join() === 'types,development,default';
      if (!ok)
        problems.push(
          `${w} exports["${path}"] must be { "types": "./src/x.ts", "development": "./src/x.ts", "default": "./dist/x.js" }, got ${JSON.stringify(target)}`,
        );
    }
  }
  assert.deepEqual(problems, []);
});

test('the check sees an undeclared import (hostile: a type-only import, a subpath, a dynamic import)', () => {
  const at = '@albergue'; // spelt apart so that this file does not import what it probes
  const probe = `import type { X } from '${at}/events/node';\nconst m = await import('${at}/outbox');\nexport * from "${at}/platform";\n`;
  assert.deepEqual(importsIn(probe), ['@albergue/events', '@albergue/outbox', '@albergue/platform']);
});
