#!/usr/bin/env node
// The CLI is TypeScript run through tsx (installed by `npm ci`), so a fresh clone needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../lib/cli/bin.ts');
