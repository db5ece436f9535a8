import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { fastDateFormats } from './formats.js';

// ajv-formats is CommonJS with a default export; normalise the interop shape once.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

/** One validation problem, located by its JSON path (RFC 6901 pointer, "/" for the root). */
export interface Problem {
  readonly path: string;
  readonly message: string;
}

/**
 * A fresh ajv instance for draft 2020-12 with formats; compile once, validate many. `allErrors` (every problem, for messages) or the first problem only: the verdict is the same, and
 * stopping at the first problem is the cheaper code on the hot path; the complete list is computed
 * again only for input that failed.
 */
export function createAjv(o: { readonly allErrors?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: o.allErrors ?? true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  for (const [name, format] of Object.entries(fastDateFormats(fullFormats as never))) ajv.addFormat(name, format);
  return ajv;
}

export function problemsOf(errors: ErrorObject[] | null | undefined, prefix = ''): Problem[] {
  return (errors ?? []).map((e) => {
    const path = `${prefix}${e.instancePath}` || '/';
    const params = e.params as Record<string, unknown>;
    let message = e.message ?? e.keyword;
    if (e.keyword === 'additionalProperties') message = `unknown field "${String(params.additionalProperty)}"`;
    else if (e.keyword === 'required') message = `missing required field "${String(params.missingProperty)}"`;
    else if (e.keyword === 'const') message = `must be ${JSON.stringify(params.allowedValue)}`;
    else if (e.keyword === 'enum') message = `must be one of ${JSON.stringify(params.allowedValues)}`;
    return { path, message };
  });
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('; ');
}

export type { ValidateFunction };
