// Type-aware lint. The rules that matter most here: no floating or misused promises.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The runtime folders that are adapters to the outside world (or assemble them). */
const EDGES = [
  'api',
  'caddy',
  'cli',
  'config',
  'docker',
  'git',
  'graph',
  'manifests',
  'probe',
  'process',
  'provision',
  'sops',
  'ssh',
  'webhook',
];
/**
 * The kind-agnostic core: it may import apis and other core folders, never an edge. It may name
 * an edge's types (erased when built) but never call it: an edge is given to the core through a
 * constructor (the informer gets its loader, decryptor and source so).
 */
const CORE = [
  'clock',
  'conditions',
  'controller',
  'events',
  'informer',
  'log',
  'manager',
  'metrics',
  'store',
  'workqueue',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '!eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'CallExpression[callee.property.name=/^(skip|only)$/][callee.object.name=/^(it|test|describe)$/]',
          message: 'No .skip or .only left behind.',
        },
      ],
    },
  },
  // Layering (docs/design/README.md): cmd → controllers → runtime edges → runtime core → apis.
  // Each block forbids the imports that point the wrong way for its folder; test files may use
  // anything (fixtures, fakes). runtime/layering.test.ts proves that every rule fires.
  ...layering(),
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);

function restrict(files, groups, message, extra = []) {
  return {
    files,
    ignores: ['**/*.test.ts', '**/*.contract.ts', '**/testdata/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: groups, message }, ...extra] }] },
  };
}

export function layering() {
  return [
    restrict(
      ['apis/**/*.ts'],
      ['**/runtime/**', '**/controllers/**', '**/cmd/**'],
      'apis/ imports only zod, yaml, node: built-ins and apis/ itself (layering: apis is the bottom).',
      [
        {
          regex: '^(?!zod$|yaml$|node:|\\.)',
          message:
            'apis/ imports only zod, yaml, node: built-ins and apis/ itself (layering: apis is the bottom).',
        },
      ],
    ),
    restrict(
      ['runtime/**/*.ts'],
      ['**/controllers/**', '**/cmd/**'],
      'runtime/ imports no controller or cmd (layering: cmd → controllers → runtime → apis).',
    ),
    {
      files: CORE.map((f) => `runtime/${f}/**/*.ts`),
      ignores: ['**/*.test.ts', '**/*.contract.ts', '**/testdata/**'],
      plugins: { '@typescript-eslint': tseslint.plugin },
      rules: {
        '@typescript-eslint/no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                group: EDGES.map((e) => `**/${e}/**`),
                allowTypeImports: true,
                message:
                  'the runtime core calls no edge (runtime/<edge>): take the edge as a constructor argument; `import type` is allowed (layering).',
              },
            ],
          },
        ],
      },
    },
    restrict(
      ['controllers/**/*.ts'],
      ['**/cmd/**'],
      'controllers/ import no cmd (layering: cmd → controllers → runtime → apis).',
    ),
  ];
}
