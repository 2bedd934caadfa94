import { createDefaultEsmPreset } from 'ts-jest';

/** @type {import('jest').Config} */
export default {
  ...createDefaultEsmPreset({ tsconfig: 'tsconfig.json' }),
  testEnvironment: 'node',
  testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // what `sockit serve --handler` does for handler modules: the bare 'sockit' is this
    // package's built library entry (the npm package itself is named sockit-cli)
    '^sockit$': '<rootDir>/dist/index.js',
  },
  // generous: the property tests spawn the CLI dozens of times, and a loaded 2-core
  // machine must not turn a slow run into a failure (a hang still fails)
  testTimeout: 120000,
  maxWorkers: 2,
};
