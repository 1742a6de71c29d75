// Runs only failing.check.ts (for failing-report.test.ts).
import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['examples/harness/failing.check.ts'], testTimeout: 300_000, hookTimeout: 300_000 } });
