// `npm run smoke -- --api <API URL> [--v1 <function URL>] [--table <state table>]`: after a deploy, proves the stage
// answers, spending nothing: the Generate page and /openapi.json answer; a key issued for the check (into the
// stage's table, with the deployer's credentials) reads GET /usage; a POST /images that validation refuses is 400
// (no quota, moderation or provider reached); /v1/models answers. The key is revoked at the end whatever happened.
// Exits 1 naming the first step that failed. CI runs it after each `serverless deploy` (.github/workflows/deploy.yml,
// which reads the URLs and the table from the stack's outputs); it runs against `npm start` too (no --table).
import { fail, openTarget, parse } from './operator.mjs';

const COMMAND = 'smoke';
const { values } = parse(COMMAND, { api: { type: 'string' }, v1: { type: 'string' }, timeout: { type: 'string', default: '15000' } });
if (!values.api) fail(COMMAND, 'usage: npm run smoke -- --api <API base URL> [--v1 <function URL>] [--table <StateTable>]');
const api = values.api.replace(/\/+$/, '');
const v1 = (values.v1 ?? api).replace(/\/+$/, '');
const timeoutMs = Number(values.timeout);

const { operator, where } = await openTarget(COMMAND, values);
const { key, prefix, hash } = operator.newApiKey();
const steps = [];
let failed;

async function step(name, check) {
  const started = Date.now();
  try {
    await check();
    steps.push(`ok    ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    steps.push(`FAIL  ${name}: ${error instanceof Error ? error.message : String(error)}`);
    failed ??= name;
  }
}

async function call(path, { base = api, ...init } = {}) {
  return fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
}

function expectStatus(response, status) {
  if (response.status !== status) throw new Error(`answered ${response.status}, expected ${status}`);
}

try {
  await step(`issue a key for the check in ${where}`, () =>
    operator.keys.create({ hash, prefix, name: 'deploy-smoke-check', state: 'active', createdAt: Date.now(), dailyImages: 0 }),
  );
  await step('GET / (the Generate page)', async () => {
    const response = await call('/');
    expectStatus(response, 200);
    if (!(response.headers.get('content-type') ?? '').startsWith('text/html')) throw new Error('not HTML');
  });
  await step('GET /openapi.json', async () => {
    const response = await call('/openapi.json');
    expectStatus(response, 200);
    if (!String((await response.json()).openapi).startsWith('3.')) throw new Error('not an OpenAPI document');
  });
  await step('GET /usage with the issued key', async () => {
    const response = await call('/usage', { headers: { authorization: `Bearer ${key}` } });
    expectStatus(response, 200);
    if (typeof (await response.json()).images?.limit !== 'number') throw new Error('no images.limit in the answer');
  });
  await step('POST /images refused by validation (nothing spent)', async () => {
    const response = await call('/images', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: '' }),
    });
    expectStatus(response, 400);
  });
  await step('GET /v1/models', async () => {
    const response = await call('/v1/models', { base: v1, headers: { authorization: `Bearer ${key}` } });
    expectStatus(response, 200);
    if ((await response.json()).object !== 'list') throw new Error('not a model list');
  });
} finally {
  await step('revoke the key', () => operator.keys.update(prefix, { state: 'revoked', revokedAt: Date.now() }));
  operator.close();
}
console.log(steps.join('\n'));
if (failed) fail(COMMAND, `the deployed stage failed: ${failed}`);
console.log('smoke check passed');
