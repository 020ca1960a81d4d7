import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStackProcess } from '../../scripts/stack-process.mjs';
import { checkContract, openApiDocument } from '../support/contract.js';
import { freePort, isListening, run } from '../support/processes.js';

const API_KEY = 'e2e-local-key-0123456789';

let stack: Awaited<ReturnType<typeof startStackProcess>>;
let s3Dir: string;

beforeAll(async () => {
  // Exactly what `npm start` runs, on free ports and a throw-away S3 directory, with no OpenAI key.
  // Settings from a .env file: each offline image takes 1.5 s, so a short Prefer: wait shows the asynchronous
  // path, and prompts are limited to 200 characters (a variable the local run used to ignore).
  stack = await startStackProcess({
    apiKey: API_KEY,
    env: { OPENAI_API_KEY: '' },
    dotEnv: 'OFFLINE_DELAY_MS=1500\nPROMPT_MAX_CHARS=200\n',
  });
  s3Dir = await mkdtemp(join(tmpdir(), 'dia-e2e-invoke-s3-'));
}, 130_000);

afterAll(async () => {
  stack.kill('SIGKILL');
  await rm(s3Dir, { recursive: true, force: true });
});

const api = (path: string): string => `http://127.0.0.1:${stack.ports.api}${path}`;

/** fetch for the API: every answer is checked against openapi.yaml before the test reads it. */
const checkedFetch = async (url: string, init?: RequestInit): Promise<Response> => {
  const response = await fetch(url, init);
  const text = await response.text();
  checkContract(init?.method ?? 'GET', new URL(url).pathname, { statusCode: response.status, headers: response.headers, body: text });
  return new Response(response.status === 204 ? null : text, { status: response.status, headers: response.headers });
};

const postImage = (body: string, headers: Record<string, string> = {}): Promise<Response> =>
  checkedFetch(api('/images'), {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...headers },
    body,
  });

