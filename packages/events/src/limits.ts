import type { Problem } from './validation.js';

/** Deepest nesting of objects/arrays an envelope may have (the envelope itself is level 1). */
export const DEFAULT_MAX_DEPTH = 64;

export interface JsonLimits {
  /** Deepest nesting of objects and arrays (default 64). */
  readonly maxDepth?: number;
  /**
   * JSON size in bytes an object may stand for, counted as its JSON text without escapes and with
   * strings by UTF-16 length (a lower bound of the real size, so nothing is refused that would fit
   * as text). Only checked for object input: text and bytes are measured exactly.
   */
  readonly maxBytes?: number;
}

/** JSON Pointer segment (RFC 6901). */
const segment = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * Why text cannot be stored or passed on as it is, or undefined: Postgres refuses U+0000 in `text`
 * and `jsonb`, and a lone UTF-16 surrogate cannot be encoded as UTF-8 (it would be replaced, so
 * the stored fact would differ from the published one).
 */
export function unstorableTextReason(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains the NUL character \\u0000, which cannot be stored';
  if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed())
    return 'contains a lone UTF-16 surrogate, which is not valid Unicode text';
  return undefined;
}

/**
 * Checks a JSON-like value without recursion, before any recursive work is done on it (ajv,
 * structuredClone, deep freeze): nesting depth, approximate size, plain JSON types only, and text
 * that can be stored (no NUL, no lone surrogate, in keys as in values). Returns the first problem,
 * located by its JSON Pointer, or undefined.
 */
export function jsonValueProblem(root: unknown, limits: JsonLimits = {}): Problem | undefined {
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxBytes = limits.maxBytes ?? Number.POSITIVE_INFINITY;
  // Explicit stack: [value, depth, pointer]. Depth is bounded before a child is pushed, and every
  // node adds to `size`, so a cyclic or huge object ends with a problem, not a hang.
  const stack: [unknown, number, string][] = [[root, 1, '']];
  let size = 0;
  while (stack.length > 0) {
    const [value, depth, path] = stack.pop()!;
    const at = path || '/';
    size += 1; // the separator before it
    switch (typeof value) {
      case 'string': {
        size += value.length + 2;
        const why = unstorableTextReason(value);
        if (why) return { path: at, message: `text ${why}` };
        break;
      }
      case 'number':
        if (!Number.isFinite(value)) return { path: at, message: `${value} is not a JSON number` };
        size += String(value).length;
        break;
      case 'boolean':
        size += value ? 4 : 5;
        break;
      case 'object': {
        if (value === null) {
          size += 4;
          break;
        }
        size += 2;
        if (depth > maxDepth) return { path: at, message: `nested deeper than the limit of ${maxDepth} levels` };
        if (Array.isArray(value)) {
          for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], depth + 1, `${path}/${i}`]);
        } else {
          const proto = Object.getPrototypeOf(value) as unknown;
          if (proto !== Object.prototype && proto !== null) return { path: at, message: 'not a plain JSON object' };
          const keys = Object.keys(value);
          for (let i = keys.length - 1; i >= 0; i--) {
            const key = keys[i]!;
            size += key.length + 3;
            const why = unstorableTextReason(key);
            if (why) return { path: at, message: `field name ${JSON.stringify(key)} ${why}` };
            stack.push([(value as Record<string, unknown>)[key], depth + 1, `${path}/${segment(key)}`]);
          }
        }
        break;
      }
      default:
        // undefined, function, symbol, bigint: nothing JSON could have produced.
        return { path: at, message: `a ${typeof value} is not a JSON value` };
    }
    if (size > maxBytes) return { path: '/', message: `message is larger than the ${maxBytes}-byte limit` };
  }
  return undefined;
}

/**
 * The nesting depth of JSON text exceeds `maxDepth`? Scans brackets outside strings in one pass
 * (linear, no recursion), so a deeply nested document is refused before it is parsed.
 */
export function jsonTextTooDeep(text: string, maxDepth = DEFAULT_MAX_DEPTH): boolean {
  // Fewer opening brackets than the limit (strings' included: an upper bound) cannot nest deeper;
  // indexOf is native, so the common envelope is settled without walking its characters.
  let opening = 0;
  for (const bracket of ['{', '[']) {
    for (let i = text.indexOf(bracket); i !== -1 && opening <= maxDepth; i = text.indexOf(bracket, i + 1)) opening++;
  }
  if (opening <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
