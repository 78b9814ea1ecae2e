#!/usr/bin/env node
// Runs the TypeScript sources through tsx so a fresh clone works with `npm install` alone.
// A published package would point at dist/ instead (npm run build).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
