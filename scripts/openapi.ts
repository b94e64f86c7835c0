/** `npm run openapi`: writes schema/openapi.json, the HTTP API's OpenAPI 3.1 document (test/openapi.test.ts keeps it current). */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { API_VERSION } from '../handlers/openapi.js';
import { buildOpenApi } from '../schema/openapi.js';

const target = fileURLToPath(new URL('../schema/openapi.json', import.meta.url));
await writeFile(target, `${JSON.stringify(buildOpenApi(API_VERSION), null, 2)}\n`);
console.log(`wrote ${target}`);
