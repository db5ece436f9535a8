// Payload fields of an event's JSON Schema, flattened: nested objects as dotted paths, array items
// as `path[]`, each with its type (and constraints), whether it is required, and its description.

export interface FieldRow {
  readonly path: string;
  readonly type: string;
  /** Required in its object. */
  readonly required: boolean;
  /** The nearest optional object above it, if any: then it is required only when that one is present. */
  readonly optionalParent?: string;
  readonly description: string;
}

type Schema = Record<string, unknown>;

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeOf(s: Schema): string {
  if ('const' in s) return `const ${JSON.stringify(s.const)}`;
  if (Array.isArray(s.enum)) return `enum ${s.enum.map((v) => JSON.stringify(v)).join(' \\| ')}`;
  const alternatives = s.anyOf ?? s.oneOf;
  if (Array.isArray(alternatives)) return alternatives.map((a) => (isSchema(a) ? typeOf(a) : '?')).join(' \\| ');
  let type = Array.isArray(s.type) ? s.type.join(' \\| ') : typeof s.type === 'string' ? s.type : 'any';
  if (type === 'array' && isSchema(s.items)) type = `array of ${typeOf(s.items)}`;
  const notes: string[] = [];
  if (typeof s.format === 'string') notes.push(`format ${s.format}`);
  if (typeof s.pattern === 'string') notes.push(`pattern \`${s.pattern}\``);
  const range = (lo: string, hi: string, unit: string) => {
    const min = s[lo];
    const max = s[hi];
    if (typeof min === 'number' && typeof max === 'number') notes.push(`${unit}${min}..${max}`);
    else if (typeof min === 'number') notes.push(`${unit}≥ ${min}`);
    else if (typeof max === 'number') notes.push(`${unit}≤ ${max}`);
  };
  range('minimum', 'maximum', '');
  range('minLength', 'maxLength', 'length ');
  range('minItems', 'maxItems', 'items ');
  return notes.length > 0 ? `${type} (${notes.join(', ')})` : type;
}

/** The rows of an object schema's properties, depth first in declaration order. */
export function schemaFields(schema: Schema, prefix = '', optionalParent?: string): FieldRow[] {
  const rows: FieldRow[] = [];
  const properties = isSchema(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  for (const [name, child] of Object.entries(properties)) {
    if (!isSchema(child)) continue;
    const path = `${prefix}${name}`;
    const req = required.has(name);
    rows.push({
      path,
      type: typeOf(child),
      required: req,
      ...(optionalParent !== undefined ? { optionalParent } : {}),
      description: typeof child.description === 'string' ? child.description : '',
    });
    const below = optionalParent ?? (req ? undefined : path);
    if (isSchema(child.properties)) rows.push(...schemaFields(child, `${path}.`, below));
    else if (child.type === 'array' && isSchema(child.items) && isSchema(child.items.properties))
      rows.push(...schemaFields(child.items, `${path}[].`, below));
  }
  return rows;
}

/** The payload rows of an event's full (envelope) schema. */
export function payloadFields(eventSchema: Schema): FieldRow[] {
  const props = eventSchema.properties;
  const payload = isSchema(props) ? props.payload : undefined;
  return isSchema(payload) ? schemaFields(payload) : [];
}
