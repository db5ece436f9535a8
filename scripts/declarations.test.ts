// The composition root's declarations and the broker's independence from the services (issue 12):
// accounts exist exactly for the services the system runs, and the broker (infrastructure) neither
// imports nor depends on any business service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { grantsFromDeclarations } from '@albergue/broker';
import { SYSTEM_DECLARATIONS } from './declarations.js';

const root = new URL('..', import.meta.url).pathname;
const packageName = (dir: string) => (JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { name: string }).name;
/** Every workspace under services/ except the broker: the business services. */
const businessServices = readdirSync(join(root, 'services')).filter(
  (d) => d !== 'broker' && statSync(join(root, 'services', d)).isDirectory(),
);

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) sourceFiles(p, out);
    else if (/\.(ts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

test('the system declares exactly the services it runs: one MQTT account each, plus the observer', () => {
  const declared = SYSTEM_DECLARATIONS.map((d) => d.service).sort();
  assert.deepEqual(declared, [...businessServices].sort(), 'scripts/declarations.ts and services/* disagree');
  for (const s of declared) assert.equal(packageName(`services/${s}`), `@albergue/${s}`);
  assert.deepEqual(
    grantsFromDeclarations(SYSTEM_DECLARATIONS)
      .map((g) => g.username)
      .sort(),
    [...declared, 'observer'].sort(),
  );
  // `npm start` and `start:services` run each of them.
  const start = readFileSync(join(root, 'scripts/start.ts'), 'utf8');
  const startServices = readFileSync(join(root, 'scripts/start-services.ts'), 'utf8');
  for (const s of declared) {
    assert.match(start, new RegExp(`@albergue/${s}/service`), `npm start runs ${s}`);
    // The services in start order, the gateway last on its own.
    assert.match(startServices, new RegExp(`SERVICE_ORDER = \\[[^\\]]*'${s}'|run\\('${s}'`), `start:services runs ${s}`);
  }
});

test('the broker imports no business service and does not depend on one', () => {
  const names = businessServices.map((d) => packageName(`services/${d}`));
  const broker = join(root, 'services/broker');
  const manifest = JSON.parse(readFileSync(join(broker, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const dep of Object.keys(manifest[field] ?? {}))
      assert.ok(!names.includes(dep), `services/broker/package.json ${field} has ${dep}`);
  }
  const files = [...sourceFiles(join(broker, 'src')), ...sourceFiles(join(broker, 'bin'))];
  assert.ok(files.length > 20, `read ${files.length} broker files`);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const name of names) {
      // Any spelling of a module specifier: import/export from, import(), require().
      assert.ok(
        !new RegExp(`['"\`]${name.replace('/', '\\/')}(/[^'"\`]*)?['"\`]`).test(text),
        `${file.slice(root.length)} imports ${name}`,
      );
    }
  }
});
