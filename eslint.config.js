// ESLint flat config: type-aware rules that catch async mistakes, plus the
// architecture rule that keeps src/domain pure (no I/O, no clock).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'dist-check/**', 'coverage/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/domain/**/*.ts', 'src/render/**/*.ts', 'src/adapters/mysql/dialect.ts'],
    rules: {
      'no-restricted-globals': ['error', { name: 'Date', message: 'Pure modules take time as an argument.' }, { name: 'setTimeout', message: 'Pure modules take time as an argument.' }, { name: 'process', message: 'Pure modules may not read the process.' }],
    },
  },
  // Layers, lowest first: errors and ports; domain; config and render;
  // adapters and sandbox; engine; app (the composition root); cli. An import
  // may only run downwards.
  ...[
    { files: ['src/errors/**/*.ts', 'src/ports/**/*.ts'], above: ['domain', 'config', 'render', 'adapters', 'sandbox', 'engine', 'app', 'cli'] },
    { files: ['src/config/**/*.ts'], above: ['render', 'adapters', 'sandbox', 'engine', 'app', 'cli'] },
    { files: ['src/render/**/*.ts'], above: ['config', 'adapters', 'sandbox', 'engine', 'app', 'cli'], pure: true },
    { files: ['src/adapters/**/*.ts', 'src/sandbox/**/*.ts'], above: ['engine', 'app', 'cli'] },
    { files: ['src/engine/**/*.ts'], above: ['app', 'cli'] },
    { files: ['src/app/**/*.ts'], above: ['cli'] },
  ].map(({ files, above, pure }) => ({
    files,
    ignores: ['src/adapters/mysql/dialect.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: above.map((l) => `**/${l}/**`), message: 'Layers: an import may only run downwards (errors/ports < domain < config/render < adapters/sandbox < engine < app < cli).' },
          ...(pure ? [{ group: ['node:*', 'mysql2', 'mysql2/*', 'ssh2', 'execa', 'pino', 'prom-client'], message: 'Pure modules may not do I/O: pass data in, return data out.' }] : []),
        ],
      }],
    },
  })),
  {
    files: ['src/domain/**/*.ts', 'src/adapters/mysql/dialect.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'mysql2', 'mysql2/*', 'ssh2', 'execa', 'pino', 'prom-client', '**/adapters/**', '**/app/**', '**/engine/**', '**/cli/**', '**/config/**', '**/sandbox/**', '**/render/**'], message: 'Pure modules may not do I/O or import upper layers: pass data in, return data out.' },
        ],
      }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
