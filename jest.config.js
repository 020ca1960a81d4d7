/** Jest in native ESM mode with SWC: middy and openai are ESM-only, and SWC keeps a run to about a second. */
export default {
  // Node's environment, printing the service's log lines only for a failed test (LOG_PASSTHROUGH=1: all of them).
  testEnvironment: '<rootDir>/tests/support/quiet-environment.mjs',
  extensionsToTreatAsEsm: ['.ts', '.css'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json', 'css'],
  transform: {
    // The Generate page's script and style, imported as text (esbuild's text loader in the bundle).
    '/lib/http/page/app\\.(js|css)$': '<rootDir>/tests/support/text-transform.cjs',
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
        module: { type: 'es6' },
      },
    ],
  },
  moduleNameMapper: {
    // C2PA's WebAssembly module as bytes, as esbuild's binary loader gives it to the bundle.
    '^@contentauth/c2pa-wasm/c2pa\\.wasm$': '<rootDir>/tests/support/c2pa-wasm-bytes.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/tests/**/*.test.ts'],
  testTimeout: 30_000,
};
