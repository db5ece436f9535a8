// The pure entry (what domains import) reaches no file system and no sample data; the node entry
// carries them. Checked on the module graph itself, so a later import cannot slip them back in.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import * as pure from './index.js';
import * as node from './node.js';

const src = dirname(new URL(import.meta.url).pathname);

/** Every module reachable from `entry` through relative imports, and the bare specifiers they import. */
function graph(entry: string): { files: string[]; external: Set<string> } {
  const files: string[] = [];
  const external = new Set<string>();
  const queue = [join(src, entry)];
  while (queue.length > 0 && files.length < 500) {
    const file = queue.shift()!;
    if (files.includes(file)) continue;
    files.push(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.'))
        queue.push(join(dirname(file), spec.endsWith('.ts') ? spec : spec.endsWith('.js') ? `${spec.slice(0, -3)}.ts` : `${spec}.ts`));
      else external.add(spec);
    }
  }
  return { files: files.map((f) => relative(src, f)), external };
}

test('the pure entry imports nothing from node: and neither the schema files nor the samples', () => {
  const { files, external } = graph('index.ts');
  assert.deepEqual(
    [...external].filter((s) => s.startsWith('node:') || ['fs', 'path'].includes(s)),
    [],
  );
  for (const f of ['schema-files.ts', 'samples.ts', 'compat.ts', 'node.ts']) assert.ok(!files.includes(f), `${f} reached from index.ts`);
  assert.ok(files.includes('definitions/index.ts') && files.includes('envelope.ts'));
  assert.equal('SAMPLE_PAYLOADS' in pure || 'SCHEMA_DIR' in pure || 'planSchemas' in pure, false);
});

test('the node entry has the schema files, the compatibility check and the samples', () => {
  assert.ok(graph('node.ts').external.has('node:fs'));
  assert.equal(typeof node.planSchemas, 'function');
  assert.equal(typeof node.compareSchemas, 'function');
  assert.ok(node.SAMPLE_PAYLOADS.BookingReserved.booking_id);
});
