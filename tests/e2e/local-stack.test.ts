import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LOCAL_BUCKET, LOCAL_WORKER_FUNCTION } from '../../scripts/local-env.mjs';
import { startStackProcess } from '../../scripts/stack-process.mjs';
import { verifyImage } from '../../lib/domain/image-format.js';
import { TRAINED_ALGORITHMIC_MEDIA } from '../../lib/domain/image-job.js';
import { readC2pa } from '../support/c2pa-reader.js';
import { pngOf } from '../support/fixtures.js';
import { checkContract, openApiDocument } from '../support/contract.js';
import { ROOT, freePort, isListening, listeningTcpPorts, processTree, run } from '../support/processes.js';

const API_KEY = 'e2e-local-key-0123456789';
const OTHER_KEY = 'e2e-other-caller-key-9876543210';
// The secret the stack's S3, DynamoDB and Lambda ports check signatures against (new on each run by default).
const LOCAL_SECRET = 'e2e-local-aws-secret';

let stack: Awaited<ReturnType<typeof startStackProcess>>;
let s3Dir: string;
/** The first answer of the API port while the stack was starting. */
let earlyAnswer: { status: number; retryAfter: string | null; body: string } | undefined;

/** Polls the API port from the moment the process is spawned until something answers. */
async function firstAnswer(port: number): Promise<void> {
  for (let tries = 0; tries < 600 && earlyAnswer === undefined; tries += 1) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/images`, { headers: { authorization: `Bearer ${API_KEY}` } });
      earlyAnswer = { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

beforeAll(async () => {
  // Exactly what `npm start` runs, on free ports and a throw-away S3 directory, with no OpenAI key.
  // Settings from a .env file: each offline image takes 1.5 s, so a short Prefer: wait shows the asynchronous
  // path, and prompts are limited to 200 characters (a variable the local run used to ignore).
  stack = await startStackProcess({
    apiKey: API_KEY,
    // A second caller (API_KEY_HASHES adds to the local key), to try another caller's image.
    env: { OPENAI_API_KEY: '', API_KEY_HASHES: `other:${createHash('sha256').update(OTHER_KEY).digest('hex')}` },
    dotEnv: `OFFLINE_DELAY_MS=1500\nPROMPT_MAX_CHARS=200\nLOCAL_AWS_SECRET_ACCESS_KEY=${LOCAL_SECRET}\n`,
    whileStarting: (ports: { api: number }) => firstAnswer(ports.api),
  });
  s3Dir = await mkdtemp(join(tmpdir(), 'dia-e2e-invoke-s3-'));
}, 130_000);

afterAll(async () => {
  // Ctrl-C to the stack, which stops serverless-offline's own process group too (a SIGKILL to the stack's group
  // alone would leave it listening).
  await stack.stop();
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

  it("prints only the addresses a caller should use, not serverless-offline's internal ones", () => {
    const printed = stack.output();
    const ports = new Set([...printed.matchAll(/(?:127\.0\.0\.1|localhost):(\d+)/g)].map((m) => Number(m[1])));
    expect(ports.size).toBeGreaterThan(0);
    expect([...ports].filter((port) => !Object.values(stack.ports).includes(port))).toEqual([]);
    expect(printed).not.toContain('Server ready');
    expect(printed).not.toMatch(/[┌│└]/);
  });

  it('answers 503 with Retry-After, not 502, while it is starting', () => {
    expect(earlyAnswer?.status).toBe(503);
    expect(Number(earlyAnswer?.retryAfter)).toBeGreaterThan(0);
    expect(JSON.parse(earlyAnswer?.body ?? '{}')).toMatchObject({ error: { code: 'service_starting' } });
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
    // The offline image carries this service's Content Credentials (the C2PA test certificate's locally), and the
    // CAI's reader, run here outside the service, validates the served file and reads what it states.
    expect(body['provenance']).toEqual({
      manifest: 'service',
      valid: true,
      signer: 'C2PA Test Signing Cert',
      claimGenerator: 'durable-image-api/0.1.0',
      digitalSourceType: TRAINED_ALGORITHMIC_MEDIA,
    });
    const report = await readC2pa(bytes, 'image/png');
    expect(report.validationState).toBe('Valid');
    const actions = report.active['assertions'].find((a: { label: string }) => a.label === 'c2pa.actions.v2').data.actions;
    expect(actions[0]).toMatchObject({
      action: 'c2pa.created',
      digitalSourceType: TRAINED_ALGORITHMIC_MEDIA,
      softwareAgent: { name: 'offline/placeholder' },
    });
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
    expect(await response.json()).toMatchObject({
      error: { code: 'invalid_request', message: '"prompt" must be at most 200 characters.' },
    });
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

  it('shows two preview URLs, each a valid image with Content Credentials, before the image succeeds, and /usage moves by exactly one image', async () => {
    const auth = { authorization: `Bearer ${API_KEY}` };
    const usage = async (): Promise<{ images: { used: number }; spendUsd: { settled: number; reserved: number } }> =>
      (await (await checkedFetch(api('/usage'), { headers: auth })).json()) as never;
    const before = await usage();
    // Act: the offline generator streams its previews at a third and two thirds of OFFLINE_DELAY_MS (1.5 s).
    const accepted = await postImage(JSON.stringify({ prompt: 'a slow watercolour kingfisher', previews: 2 }), { prefer: 'respond-async' });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    const whileRunning: { index: number; url: string }[][] = [];
    let image: Record<string, unknown> = {};
    for (let polls = 0; polls < 200 && image['status'] !== 'succeeded' && image['status'] !== 'failed'; polls += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      image = (await (await checkedFetch(api(`/images/${id}`), { headers: auth })).json()) as Record<string, unknown>;
      if (image['status'] === 'running' && image['previews']) whileRunning.push(image['previews'] as { index: number; url: string }[]);
    }
    // Assess: both previews were visible while it ran, in order, and each URL serves a complete PNG.
    expect(image['status']).toBe('succeeded');
    const previews = whileRunning.at(-1) ?? [];
    expect(previews.map((preview) => preview.index)).toEqual([0, 1]);
    expect(whileRunning.some((shown) => shown.length === 1)).toBe(true);
    for (const preview of previews) {
      const served = await fetch(preview.url);
      expect(served.status).toBe(200);
      expect(served.headers.get('content-type')).toBe('image/png');
      const bytes = Buffer.from(await served.arrayBuffer());
      expect(verifyImage(bytes)).toMatchObject({ width: 1024, height: 1024 });
      // Marked like the image: this service's Content Credentials, valid for the preview's own bytes.
      const report = await readC2pa(bytes, 'image/png');
      expect(report.validationState).toBe('Valid');
      expect(report.active['assertions'][0].data.actions[0]).toMatchObject({ digitalSourceType: TRAINED_ALGORITHMIC_MEDIA });
    }
    expect(image['previews']).toEqual(previews);
    const after = await usage();
    expect(after.images.used).toBe(before.images.used + 1);
    expect(after.spendUsd.settled).toBeCloseTo(before.spendUsd.settled + (image['costUsd'] as number), 6);
    expect(after.spendUsd.reserved).toBe(0);
    // DELETE takes the previews with the image.
    expect((await checkedFetch(api(`/images/${id}`), { method: 'DELETE', headers: auth })).status).toBe(204);
    for (const preview of previews) expect((await fetch(preview.url)).status).toBe(404);
  }, 30_000);

  it("generates from an upload and from the caller's own image; another caller's image id is 404", async () => {
    const auth = { authorization: `Bearer ${API_KEY}` };
    // An upload: the signed form, then the file straight to local S3 (its gate checks the form as S3 would).
    const ticketAnswer = await checkedFetch(api('/uploads'), {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ contentType: 'image/png' }),
    });
    expect(ticketAnswer.status).toBe(201);
    const ticket = (await ticketAnswer.json()) as { id: string; url: string; fields: Record<string, string> };
    expect(ticket.url).toBe(`http://127.0.0.1:${stack.ports.s3}/local-images`);
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
    const source = pngOf(256, 256, 'uploaded');
    form.append('file', new Blob([new Uint8Array(source)], { type: 'image/png' }), 'source.png');
    expect((await fetch(ticket.url, { method: 'POST', body: form })).status).toBe(204);
    // Uploads are private, as records are.
    expect((await fetch(`${ticket.url}/${ticket.fields['key']}`)).status).toBe(403);
    // Act: generate from the upload, then edit that image by its id.
    const fromUpload = await postImage(JSON.stringify({ prompt: 'the same, at night', images: [{ upload: ticket.id }] }), {
      prefer: 'wait=20',
    });
    expect(fromUpload.status).toBe(201);
    const first = (await fromUpload.json()) as { id: string; url: string; sha256: string };
    const fromImage = await postImage(JSON.stringify({ prompt: 'the same, in snow', images: [{ id: first.id }] }), { prefer: 'wait=20' });
    expect(fromImage.status).toBe(201);
    const second = (await fromImage.json()) as { url: string; sha256: string };
    // Assess: both stored and served, and different pictures (the offline generator mixes the input in).
    for (const image of [first, second]) {
      const served = Buffer.from(await (await fetch(image.url)).arrayBuffer());
      expect(createHash('sha256').update(served).digest('hex')).toBe(image.sha256);
    }
    expect(second.sha256).not.toBe(first.sha256);
    const theirs = await checkedFetch(api('/images'), {
      method: 'POST',
      headers: { authorization: `Bearer ${OTHER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'not mine', images: [{ id: first.id }] }),
    });
    expect(theirs.status).toBe(404);
    expect(await theirs.json()).toMatchObject({ error: { code: 'not_found' } });
  }, 60_000);

  it("answers unknown routes and wrong methods with the API's JSON errors, not the framework's", async () => {
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

describe("npm start: the local S3, DynamoDB and Lambda ports are no door into the developer's key", () => {
  const credentials = (secretAccessKey: string) => ({ accessKeyId: 'S3RVER', secretAccessKey });
  const local = (port: number, secret: string) => ({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: credentials(secret),
    maxAttempts: 1,
  });
  const fromPage = (url: string, init: RequestInit = {}): Promise<Response> =>
    fetch(url, { ...init, headers: { origin: 'https://some-page.example', 'content-type': 'text/plain', ...init.headers } });

  it('local S3: anonymous callers may only read images/; a wrong signature is refused', async () => {
    const s3 = `http://127.0.0.1:${stack.ports.s3}/${LOCAL_BUCKET}`;
    const created = await postImage(JSON.stringify({ prompt: 'a moth on a lamp' }));
    const { id, url } = (await created.json()) as { id: string; url: string };
    expect((await fromPage(url)).status).toBe(200);
    const refused = [
      await fromPage(`${s3}/`), // bucket listing
      await fromPage(`${s3}/?list-type=2&X-Amz-Signature=${'0'.repeat(64)}`), // a signature parameter alone
      await fromPage(`${s3}/images/..%2Frecords%2F${id}.json`), // out of the public prefix once decoded
      await fromPage(`${s3}/images/page.html`, {
        method: 'PUT',
        body: '<script>alert(1)</script>',
        headers: { 'content-type': 'text/html' },
      }),
      await fromPage(url, { method: 'DELETE' }),
    ];
    expect(refused.map((response) => response.status)).toEqual([403, 403, 403, 403, 403]);
    expect(refused.map((response) => response.headers.get('access-control-allow-origin'))).toEqual([null, null, null, null, null]);
    expect((await fetch(url)).status).toBe(200); // the DELETE did nothing

    const wrong = new S3Client({ ...local(stack.ports.s3, 'not-this-run'), forcePathStyle: true });
    await expect(wrong.send(new ListObjectsV2Command({ Bucket: LOCAL_BUCKET }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
    await expect(wrong.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: `records/${id}.json` }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
    const right = new S3Client({ ...local(stack.ports.s3, LOCAL_SECRET), forcePathStyle: true });
    const listed = await right.send(new ListObjectsV2Command({ Bucket: LOCAL_BUCKET, Prefix: 'images/' }));
    expect(listed.Contents?.some((object) => object.Key?.includes(id))).toBe(true);
    wrong.destroy();
    right.destroy();
  });

  it('listens on no TCP port but its four gates: none answers an unsigned S3, DynamoDB or Lambda call, or a preflight but the API', async () => {
    // Prepare: every TCP port any process of the stack listens on (s3rver, dynalite and serverless-offline's two
    // servers are on Unix sockets in a private directory, so only the gates should be found).
    const ports = await listeningTcpPorts(await processTree(stack.pid as number));
    expect(ports).toEqual((Object.values(stack.ports) as number[]).sort((a, b) => a - b));
    for (const port of ports) {
      const base = `http://127.0.0.1:${port}`;
      // Act: what a web page or another local user could send, without this run's secret.
      const list = await fetch(`${base}/${LOCAL_BUCKET}?list-type=2`);
      const tables = await fetch(`${base}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' },
        body: '{}',
      });
      const scan = await fetch(`${base}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.Scan' },
        body: '{"TableName":"local-state"}',
      });
      const invoke = await fetch(`${base}/2015-03-31/functions/${LOCAL_WORKER_FUNCTION}/invocations`, {
        method: 'POST',
        headers: { 'x-amz-invocation-type': 'Event' },
        body: '{"id":"AAAAAAAAAAAAAAAAAAAAAA"}',
      });
      const preflight = await fetch(`${base}/images`, {
        method: 'OPTIONS',
        headers: { origin: 'https://some-page.example', 'access-control-request-method': 'POST' },
      });
      // Assess
      const bodies = await Promise.all([list, tables, scan].map((response) => response.text()));
      expect(bodies.some((body) => body.includes('ListBucketResult') || body.includes('TableNames') || body.includes('"Items"'))).toBe(
        false,
      );
      for (const response of [list, tables, scan, invoke]) expect(response.status).toBeGreaterThanOrEqual(400);
      if (port !== stack.ports.api) expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it("local DynamoDB: no request from a page, no preflight, no call without this run's signature", async () => {
    const dynamo = `http://127.0.0.1:${stack.ports.dynamo}/`;
    const preflight = await fetch(dynamo, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://some-page.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-amz-target',
      },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const put = await fromPage(dynamo, {
      method: 'POST',
      headers: { 'x-amz-target': 'DynamoDB_20120810.PutItem' },
      body: JSON.stringify({ TableName: 'local-state', Item: { pk: { S: 'job#planted' }, status: { S: 'queued' } } }),
    });
    expect(put.status).toBe(403);
    const wrong = new DynamoDBClient(local(stack.ports.dynamo, 'not-this-run'));
    await expect(wrong.send(new ListTablesCommand({}))).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    const right = new DynamoDBClient(local(stack.ports.dynamo, LOCAL_SECRET));
    expect((await right.send(new ListTablesCommand({}))).TableNames).toEqual(['local-state']);
    wrong.destroy();
    right.destroy();
  });

  it("local Lambda: a page cannot invoke the worker, nor a caller without this run's signature", async () => {
    const invocations = `http://127.0.0.1:${stack.ports.lambda}/2015-03-31/functions/${LOCAL_WORKER_FUNCTION}/invocations`;
    const fromAPage = await fromPage(invocations, {
      method: 'POST',
      headers: { 'x-amz-invocation-type': 'Event' },
      body: '{"id":"AAAAAAAAAAAAAAAAAAAAAA"}',
    });
    expect(fromAPage.status).toBe(403);
    expect(fromAPage.headers.get('access-control-allow-origin')).toBeNull();
    const wrong = new LambdaClient(local(stack.ports.lambda, 'not-this-run'));
    await expect(
      wrong.send(new InvokeCommand({ FunctionName: LOCAL_WORKER_FUNCTION, InvocationType: 'Event', Payload: Buffer.from('{}') })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    wrong.destroy();
  });

  it('survives a duplicate worker event for a running job (JobBusyError), and Lambda-like retries it', async () => {
    const accepted = await postImage(JSON.stringify({ prompt: 'a kettle, twice' }), { prefer: 'respond-async' });
    const { id } = (await accepted.json()) as { id: string };
    const status = async (): Promise<string> =>
      ((await (await fetch(api(`/images/${id}`), { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as { status: string })
        .status;
    for (let polls = 0; polls < 100 && (await status()) !== 'running'; polls += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    // Act: the same event again while the first worker holds the job, as Lambda may deliver it.
    const lambda = new LambdaClient(local(stack.ports.lambda, LOCAL_SECRET));
    const duplicate = await lambda.send(
      new InvokeCommand({ FunctionName: LOCAL_WORKER_FUNCTION, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ id })) }),
    );
    lambda.destroy();
    // Assess
    expect(duplicate.StatusCode).toBe(202);
    for (let polls = 0; polls < 100 && (await status()) !== 'succeeded'; polls += 1)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await status()).toBe('succeeded');
    expect(stack.output()).toMatch(
      /local Lambda: durable-image-api-local-runImageJob failed; retrying the event in 60 s, as Lambda would: .*JobBusyError/,
    );
    expect((await postImage(JSON.stringify({ prompt: 'still up' }))).status).toBe(201);
  }, 30_000);
});

describe('npm start: local state across restarts', () => {
  it('still knows an image after a restart on the same .local files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dia-restart-'));
    const options = { apiKey: API_KEY, env: { OPENAI_API_KEY: '' }, dir };
    const first = await startStackProcess(options);
    const created = await fetch(`http://127.0.0.1:${first.ports.api}/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'a stone that stays' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    // A second npm start on the same state is refused in one line (its database would be locked).
    const second = await run(['scripts/start-local.mjs'], {
      env: {
        ...process.env,
        PORT: String(await freePort()),
        S3_PORT: String(await freePort()),
        LAMBDA_PORT: String(await freePort()),
        DYNAMODB_PORT: String(await freePort()),
        LOCAL_S3_DIR: join(dir, 's3'),
        LOCAL_STATE_DIR: join(dir, 'dynamodb'),
        ENV_FILE: '/dev/null',
      },
      timeoutMs: 60_000,
    });
    expect(second.code).toBe(1);
    expect(second.output).toMatch(/^npm start: the local state in .* is in use by another npm start \(process \d+\)/m);
    expect(second.output).not.toMatch(/at .*\.(js|mjs):\d+/);
    await first.stop();
    // Act
    const restarted = await startStackProcess(options);
    try {
      const again = await fetch(`http://127.0.0.1:${restarted.ports.api}/images/${id}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      // Assess: the job and the quota it used are still there.
      expect(again.status).toBe(200);
      expect(await again.json()).toMatchObject({ id, status: 'succeeded' });
      const next = await fetch(`http://127.0.0.1:${restarted.ports.api}/images`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'the second stone' }),
      });
      expect(next.headers.get('ratelimit-remaining')).toBe('48');
    } finally {
      await restarted.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

describe('a bad port', () => {
  it.each([
    ['npm start', 'scripts/start-local.mjs'],
    ['npm run invoke', 'scripts/invoke-local.mjs'],
  ])(
    'stops %s with one line naming the variable (S3_PORT=41001x), exit code 1',
    async (name, script) => {
      const { code, output } = await run([script], {
        env: { ...process.env, ENV_FILE: '/dev/null', S3_PORT: '41001x' },
        timeoutMs: 60_000,
      });
      expect(code).toBe(1);
      expect(output).toContain(`${name}: S3_PORT must be a port number from 1 to 65535, got "41001x"`);
      expect(output).not.toContain('PUBLIC_BASE_URL');
    },
    70_000,
  );
});

describe('a bad configuration value', () => {
  it.each([
    ['npm start', 'scripts/start-local.mjs'],
    ['npm run invoke', 'scripts/invoke-local.mjs'],
  ])(
    'stops %s before it starts, with one line naming the variable, exit code 1',
    async (name, script) => {
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
    },
    70_000,
  );
});

describe('npm run invoke: serverless invoke local with the sample events', () => {
  const invoke = async (event: string, env: Record<string, string> = {}): Promise<string> => {
    // A port free when chosen may be taken by a parallel test before invoke binds it: then it says so in one line,
    // and runs again on another.
    for (let attempt = 1; ; attempt += 1) {
      const s3Port = await freePort();
      const { code, output: printed } = await run(['scripts/invoke-local.mjs', event], {
        env: { ...process.env, S3_PORT: String(s3Port), LOCAL_S3_DIR: s3Dir, LOCAL_API_KEY: '', ENV_FILE: '/dev/null', ...env },
        timeoutMs: 120_000,
      });
      if (attempt < 3 && code === 1 && printed.includes('is already in use')) continue;
      expect(code).toBe(0);
      return printed;
    }
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
      image = (await (await checkedFetch(api(`/images/${id}`), { headers: { authorization: `Bearer ${API_KEY}` } })).json()) as Record<
        string,
        unknown
      >;
    }
    expect(image).toMatchObject({ id, status: 'succeeded' });
  }, 30_000);

  it('stores beside a running npm start on its files, and names the URL npm start serves the image at', async () => {
    // Act: the same local S3 files, and even npm start's own S3 port asked for.
    const { code, output } = await run(['scripts/invoke-local.mjs', 'events/generate-image.json'], {
      env: {
        ...process.env,
        S3_PORT: String(stack.ports.s3),
        LOCAL_S3_DIR: stack.s3Directory,
        ENV_FILE: '/dev/null',
        LOCAL_API_KEY: API_KEY,
      },
      timeoutMs: 120_000,
    });
    // Assess: it ran (no "port in use"), and the URL it names serves the image now.
    expect(code).toBe(0);
    const url = new RegExp(
      `Image URL: (http://127\\.0\\.0\\.1:${stack.ports.s3}/local-images/images/\\S+\\.png)\\nServed now by the running`,
    ).exec(output)?.[1];
    expect(url).toBeDefined();
    const image = await fetch(url as string);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
  }, 130_000);

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

describe('npm start: a signal to npm itself', () => {
  it('kill -TERM to the `npm start` process leaves no process of the stack and no lock behind', async () => {
    // Prepare: `npm start` as a terminal or a supervisor runs it (npm, then a shell, then node), on free ports.
    const dir = await mkdtemp(join(tmpdir(), 'dia-sigterm-'));
    const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(ports[0]),
        S3_PORT: String(ports[1]),
        LAMBDA_PORT: String(ports[2]),
        DYNAMODB_PORT: String(ports[3]),
        LOCAL_S3_DIR: join(dir, 's3'),
        LOCAL_STATE_DIR: join(dir, 'dynamodb'),
        ENV_FILE: '/dev/null',
        OPENAI_API_KEY: '',
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout?.on('data', (chunk) => (output += chunk));
    npm.stderr?.on('data', (chunk) => (output += chunk));
    try {
      for (let waited = 0; !output.includes('Ctrl-C stops everything'); waited += 100) {
        if (waited > 120_000 || npm.exitCode !== null) throw new Error(`npm start did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const tree = await processTree(npm.pid as number);
      expect(tree.length).toBeGreaterThanOrEqual(4); // npm, sh, start-local, serverless-offline
      expect(existsSync(join(dir, 'dynamodb', 'npm-start.pid'))).toBe(true);
      // Act: the signal to npm alone, not to its process group.
      process.kill(npm.pid as number, 'SIGTERM');
      // Assess: within 20 s, every process of the stack is gone, every port is free, the lock is removed.
      const alive = (pid: number): boolean => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      for (let waited = 0; tree.some(alive) && waited < 20_000; waited += 200) await new Promise((resolve) => setTimeout(resolve, 200));
      expect(tree.filter(alive)).toEqual([]);
      for (const port of ports) expect(await isListening(port)).toBe(false);
      expect(existsSync(join(dir, 'dynamodb', 'npm-start.pid'))).toBe(false);
    } finally {
      try {
        process.kill(-(npm.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
