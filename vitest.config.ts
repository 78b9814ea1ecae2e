import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          // Generous: on a loaded 2-core machine one PGlite test has taken over 120 s (tests never assert timings).
          testTimeout: 300_000,
          hookTimeout: 180_000,
          // Integration files create their own databases; run files in parallel but keep
          // the two cores of a CI machine from thrashing.
          maxWorkers: 2,
          // Integration files run after the unit project (different worker limits need their own group).
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          environment: 'node',
          // Small numbers by default (CI); `npm run test:chaos` sets TM_CHAOS=full.
          testTimeout: 900_000,
          hookTimeout: 180_000,
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
