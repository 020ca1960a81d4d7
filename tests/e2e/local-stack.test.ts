import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStackProcess } from '../../scripts/stack-process.mjs';
import { freePort, isListening, run } from '../support/processes.js';

const API_KEY = 'e2e-local-key-0123456789';

let stack: Awaited<ReturnType<typeof startStackProcess>>;
let s3Dir: string;

beforeAll(async () => {
  // Exactly what `npm start` runs, on free ports and a throw-away S3 directory, with no OpenAI key.
  stack = await startStackProcess({ apiKey: API_KEY, env: { OPENAI_API_KEY: '' } });
  s3Dir = await mkdtemp(join(tmpdir(), 'dia-e2e-invoke-s3-'));
}, 130_000);

afterAll(async () => {
  stack.kill('SIGKILL');
  await rm(s3Dir, { recursive: true, force: true });
});

const api = (path: string): string => `http://127.0.0.1:${stack.ports.api}${path}`;

const postImage = (body: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(api('/images'), {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...headers },
    body,
  });

describe('npm start: the local stack over HTTP', () => {
  it('prints a ready-to-paste curl for the local API', () => {
    expect(stack.output()).toContain(`curl -sS -X POST http://127.0.0.1:${stack.ports.api}/images`);
    expect(stack.output()).toContain('provider     offline');
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
    // Quotas are on locally too (DynamoDB on loopback).
    expect(response.headers.get('ratelimit-limit')).toBe('50');
    expect(response.headers.get('ratelimit-remaining')).toBe('49');
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

describe('npm run invoke: serverless invoke local with the sample events', () => {
  const invoke = async (event: string): Promise<string> => {
    const s3Port = await freePort();
    const { code, output: printed } = await run(['scripts/invoke-local.mjs', event], {
      env: { ...process.env, S3_PORT: String(s3Port), LOCAL_S3_DIR: s3Dir, LOCAL_API_KEY: '' },
      timeoutMs: 120_000,
    });
    expect(code).toBe(0);
    return printed;
  };

  it('answers the valid sample event with 201', async () => {
    expect(await invoke('events/generate-image.json')).toMatch(/"statusCode": 201/);
  }, 130_000);

  it('answers the bad sample event with 400 and the unauthorized one with 401', async () => {
    expect(await invoke('events/generate-image-bad-request.json')).toMatch(/"statusCode": 400/);
    expect(await invoke('events/generate-image-unauthorized.json')).toMatch(/"statusCode": 401/);
  }, 250_000);
});
