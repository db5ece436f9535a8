import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { EventDefinition } from './define.js';
import type { Incompatibility } from './compat.js';
import { compareSchemas } from './compat.js';
import { eventSchema, schemaFileName } from './schema.js';

/** The committed schema folder of this package. */
export const SCHEMA_DIR = new URL('../schemas', import.meta.url).pathname;

export function renderSchema(def: EventDefinition): string {
  return `${JSON.stringify(eventSchema(def), null, 2)}\n`;
}

export interface SchemaPlan {
  /** Files that would be written (new, or changed compatibly). */
  readonly writes: { file: string; status: 'new' | 'changed' }[];
  /** Files on disk that no definition generates any more. */
  readonly orphans: string[];
  /** Breaking changes to already committed versions: refuse them. */
  readonly breaking: { file: string; problems: Incompatibility[] }[];
}

function listJson(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.schema.json'))
    .map((f) => f.split('\\').join('/'));
}

/** Compares what the definitions generate with the files in `dir` (the committed, published schemas). */
export function planSchemas(definitions: readonly EventDefinition[], dir = SCHEMA_DIR): SchemaPlan {
  const plan: SchemaPlan = { writes: [], orphans: [], breaking: [] };
  const generated = new Set<string>();
  for (const def of definitions) {
    const file = schemaFileName(def);
    generated.add(file);
    const path = join(dir, file);
    const next = renderSchema(def);
    if (!existsSync(path)) {
      plan.writes.push({ file, status: 'new' });
      continue;
    }
    const current = readFileSync(path, 'utf8');
    if (current === next) continue;
    let published: unknown;
    try {
      published = JSON.parse(current);
    } catch {
      plan.writes.push({ file, status: 'changed' });
      continue;
    }
    const problems = compareSchemas(published, JSON.parse(next));
    if (problems.length > 0) plan.breaking.push({ file, problems });
    else plan.writes.push({ file, status: 'changed' });
  }
  for (const f of listJson(dir)) if (!generated.has(f)) plan.orphans.push(f);
  return plan;
}

export function writeSchemas(definitions: readonly EventDefinition[], plan: SchemaPlan, dir = SCHEMA_DIR): void {
  const byFile = new Map(definitions.map((d) => [schemaFileName(d), d]));
  for (const w of plan.writes) {
    const def = byFile.get(w.file);
    if (!def) continue;
    const path = join(dir, w.file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, renderSchema(def));
  }
}

export function describePlan(plan: SchemaPlan, dir = SCHEMA_DIR): string {
  const lines: string[] = [];
  const rel = (f: string) => relative(process.cwd(), join(dir, f));
  for (const b of plan.breaking) {
    lines.push(`BREAKING ${rel(b.file)}:`);
    for (const p of b.problems) lines.push(`  ${p.path}: ${p.message}`);
  }
  for (const w of plan.writes) lines.push(`${w.status === 'new' ? 'new     ' : 'changed '} ${rel(w.file)}`);
  for (const o of plan.orphans)
    lines.push(`orphan   ${rel(o)} (no definition generates it; published versions are never deleted by the tool)`);
  return lines.join('\n');
}
