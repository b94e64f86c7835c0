#!/usr/bin/env node
// The CLI is TypeScript run through tsx (installed by `npm ci`), so a fresh clone needs no build step.
// The project's own tsconfig, whatever directory the command is run from.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../cli/bin.ts');
