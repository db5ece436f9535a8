// The domain rule of eslint.config.js, proven on probe text through the ESLint Node API: every way a
// domain could read the clock, draw randomness, validate, mint ids or reach the runtime is refused,
// and pure domain code passes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// Probed package names are spelt apart so that this file does not import (or have to declare) what it probes.
const AT = '@albergue';

const root = new URL('..', import.meta.url).pathname;
// The project's own eslint.config.js; only type-aware linting is switched off, because the probes
// are text, not files a tsconfig knows (the domain rule needs no type information).
const eslint = new ESLint({ cwd: root, overrideConfig: tseslint.configs.disableTypeChecked });
const DOMAIN_FILE = 'services/booking/src/domain/probe.ts';

async function problems(code: string, filePath = DOMAIN_FILE): Promise<{ rule: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${filePath}` });
  assert.ok(result, 'eslint returned no result');
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], 'the probe must parse');
  return result.messages.map((m) => ({ rule: m.ruleId, message: m.message }));
}

async function assertRefused(code: string, rule: string, filePath?: string): Promise<void> {
  const found = await problems(code, filePath);
  assert.ok(
    found.some((p) => p.rule === rule),
    `expected ${rule} for:\n${code}\ngot ${JSON.stringify(found)}`,
  );
}

describe('domain rule: refused in src/domain/**', () => {
  const cases: [string, string, string][] = [
    ['new Date()', 'export const now = (): string => new Date().toISOString();\n', 'no-restricted-globals'],
    ['Date.now()', 'export const now = (): number => Date.now();\n', 'no-restricted-globals'],
    ['Date aliased', 'const D = Date;\nexport const now = (): number => D.now();\n', 'no-restricted-globals'],
    ['globalThis.Date', 'export const now = (): number => globalThis.Date.now();\n', 'no-restricted-globals'],
    ['Intl clock', 'export const today = (): string => new Intl.DateTimeFormat().format();\n', 'no-restricted-globals'],
    ['performance.now()', 'export const t = (): number => performance.now();\n', 'no-restricted-globals'],
    ['crypto.randomUUID()', 'export const id = (): string => crypto.randomUUID();\n', 'no-restricted-globals'],
    ['process.env', "export const tz = (): string | undefined => process.env['TZ'];\n", 'no-restricted-globals'],
    ['Math.random()', 'export const r = (): number => Math.random();\n', 'no-restricted-properties'],
    ["Math['random']", "export const r = (): number => Math['random']();\n", 'no-restricted-properties'],
    ['destructured random', 'const { random } = Math;\nexport const r = (): number => random();\n', 'no-restricted-properties'],
    ['aliased Math', 'const M = Math;\nexport const r = (): number => M.random();\n', 'no-restricted-properties'],
    [
      '@albergue/runtime',
      "import { createServiceRuntime } from '@albergue/runtime';\nexport const x = createServiceRuntime;\n",
      'no-restricted-imports',
    ],
    ['@albergue/application', `import { systemClock } from '${AT}/application';\nexport const x = systemClock;\n`, 'no-restricted-imports'],
    ['@albergue/platform/http', "import { problem } from '@albergue/platform/http';\nexport const x = problem;\n", 'no-restricted-imports'],
    ['ajv', "import { Ajv } from 'ajv';\nexport const x = new Ajv();\n", 'no-restricted-imports'],
    ['ajv subpath', "import { Ajv2020 } from 'ajv/dist/2020.js';\nexport const x = new Ajv2020();\n", 'no-restricted-imports'],
    ['typebox', "import { Type } from '@sinclair/typebox';\nexport const x = Type.String();\n", 'no-restricted-imports'],
    ['uuid', "import { v7 } from 'uuid';\nexport const id = (): string => v7();\n", 'no-restricted-imports'],
    ['re-export of uuid', "export { v4 } from 'uuid';\n", 'no-restricted-imports'],
    [
      'events node entry',
      "import { SAMPLE_PAYLOADS } from '@albergue/events/node';\nexport const x = SAMPLE_PAYLOADS;\n",
      'no-restricted-imports',
    ],
    [
      'newEventId from events',
      "import { newEventId } from '@albergue/events';\nexport const id = (): string => newEventId();\n",
      'no-restricted-imports',
    ],
    [
      'events namespace (reaches newEventId)',
      "import * as E from '@albergue/events';\nexport const id = (): string => E.newEventId();\n",
      'no-restricted-imports',
    ],
    ['node:crypto', "import { randomUUID } from 'node:crypto';\nexport const id = (): string => randomUUID();\n", 'no-restricted-imports'],
    ['dynamic import', "export const load = async (): Promise<unknown> => import('uuid');\n", 'no-restricted-syntax'],
    ['new Function', "export const f = new Function('return Date.now()') as () => number;\n", 'no-new-func'],
  ];
  for (const [name, code, rule] of cases) test(name, () => assertRefused(code, rule));

  test('the pure kit @albergue/decider is held to the same rule', () =>
    assertRefused('export const now = (): number => Date.now();\n', 'no-restricted-globals', 'packages/decider/src/probe.ts'));
});

describe('domain rule: what stays allowed', () => {
  test('pure domain code: decider helpers, calendar arithmetic, event types and patterns, Math', async () => {
    const code = [
      "import type { PayloadOf, BookingReserved } from '@albergue/events';",
      "import { LOCALE_PATTERN } from '@albergue/events';",
      `import { addDays, accept } from '${AT}/decider';`,
      'const LOCALE = new RegExp(LOCALE_PATTERN);',
      "export const next = (p: PayloadOf<typeof BookingReserved>): string => (LOCALE.test(p.guest.locale) ? addDays(p.check_in, Math.max(1, 2)) : '');",
      'export const ok = accept(1);',
      '',
    ].join('\n');
    assert.deepEqual(await problems(code), []);
  });
  test('domain tests and application code may use Date', async () => {
    assert.deepEqual(await problems('export const now = (): number => Date.now();\n', 'services/booking/src/domain/probe.test.ts'), []);
    assert.deepEqual(await problems('export const now = (): number => Date.now();\n', 'services/booking/src/application/probe.ts'), []);
  });
});

describe('empty catch blocks (everywhere, not only domain/)', () => {
  const swallowing = 'export function f(g: () => void): void {\n  try {\n    g();\n  } catch {\n    // ignore\n  }\n}\n';
  for (const file of [
    'services/booking/src/application/probe.ts',
    'packages/messaging/src/probe.ts',
    'services/booking/src/domain/probe.ts',
  ]) {
    test(`a catch that holds only a comment is refused in ${file}`, () => assertRefused(swallowing, 'no-restricted-syntax', file));
  }
  test('a catch that does something is allowed', async () => {
    const handled =
      'export function f(g: () => void): boolean {\n  try {\n    g();\n    return true;\n  } catch {\n    return false; // g failing means "no"\n  }\n}\n';
    assert.deepEqual(await problems(handled, 'services/booking/src/application/probe.ts'), []);
  });
});
