import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.ringbill/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Benchmarks print rates as floats; the product never handles money that way.
    files: ['src/**/*.ts'],
    rules: {
      // Money is bigint micro-units: a float conversion of an amount is a bug (DESIGN.md §3).
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.name='parseFloat']", message: 'Money is never a float: parse amounts with parseMicros / parseMoney.' },
        { selector: "CallExpression[callee.property.name='toFixed']", message: 'Money is never a float: format amounts with formatMicros / formatMoney.' },
      ],
    },
  },
);