describe('npm start: the local stack over HTTP', () => {
  it('prints a ready-to-paste curl for the local API', () => {
    expect(stack.output()).toContain(`curl -sS -X POST http://127.0.0.1:${stack.ports.api}/images`);
    expect(stack.output()).toContain('provider     offline');
    // The caller's own key (LOCAL_API_KEY) in double quotes, so the shell expands it; named once in the banner.
    expect(stack.output()).toContain('-H "Authorization: Bearer $LOCAL_API_KEY"');
    expect(stack.output()).not.toContain("'Authorization: Bearer $LOCAL_API_KEY'");
    expect(stack.output()).toMatch(/API key {6}from LOCAL_API_KEY\n/);
  });

  it('answers 201 with a URL that serves the same bytes with the right content type', async () => {
    // Act
    const response = await postImage(JSON.stringify({ prompt: 'a lighthouse at dawn 🌅', size: '1536x1024' }));
    // Assess
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, unknown>;
    expect(response.headers.get('location')).toBe(body['url']);
    expect(body['url']).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${stack.ports.s3}/local-images/images/`));
    const image = await fetch(body['url'] as string);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await image.arrayBuffer());
    expect(bytes.length).toBe(body['bytes']);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(body['sha256']);
    expect(body).toMatchObject({ width: 1536, height: 1024 });
    // Like CloudFront: the public prefix serves, the private record (with the prompt) does not.
    const recordUrl = (body['url'] as string).replace('/images/', '/records/').replace(/\.png$/, '.json');
    const record = await fetch(recordUrl);
    expect(record.status).toBe(403);
    expect(await record.text()).not.toContain('lighthouse');
    // Quotas are on locally too (DynamoDB on loopback).
    expect(response.headers.get('ratelimit-limit')).toBe('50');
    expect(response.headers.get('ratelimit-remaining')).toBe('49');
  });

  it('honours .env settings: PROMPT_MAX_CHARS=200 refuses a 201-character prompt', async () => {
    const response = await postImage(JSON.stringify({ prompt: 'x'.repeat(201) }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_request', message: '"prompt" must be at most 200 characters.' } });
    expect(stack.output()).toContain('settings     ');
  });

  it('serves its contract at GET /openapi.json, without credentials', async () => {
    const response = await checkedFetch(api('/openapi.json'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(openApiDocument);
  });

  it('refuses a wrong key with 401 JSON', async () => {
    const response = await postImage(JSON.stringify({ prompt: 'fox' }), { authorization: 'Bearer wrong' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('refuses a bad body with 400 JSON naming the field', async () => {
    const response = await postImage(JSON.stringify({ prompt: 'fox', colour: 'red' }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_request', message: expect.stringContaining('colour') } });
  });

  it('answers 202 when the image takes longer than Prefer: wait, and the worker finishes it for GET', async () => {
    // Act: the API invokes the worker asynchronously through serverless-offline's Lambda port.
    const accepted = await postImage(JSON.stringify({ prompt: 'a slow watercolour heron' }), { prefer: 'wait=1' });
    // Assess
    expect(accepted.status).toBe(202);
    expect(accepted.headers.get('preference-applied')).toBe('wait=1');
    const { id } = (await accepted.json()) as { id: string };
    expect(accepted.headers.get('location')).toBe(`/images/${id}`);
    let image: Record<string, unknown> = {};
    for (let polls = 0; polls < 100 && image['status'] !== 'succeeded' && image['status'] !== 'failed'; polls += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const polled = await checkedFetch(api(`/images/${id}`), { headers: { authorization: `Bearer ${API_KEY}` } });
      expect(polled.status).toBe(200);
      image = (await polled.json()) as Record<string, unknown>;
    }
    expect(image).toMatchObject({ id, status: 'succeeded', contentType: 'image/png' });
    const bytes = Buffer.from(await (await fetch(image['url'] as string)).arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(image['sha256']);
    // Delete: the URL stops serving, the resource is gone.
    const deleted = await checkedFetch(api(`/images/${id}`), { method: 'DELETE', headers: { authorization: `Bearer ${API_KEY}` } });
    expect(deleted.status).toBe(204);
    expect((await fetch(image['url'] as string)).status).toBe(404);
    const gone = await checkedFetch(api(`/images/${id}`), { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ error: { code: 'not_found' } });
  }, 30_000);

  it('answers unknown routes and wrong methods with the API\'s JSON errors, not the framework\'s', async () => {
    const unknown = await checkedFetch(api('/no-such-route'), { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'not_found' } });
    const wrong = await checkedFetch(api('/images'), { method: 'PUT', headers: { authorization: `Bearer ${API_KEY}` } });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST');
    expect(await wrong.json()).toMatchObject({ error: { code: 'method_not_allowed' } });
  });

  it('answers a body sent without Content-Type with 415, as API Gateway does', async () => {
    // Bytes, not a string: fetch adds text/plain to a string body.
    const response = await checkedFetch(api('/images'), {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
      body: new TextEncoder().encode(JSON.stringify({ prompt: 'a red fox' })),
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
  });

  it('refuses an empty body with 400 JSON, and gives each request a request id of its own', async () => {
    const first = await postImage('');
    const second = await postImage('');
    expect([first.status, second.status]).toEqual([400, 400]);
    const [a, b] = (await Promise.all([first.json(), second.json()])) as { error: { code: string; requestId: string } }[];
    expect(a?.error.code).toBe('invalid_request');
    expect(a?.error.requestId).not.toBe(b?.error.requestId);
    expect(a?.error.requestId).not.toBe('offlineContext_resourceId');
  });

});

describe('a bad configuration value', () => {
  it.each([
    ['npm start', 'scripts/start-local.mjs'],
    ['npm run invoke', 'scripts/invoke-local.mjs'],
  ])('stops %s before it starts, with one line naming the variable, exit code 1', async (name, script) => {
    const dotEnv = await mkdtemp(join(tmpdir(), 'dia-bad-env-'));
    await writeFile(join(dotEnv, '.env'), 'DAILY_IMAGE_LIMIT=fifty\n');
    const { code, output } = await run([script], {
      env: { ...process.env, ENV_FILE: join(dotEnv, '.env'), PORT: String(await freePort()), S3_PORT: String(await freePort()) },
      timeoutMs: 60_000,
    });
    await rm(dotEnv, { recursive: true, force: true });
    expect(code).toBe(1);
    expect(output).toContain(`${name}: Invalid configuration: DAILY_IMAGE_LIMIT must be a whole number, got "fifty"`);
    expect(output).not.toMatch(/running locally|at .*\.(ts|js|mjs):\d+/);
  }, 70_000);
});

describe('npm run invoke: serverless invoke local with the sample events', () => {
  const invoke = async (event: string, env: Record<string, string> = {}): Promise<string> => {
    const s3Port = await freePort();
    const { code, output: printed } = await run(['scripts/invoke-local.mjs', event], {
      env: { ...process.env, S3_PORT: String(s3Port), LOCAL_S3_DIR: s3Dir, LOCAL_API_KEY: '', ENV_FILE: '/dev/null', ...env },
      timeoutMs: 120_000,
    });
    expect(code).toBe(0);
    return printed;
  };

  it('answers the valid sample event with 201', async () => {
    expect(await invoke('events/generate-image.json')).toMatch(/"statusCode": 201/);
  }, 130_000);

  it('sends the sample event with LOCAL_API_KEY when it is set, and says where the image URL serves', async () => {
    const printed = await invoke('events/generate-image.json', { LOCAL_API_KEY: 'my-own-local-key-123' });
    expect(printed).toMatch(/"statusCode": 201/);
    expect(printed).toMatch(/Image URL: http:\/\/127\.0\.0\.1:\d+\/local-images\/images\/.*\.png\nIt does not serve now/);
  }, 130_000);

  it('lists images through the router with the GET sample event', async () => {
    expect(await invoke('events/list-images.json')).toMatch(/"statusCode": 200/);
  }, 130_000);

  it('answers the bad sample event with 400 and the unauthorized one with 401', async () => {
    expect(await invoke('events/generate-image-bad-request.json')).toMatch(/"statusCode": 400/);
    expect(await invoke('events/generate-image-unauthorized.json')).toMatch(/"statusCode": 401/);
  }, 250_000);

  it('leaves a running npm start working: its worker still finishes a job after invoke has built and run', async () => {
    // The invokes above ran while `stack` (npm start) was up; they build in a directory of their own.
    const accepted = await postImage(JSON.stringify({ prompt: 'a heron after the invokes' }), { prefer: 'respond-async' });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    let image: Record<string, unknown> = {};
    for (let polls = 0; polls < 100 && image['status'] !== 'succeeded' && image['status'] !== 'failed'; polls += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      image = (await (await checkedFetch(api(`/images/${id}`), { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as Record<string, unknown>;
    }
    expect(image).toMatchObject({ id, status: 'succeeded' });
  }, 30_000);

  it('says in one line which port is taken, instead of an EADDRINUSE stack', async () => {
    const { code, output } = await run(['scripts/invoke-local.mjs'], {
      env: { ...process.env, S3_PORT: String(stack.ports.s3), ENV_FILE: '/dev/null', LOCAL_API_KEY: '' },
      timeoutMs: 60_000,
    });
    expect(code).toBe(1);
    expect(output).toContain(`npm run invoke: port ${stack.ports.s3} is already in use`);
    expect(output).toContain('S3_PORT=<port>');
    expect(output).not.toContain('EADDRINUSE');
  }, 70_000);
});

// Last: the invocations above run while this stack is up, as a developer's would beside `npm start`.
describe('npm start: Ctrl-C', () => {
  it('stops everything it started on Ctrl-C', async () => {
    // Act
    await stack.stop();
    // Assess
    expect(await isListening(stack.ports.api)).toBe(false);
    expect(await isListening(stack.ports.s3)).toBe(false);
    expect(await isListening(stack.ports.lambda)).toBe(false);
    expect(await isListening(stack.ports.dynamo)).toBe(false);
  }, 30_000);
});
