// Lint: type-aware typescript-eslint rules for all code, plus the architecture rule that keeps
// every `domain/` folder pure (no I/O, no drivers, no frameworks, no adapters).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

// The build emits JavaScript that plain `node` runs (ESM), so a relative import must name the file it
// loads: `./ports.js` (TypeScript and tsx map it to ports.ts), `./testing/index.js` for a folder.
// `eslint --fix` adds the ending (after a merge that brought extensionless imports, for example).
const relativeImportEndings = {
  meta: {
    type: 'problem',
    fixable: 'code',
    schema: [],
    messages: { ending: "Relative import '{{path}}' needs its file ending for Node's ESM loader: '{{fixed}}'." },
  },
  create(context) {
    const check = (source) => {
      if (source?.type !== 'Literal' || typeof source.value !== 'string') return;
      const path = source.value;
      if (!/^\.\.?(\/|$)/.test(path) || /\.(js|mjs|cjs|json)$/.test(path)) return;
      const base = resolve(dirname(context.filename), path);
      const fixed =
        existsSync(`${base}.ts`) || existsSync(`${base}.d.ts`)
          ? `${path}.js`
          : existsSync(`${base}/index.ts`)
            ? `${path.replace(/\/$/, '')}/index.js`
            : path.replace(/\.ts$/, '.js');
      context.report({
        node: source,
        messageId: 'ending',
        data: { path, fixed },
        fix: fixed === path ? null : (fixer) => fixer.replaceText(source, `${source.raw[0]}${fixed}${source.raw[0]}`),
      });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};

const impureModules = [
  'node:*',
  'fs',
  'path',
  'http',
  'net',
  'crypto',
  'child_process',
  'os',
  'pg',
  '@electric-sql/pglite',
  'ioredis',
  'mqtt',
  'aedes',
  'fastify',
  'pino',
  'prom-client',
  'nodemailer',
  '@albergue/messaging',
  '@albergue/outbox',
  '@albergue/platform',
  '@albergue/platform/*',
  '@albergue/runtime',
  '@albergue/runtime/*',
  '@albergue/application',
  '@albergue/application/*',
];
// Validation and id libraries: a domain gets validated input and ids through its commands.
const validationAndIdModules = [
  'ajv',
  'ajv/*',
  'ajv-formats',
  '@sinclair/typebox',
  '@sinclair/typebox/*',
  'zod',
  'zod/*',
  'joi',
  'yup',
  'valibot',
  'uuid',
  'uuid/*',
  'nanoid',
  'nanoid/*',
  'ulid',
  'ulidx',
  'cuid',
  '@paralleldrive/cuid2',
];
// Where time, randomness and the process come from: a domain reads none of them (the clock's reading
// comes in with the command; calendar arithmetic is in @albergue/decider).
const impureGlobals = [
  'Date',
  'Intl',
  'crypto',
  'performance',
  'process',
  'globalThis',
  'global',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'fetch',
  'require',
].map((name) => ({
  name,
  message: `domain/ is pure: no ${name}. Time, randomness and I/O come in through the command (the application's Clock and ids).`,
}));

export default tseslint.config(
  { ignores: ['node_modules/**', '**/node_modules/**', 'data/**', '**/dist/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    plugins: { albergue: { rules: { 'relative-import-endings': relativeImportEndings } } },
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's test()/describe() promises are awaited by the runner itself.
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      'albergue/relative-import-endings': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../../../*'], message: 'Import workspace packages by name (@albergue/...), not through ../../../.' }] },
      ],
      // A catch whose block holds no statement (a comment does not count) swallows the error silently.
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CatchClause > BlockStatement[body.length=0]',
          message: 'An empty catch swallows the error: handle it, log or count it, rethrow it, or return the value that ignoring it means.',
        },
      ],
    },
  },
  {
    // The domains and their pure kit (@albergue/decider).
    files: ['**/src/domain/**/*.ts', 'packages/decider/src/**/*.ts'],
    // Tests of the domain may use node:test and node:assert; the domain code itself may not.
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              // The pure entry only, and not its id generator, envelope factory or validating registry.
              name: '@albergue/events',
              importNames: ['newEventId', 'newEnvelope', 'parseEnvelope', 'events', 'EventRegistry', 'fromCloudEvent', 'toCloudEvent'],
              message: 'domain/ decides with plain data: envelopes, ids and validation belong to the application layer.',
            },
          ],
          patterns: [
            {
              group: impureModules,
              message: 'domain/ is pure: no I/O, drivers, frameworks, runtime or application code. Put it in an adapter behind a port.',
            },
            {
              group: validationAndIdModules,
              message: 'domain/ is pure: no validation or id libraries (input is validated at the edge, ids come in with the command).',
            },
            { group: ['@albergue/events/*'], message: 'domain/ may import only the pure entry @albergue/events (not its node entry).' },
            { group: ['**/adapters/**', '**/application/**'], message: 'domain/ must not import application or adapters.' },
          ],
        },
      ],
      'no-restricted-globals': ['error', ...impureGlobals],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'domain/ is pure: no Math.random (randomness comes in with the command).' },
        { property: 'random', message: 'domain/ is pure: no random numbers (they come in with the command).' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'ImportExpression', message: 'domain/ is pure: no dynamic import().' },
        {
          selector: 'CatchClause > BlockStatement[body.length=0]',
          message: 'An empty catch swallows the error: handle it, log or count it, rethrow it, or return the value that ignoring it means.',
        },
      ],
      'no-eval': 'error',
      'no-new-func': 'error',
    },
  },
  {
    files: ['**/*.test.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'tests/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
