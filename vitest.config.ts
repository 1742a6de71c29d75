// Test tiers (DESIGN.md "The machine, and how tests cope"): unit (no KVM), e2e (KVM with
// test guests), linux (Debian's kernel; skipped on nested PVM unless forced).
import { defineConfig } from 'vitest/config';

const exclude = ['**/node_modules/**', '**/dist/**'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['native/lib/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'tests/**/*.test.ts'],
          exclude,
          pool: 'forks',
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/tests/**/*.test.ts'],
          exclude: [...exclude, 'e2e/tests/linux/**'],
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
          globalSetup: ['e2e/framework/global-setup.ts'],
        },
      },
      {
        test: {
          name: 'linux',
          include: ['e2e/tests/linux/**/*.test.ts', 'examples/harness/**/*.test.ts'],
          exclude,
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 480_000, // the longest test takes ~2 min (twice that with its QEMU rerun); a hang fails that test, not the tier
          hookTimeout: 480_000,
        },
      },
    ],
  },
});
