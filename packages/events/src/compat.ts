/**
 * Compatibility of a new JSON Schema against a published one of the same event version.
 * Allowed without a new version: additive optional fields, new enum values, looser descriptions.
 * Breaking (needs a new version + upcaster): a field removed, a type changed, a new required field,
 * an enum value removed, a const changed, a format or pattern changed.
 */
export interface Incompatibility {
  readonly path: string;
  readonly message: string;
}

type Schema = Record<string, unknown>;

const asSchema = (v: unknown): Schema | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Schema) : undefined);
const typesOf = (s: Schema): string[] => (s.type === undefined ? [] : Array.isArray(s.type) ? (s.type as string[]) : [s.type as string]);

export function compareSchemas(published: unknown, proposed: unknown, path = ''): Incompatibility[] {
  const a = asSchema(published);
  const b = asSchema(proposed);
  const at = path || '/';
  if (!a) return [];
  if (!b) return [{ path: at, message: 'schema removed' }];
  const out: Incompatibility[] = [];

  const ta = typesOf(a);
  const tb = typesOf(b);
  if (ta.join('|') !== tb.join('|'))
    out.push({ path: at, message: `type changed from ${ta.join('|') || 'any'} to ${tb.join('|') || 'any'}` });
  if (JSON.stringify(a.const) !== JSON.stringify(b.const))
    out.push({ path: at, message: `const changed from ${JSON.stringify(a.const)} to ${JSON.stringify(b.const)}` });
  for (const k of ['format', 'pattern'] as const) {
    if (a[k] !== b[k]) out.push({ path: at, message: `${k} changed from ${String(a[k])} to ${String(b[k])}` });
  }
  if (Array.isArray(a.enum)) {
    const next = new Set(Array.isArray(b.enum) ? (b.enum as unknown[]).map((x) => JSON.stringify(x)) : []);
    for (const v of a.enum as unknown[]) {
      if (!Array.isArray(b.enum) || !next.has(JSON.stringify(v)))
        out.push({ path: at, message: `enum value ${JSON.stringify(v)} removed` });
    }
  } else if (Array.isArray(b.enum)) {
    out.push({ path: at, message: 'enum added to a field that accepted any value' });
  }
  // Bounds that got tighter reject values that were valid before.
  for (const [k, tighter] of [
    ['minimum', (x: number, y: number) => y > x],
    ['maximum', (x: number, y: number) => y < x],
    ['minLength', (x: number, y: number) => y > x],
    ['maxLength', (x: number, y: number) => y < x],
    ['minItems', (x: number, y: number) => y > x],
    ['maxItems', (x: number, y: number) => y < x],
  ] as const) {
    const x = a[k];
    const y = b[k];
    if (typeof y === 'number' && (typeof x !== 'number' || tighter(x, y)))
      out.push({ path: at, message: `${k} tightened from ${String(x)} to ${y}` });
  }

  const pa = asSchema(a.properties) ?? {};
  const pb = asSchema(b.properties) ?? {};
  for (const name of Object.keys(pa)) {
    if (!(name in pb)) out.push({ path: `${path}/${name}`, message: 'field removed' });
    else out.push(...compareSchemas(pa[name], pb[name], `${path}/${name}`));
  }
  const ra = new Set((a.required as string[] | undefined) ?? []);
  for (const name of (b.required as string[] | undefined) ?? []) {
    if (!ra.has(name)) out.push({ path: `${path}/${name}`, message: name in pa ? 'optional field became required' : 'new required field' });
  }
  if (a.additionalProperties !== false && b.additionalProperties === false)
    out.push({ path: at, message: 'no longer accepts additional fields' });
  if (a.items !== undefined) out.push(...compareSchemas(a.items, b.items, `${path}/items`));
  for (const k of ['anyOf', 'oneOf'] as const) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.push({ path: at, message: `${k} changed` });
  }
  return out;
}
