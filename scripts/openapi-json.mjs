// `npm run openapi`: writes lib/http/openapi.json from openapi.yaml, the document the API serves at
// GET /openapi.json (bundled as JSON: a YAML parser in the function would cost every cold start).
// tests/unit/openapi.test.ts fails when the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ROOT } from './local-env.mjs';

const document = parse(readFileSync(`${ROOT}openapi.yaml`, 'utf8'));
writeFileSync(`${ROOT}lib/http/openapi.json`, `${JSON.stringify(document, null, 2)}\n`);
console.log('lib/http/openapi.json written from openapi.yaml');
