import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { Webhook } from 'standardwebhooks';
import { createDependencies, createUseCases } from '../../lib/composition-root.js';
import { DynamoDbKeyStore } from '../../lib/adapters/aws/dynamodb-key-store.js';
import { newApiKey, newWebhookSecret } from '../../lib/domain/api-keys.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { captureOutput } from '../support/capture-logs.js';
import { withContract } from '../support/contract.js';
import { createWorkerHandler } from '../../lib/worker/run-image-job-handler.js';
import type { CdnInvalidator, GeneratedImage, ImageGenerator } from '../../lib/ports.js';
import { OTHER_API_KEY, TEST_API_KEY, serversEnv } from '../support/env.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamo.js';
import { maskPng, noisePng, pngOf } from '../support/fixtures.js';
import { S3FaultProxy } from '../support/s3-fault-proxy.js';
import { BackgroundDispatcher, WebhookReceiver } from '../support/jobs.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';
import { sseEvents } from '../support/sse.js';
import { installAwsLambda, invokeStreamed } from '../../scripts/lambda-streaming.mjs';
import { OpenAITestServer, errorReply, imageReply, streamReply } from '../support/openai-test-server.js';
import { PREVIEW_COST, SETTLED_COST, estimatedCost } from '../support/pricing.js';
import { startLocalS3, type LocalS3 } from '../support/s3-server.js';

/**
 * Images as resources, through the real API and worker handlers, on dynalite, s3rver and the OpenAI test server.
 * The worker runs in this process, started the way Lambda's asynchronous invocation would (tests/support/jobs.ts).
 */

const PNG = pngOf(48, 32, 'job image');
const PNG_B64 = PNG.toString('base64');
const LOW = { prompt: 'a lighthouse at dawn', quality: 'low' };
const COST = estimatedCost(LOW.prompt);
const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString('base64')}`;

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
type Json = Record<string, any>;
/** A handler under Lambda's streaming contract: (event, responseStream, context). */
type StreamingHandler = (event: APIGatewayProxyEventV2, stream: unknown, context: Context) => Promise<void>;

// What Lambda's runtime defines before it loads a handler (the streamed /v1 function needs it).
installAwsLambda();

let s3: LocalS3;
let dynamo: LocalDynamo;
let openai: OpenAITestServer;
let receiver: WebhookReceiver;
let table: string;
let tables = 0;

beforeAll(async () => {
  [s3, dynamo, openai, receiver] = await Promise.all([
    startLocalS3(),
    startLocalDynamo(),
    OpenAITestServer.start(imageReply(PNG_B64)),
    WebhookReceiver.start(),
  ]);
  process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
});

afterAll(async () => {
  await Promise.all([openai.close(), s3.stop(), dynamo.stop(), receiver.close()]);
});

beforeEach(async () => {
  openai.reset(imageReply(PNG_B64));
  receiver.reset();
  await s3.clear();
  tables += 1;
  table = `jobs-${tables}`;
  await dynamo.createTable(table);
});

interface Stack {
  api: Handler;
  /** The `/v1` function URL's handler: OpenAI's dialect only. */
  v1Api: Handler;
  v1Streamed: StreamingHandler;
  worker: Handler;
  dispatcher: BackgroundDispatcher;
  invalidated: string[][];
  useCases: ReturnType<typeof createUseCases>;
}

/** The API and the worker on the test servers, wired by the real composition root. */
function makeStack(env: Record<string, string> = {}, generator?: ImageGenerator, now?: () => number, client = dynamo.client): Stack {
  const config = parseConfig(
    serversEnv(
      { openaiBaseUrl: openai.baseUrl, s3Endpoint: s3.endpoint, bucket: s3.bucket, dynamoEndpoint: dynamo.endpoint, table },
      { WEBHOOK_SECRET, WEBHOOK_ALLOW_LOOPBACK: 'true', ...env },
    ),
  );
  const dispatcher = new BackgroundDispatcher();
  const invalidated: string[][] = [];
  const cdn: CdnInvalidator = {
    invalidate: async (keys) => {
      invalidated.push(keys);
    },
  };
  const deps = createDependencies(config, {
    dynamo: client,
    dispatcher,
    cdn,
    ...(generator ? { generator } : {}),
    ...(now ? { now } : {}),
  });
  const useCases = createUseCases(deps);
  const worker = createWorkerHandler(deps, useCases) as unknown as Handler;
  dispatcher.worker = worker as unknown as BackgroundDispatcher['worker'];
  return {
    api: withContract(createApiHandler(deps, useCases) as unknown as Handler),
    // Not checked against openapi.yaml: that describes the HTTP API, where these paths exist.
    v1Api: createApiHandler(deps, useCases, 'v1') as unknown as Handler,
    // The /v1 function as deployed: its URL streams, and the handler follows Lambda's streaming contract.
    v1Streamed: createApiHandler(deps, useCases, 'v1', { streamResponses: true }) as unknown as StreamingHandler,
    worker,
    dispatcher,
    invalidated,
    useCases,
  };
}

const auth = (key = TEST_API_KEY): Record<string, string> => ({ authorization: `Bearer ${key}` });
const post = (body: unknown, headers: Record<string, string> = {}): APIGatewayProxyEventV2 =>
  httpEvent({ body: JSON.stringify(body), headers: { ...auth(), ...headers } });
const get = (path: string, key = TEST_API_KEY, query?: Record<string, string>): APIGatewayProxyEventV2 =>
  httpEvent({ method: 'GET', path, headers: auth(key), ...(query ? { query } : {}) });
const del = (path: string, key = TEST_API_KEY): APIGatewayProxyEventV2 => httpEvent({ method: 'DELETE', path, headers: auth(key) });
const body = (response: APIGatewayProxyStructuredResultV2): Json => JSON.parse(response.body ?? '{}') as Json;
const header = (response: APIGatewayProxyStructuredResultV2, name: string): unknown =>
  Object.entries(response.headers ?? {}).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const slowImage = (delayMs: number) => ({ ...imageReply(PNG_B64), delayMs }) as ReturnType<typeof imageReply>;

const usage = async (): Promise<{ images: unknown; spend: unknown }> => {
  const item = (await dynamo.items(table)).find((i) => String(i['pk']).startsWith('quota#api-key:web-app#'));
  return { images: item?.['images'], spend: item?.['spendMicroUsd'] };
};

/** GET until the image is final (or the bound passes). */
async function pollUntilFinal(api: Handler, id: string, boundMs = 10_000): Promise<APIGatewayProxyStructuredResultV2> {
  const until = Date.now() + boundMs;
  for (;;) {
    const response = await api(get(`/images/${id}`), lambdaContext());
    const status = body(response)['status'];
    if (status === 'succeeded' || status === 'failed' || Date.now() > until) return response;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits (bounded) until `condition` holds: timing-independent on a slow machine. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A generator that never returns: its worker is as good as killed mid-generation. */
const stuckGenerator = (): ImageGenerator & { calls: number } => {
  const generator = {
    calls: 0,
    generate: (): Promise<GeneratedImage> => {
      generator.calls += 1;
      return new Promise<GeneratedImage>(() => undefined);
    },
  };
  return generator;
};

describe('POST /images with a worker', () => {
  it("answers 201 with today's body and status succeeded when the image is ready within the wait", async () => {
    const { api, dispatcher } = makeStack();
    const response = await api(post(LOW), lambdaContext());
    expect(response.statusCode).toBe(201);
    const image = body(response);
    expect(image).toMatchObject({
      status: 'succeeded',
      model: 'gpt-image-2',
      contentType: 'image/png',
      sha256: sha256(PNG),
      width: 48,
      height: 32,
    });
    expect(header(response, 'location')).toBe(image['url']);
    expect((await s3.get(image['key'] as string)).body.equals(PNG)).toBe(true);
    expect(dispatcher.dispatched).toEqual([image['id']]);
    await dispatcher.settled();
  });

  it('answers 202 for a generation longer than the wait, and GET returns the stored image once it succeeded', async () => {
    // Prepare: the provider takes 1.5 s; the caller waits at most 1 s.
    openai.enqueue(slowImage(1_500));
    const { api, dispatcher } = makeStack();
    // Act
    const accepted = await api(post(LOW, { prefer: 'wait=1' }), lambdaContext());
    // Assess
    expect(accepted.statusCode).toBe(202);
    const created = body(accepted);
    expect(created).toEqual({
      id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      status: 'running',
      model: 'gpt-image-2',
      createdAt: expect.any(String),
    });
    expect(header(accepted, 'location')).toBe(`/images/${created['id'] as string}`);
    expect(Number(header(accepted, 'retry-after'))).toBeGreaterThan(0);
    expect(header(accepted, 'preference-applied')).toBe('wait=1');
    expect(header(accepted, 'ratelimit-remaining')).toBe('49');
    const final = await pollUntilFinal(api, created['id'] as string);
    expect(final.statusCode).toBe(200);
    const image = body(final);
    expect(image).toMatchObject({ id: created['id'], status: 'succeeded', sha256: sha256(PNG), createdAt: created['createdAt'] });
    expect(Date.parse(image['completedAt'] as string)).toBeGreaterThanOrEqual(Date.parse(image['createdAt'] as string));
    const stored = await s3.get(image['key'] as string);
    expect(sha256(stored.body)).toBe(image['sha256']);
    expect(openai.calls).toHaveLength(1);
    await dispatcher.settled();
  });

  it('answers 202 at once for Prefer: respond-async', async () => {
    openai.enqueue(slowImage(300));
    const { api, dispatcher } = makeStack();
    const accepted = await api(post(LOW, { prefer: 'respond-async' }), lambdaContext());
    expect(accepted.statusCode).toBe(202);
    expect(['queued', 'running']).toContain(body(accepted)['status']);
    expect(header(accepted, 'preference-applied')).toBe('respond-async');
    await dispatcher.settled();
    expect(body(await api(get(`/images/${body(accepted)['id'] as string}`), lambdaContext()))['status']).toBe('succeeded');
  });

  it("answers a failed generation finished within the wait with today's error status and code", async () => {
    openai.enqueue(errorReply(400, { code: 'moderation_blocked' }));
    const { api, dispatcher } = makeStack();
    const response = await api(post(LOW), lambdaContext());
    expect(response.statusCode).toBe(422);
    expect(body(response)['error']).toMatchObject({ code: 'content_policy_violation' });
    // The refusal was free: the reservation is given back.
    expect(await usage()).toEqual({ images: 0, spend: 0 });
    await dispatcher.settled();
  });

  it('keeps the spend of a generation that failed after the request was sent, and shows it failed', async () => {
    openai.enqueue({ ...errorReply(500, { type: 'server_error' }), delayMs: 1_200 } as ReturnType<typeof errorReply>);
    const { api, dispatcher } = makeStack();
    const accepted = await api(post(LOW, { prefer: 'wait=1' }), lambdaContext());
    expect(accepted.statusCode).toBe(202);
    const final = body(await pollUntilFinal(api, body(accepted)['id'] as string));
    expect(final).toMatchObject({ status: 'failed', error: { code: 'provider_error', message: expect.any(String) } });
    expect(final).not.toHaveProperty('url');
    expect(await usage()).toEqual({ images: 1, spend: COST });
    await dispatcher.settled();
  });
});

describe('the worker: at most one provider call per image', () => {
  it('calls the provider once when the same event is delivered twice at the same time and once more later', async () => {
    openai.setFallback(slowImage(300));
    const { api, dispatcher } = makeStack();
    dispatcher.deliver = false;
    const accepted = await api(post(LOW, { prefer: 'respond-async' }), lambdaContext());
    const id = body(accepted)['id'] as string;
    // Act: a duplicate delivery while the first runs, and a retry after it finished.
    const both = await Promise.allSettled([dispatcher.run(id), dispatcher.run(id)]);
    await dispatcher.run(id);
    // Assess: the duplicate found the job held by a live worker and asked the platform to retry it later.
    expect(both.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = both.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    expect((refused?.reason as Error | undefined)?.name).toBe('JobBusyError');
    expect(openai.calls).toHaveLength(1);
    expect(body(await api(get(`/images/${id}`), lambdaContext()))['status']).toBe('succeeded');
    expect((await s3.keys()).filter((key) => key.startsWith('images/'))).toHaveLength(1);
  });

  it('ends a job whose worker died mid-generation as failed within its lease, without a second provider call', async () => {
    // Prepare: a worker that never comes back from the provider, holding a lease of 1.5 s.
    const stuck = stuckGenerator();
    const { api, dispatcher, useCases } = makeStack({}, stuck);
    dispatcher.deliver = false;
    const id = body(await api(post({ ...LOW, webhook: receiver.url }, { prefer: 'respond-async' }), lambdaContext()))['id'] as string;
    const leaseUntil = Date.now() + 1_500;
    void useCases.images?.run(id, { deadline: Date.now() + 60_000, leaseUntil, webhookReserveMs: 0 });
    await until(() => stuck.calls === 1);
    expect(body(await api(get(`/images/${id}`), lambdaContext()))['status']).toBe('running');
    // Act: the lease runs out; Lambda's retry of the crashed event arrives.
    await until(() => Date.now() > leaseUntil + 50);
    await dispatcher.run(id);
    // Assess
    const final = body(await api(get(`/images/${id}`), lambdaContext()));
    expect(final).toMatchObject({ status: 'failed', error: { code: 'generation_interrupted' } });
    expect(stuck.calls).toBe(1);
    // The provider was called and may bill: the reservation stays counted.
    expect(await usage()).toEqual({ images: 1, spend: COST });
    const [delivery] = await receiver.waitFor(1);
    expect(JSON.parse(delivery?.body ?? '{}')).toMatchObject({ type: 'image.failed', data: { id, status: 'failed' } });
  });

  it('shows a job past its lease as failed to a reader even before any retry', async () => {
    const stuck = stuckGenerator();
    const { api, dispatcher, useCases } = makeStack({}, stuck);
    dispatcher.deliver = false;
    const id = body(await api(post(LOW, { prefer: 'respond-async' }), lambdaContext()))['id'] as string;
    const leaseUntil = Date.now() + 300;
    void useCases.images?.run(id, { deadline: Date.now() + 60_000, leaseUntil, webhookReserveMs: 0 });
    await until(() => stuck.calls === 1);
    await until(() => Date.now() > leaseUntil + 50);
    const listed = body(await api(get('/images'), lambdaContext()));
    expect(listed['data'][0]).toMatchObject({ id, status: 'failed', error: { code: 'generation_interrupted' } });
    expect(body(await api(get(`/images/${id}`), lambdaContext()))['status']).toBe('failed');
    expect(stuck.calls).toBe(1);
  });

  it('refuses to run a queued job that carries no quota reservation while quotas are on: failed, provider not called', async () => {
    // Prepare: a job queued as POST /images writes it, less its reservation (written by something else).
    const { api, dispatcher } = makeStack();
    dispatcher.deliver = false;
    const id = body(await api(post(LOW, { prefer: 'respond-async' }), lambdaContext()))['id'] as string;
    await dynamo.client.send(
      new UpdateItemCommand({ TableName: table, Key: { pk: { S: `image#${id}` } }, UpdateExpression: 'REMOVE reservation' }),
    );
    // Act
    await dispatcher.run(id);
    // Assess
    expect(openai.calls).toHaveLength(0);
    expect(body(await api(get(`/images/${id}`), lambdaContext()))).toMatchObject({ status: 'failed', error: { code: 'quota_exceeded' } });
    expect((await s3.keys()).filter((key) => key.startsWith('images/'))).toEqual([]);
  });

  it("gives a reservation back once when the job's create was written but its answer lost", async () => {
    // Prepare: DynamoDB writes the job, then the answer is lost (the SDK's retry would fail its condition).
    const lossy = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: dynamo.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    lossy.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const item = (args.input as { Item?: Record<string, { S?: string }> }).Item;
        if (context.commandName === 'PutItemCommand' && item?.['pk']?.S?.startsWith('image#')) {
          throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
        }
        return result;
      },
      { step: 'initialize', name: 'loseCreateAnswer' },
    );
    const { api } = makeStack({}, undefined, undefined, lossy);
    // Act
    const response = await api(post(LOW, { prefer: 'respond-async' }), lambdaContext());
    // Assess: refused, given back once, and nothing left that a later reader could settle (and refund) again.
    expect(response.statusCode).toBe(503);
    expect(await usage()).toEqual({ images: 0, spend: 0 });
    expect((await dynamo.items(table)).filter((item) => String(item['pk']).startsWith('image#'))).toEqual([]);
    const later = makeStack({}, undefined, () => Date.now() + 7 * 3_600_000);
    await later.api(get('/images'), lambdaContext());
    expect(await usage()).toEqual({ images: 0, spend: 0 });
    expect(openai.calls).toHaveLength(0);
    lossy.destroy();
  });

  it('ends a job whose queued event expired (never started) as failed, and gives its reservation back', async () => {
    const { api, dispatcher } = makeStack();
    dispatcher.deliver = false; // the event is lost: Lambda dropped it after its maximum age
    const id = body(await api(post(LOW, { prefer: 'respond-async' }), lambdaContext()))['id'] as string;
    expect(await usage()).toEqual({ images: 1, spend: COST });
    // Act: seven hours later, the owner looks.
    const later = makeStack({}, undefined, () => Date.now() + 7 * 3_600_000);
    const shown = body(await later.api(get(`/images/${id}`), lambdaContext()));
    // Assess
    expect(shown).toMatchObject({ status: 'failed', error: { code: 'queue_unavailable' } });
    expect(await usage()).toEqual({ images: 0, spend: 0 });
    await later.dispatcher.run(id); // a late delivery does not start it
    expect(openai.calls).toHaveLength(0);
  });
});

describe('GET /images and GET /images/{id}', () => {
  it("lists the caller's own images newest first over several pages, with an opaque cursor", async () => {
    const { api, dispatcher } = makeStack();
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push(body(await api(post({ ...LOW, prompt: `picture ${i}` }), lambdaContext()))['id'] as string);
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct creation times
    }
    await api(post(LOW, auth(OTHER_API_KEY)), lambdaContext());
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await api(get('/images', TEST_API_KEY, { limit: '2', ...(cursor ? { cursor } : {}) }), lambdaContext());
      expect(page.statusCode).toBe(200);
      const { data, nextCursor } = body(page) as { data: Json[]; nextCursor: string | null };
      expect(data.length).toBeLessThanOrEqual(2);
      seen.push(...data.map((image) => image['id'] as string));
      cursor = nextCursor ?? undefined;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
    await dispatcher.settled();
  });

  it('refuses a bad limit or cursor with 400 JSON', async () => {
    const { api } = makeStack();
    const queries: Record<string, string>[] = [{ limit: '0' }, { limit: '101' }, { limit: 'ten' }, { cursor: 'not-a-cursor' }];
    for (const query of queries) {
      const response = await api(get('/images', TEST_API_KEY, query), lambdaContext());
      expect(response.statusCode).toBe(400);
      expect(body(response)['error']).toMatchObject({ code: 'invalid_request' });
    }
  });

  it("answers 404 for another caller's image, an unknown id and a malformed one, the same way", async () => {
    const { api, dispatcher } = makeStack();
    const id = body(await api(post(LOW), lambdaContext()))['id'] as string;
    const answers = await Promise.all([
      api(get(`/images/${id}`, OTHER_API_KEY), lambdaContext()),
      api(get(`/images/${'A'.repeat(22)}`), lambdaContext()),
      api(get('/images/..%2F..%2Fetc'), lambdaContext()),
      api(del(`/images/${id}`, OTHER_API_KEY), lambdaContext()),
    ]);
    for (const answer of answers) {
      expect(answer.statusCode).toBe(404);
      expect(body(answer)['error']).toMatchObject({ code: 'not_found' });
    }
    expect(answers[0]?.body?.replace(/req-\d+/, '')).toBe(answers[1]?.body?.replace(/req-\d+/, ''));
    // The owner still has it.
    expect((await api(get(`/images/${id}`), lambdaContext())).statusCode).toBe(200);
    await dispatcher.settled();
  });

  it('needs credentials like POST', async () => {
    const { api } = makeStack();
    const response = await api(httpEvent({ method: 'GET', path: '/images' }), lambdaContext());
    expect(response.statusCode).toBe(401);
  });
});

describe('DELETE /images/{id}', () => {
  it('removes the image, its record and its job, and invalidates the CDN', async () => {
    const { api, invalidated, dispatcher } = makeStack();
    const image = body(await api(post(LOW), lambdaContext()));
    expect(await s3.keys()).toHaveLength(2);
    // Act
    const response = await api(del(`/images/${image['id'] as string}`), lambdaContext());
    // Assess
    expect(response.statusCode).toBe(204);
    expect(response.body ?? '').toBe('');
    expect(await s3.keys()).toEqual([]);
    expect((await api(get(`/images/${image['id'] as string}`), lambdaContext())).statusCode).toBe(404);
    expect(body(await api(get('/images'), lambdaContext()))['data']).toEqual([]);
    expect(invalidated).toEqual([[image['key']]]);
    expect((await api(del(`/images/${image['id'] as string}`), lambdaContext())).statusCode).toBe(404);
    await dispatcher.settled();
  });

  it('cancels a queued job: the provider is never called and the quota is given back', async () => {
    const { api, dispatcher } = makeStack();
    dispatcher.deliver = false;
    const id = body(await api(post(LOW, { prefer: 'respond-async' }), lambdaContext()))['id'] as string;
    expect(await usage()).toEqual({ images: 1, spend: COST });
    expect((await api(del(`/images/${id}`), lambdaContext())).statusCode).toBe(204);
    await dispatcher.run(id); // the event that was already queued
    expect(openai.calls).toHaveLength(0);
    expect(await usage()).toEqual({ images: 0, spend: 0 });
    expect(await s3.keys()).toEqual([]);
  });

  it('deletes a running job: the worker removes what it stores when the provider returns', async () => {
    openai.enqueue(slowImage(1_000));
    const { api, dispatcher } = makeStack();
    const id = body(await api(post(LOW, { prefer: 'respond-async' }), lambdaContext()))['id'] as string;
    await until(() => openai.calls.length === 1); // the worker is waiting on the provider
    expect((await api(del(`/images/${id}`), lambdaContext())).statusCode).toBe(204);
    expect((await api(get(`/images/${id}`), lambdaContext())).statusCode).toBe(404);
    await dispatcher.settled();
    expect(openai.calls).toHaveLength(1);
    expect(await s3.keys()).toEqual([]);
    expect((await dynamo.items(table)).filter((item) => String(item['pk']).startsWith('image#'))).toEqual([]);
  });
});

describe('Idempotency-Key across the asynchronous flow', () => {
  it("answers a replay at once with 202 while the first request's job runs, instead of holding the API until it ends", async () => {
    openai.enqueue(slowImage(3_000));
    const { api, dispatcher } = makeStack();
    const first = await api(post(LOW, { 'idempotency-key': 'order-8', prefer: 'respond-async' }), lambdaContext());
    expect(first.statusCode).toBe(202);
    // A replay that does not ask for an asynchronous answer would otherwise wait for the image (up to 29 s).
    const replay = await api(post(LOW, { 'idempotency-key': 'order-8' }), lambdaContext());
    expect(replay.statusCode).toBe(202);
    expect(header(replay, 'location')).toBe(header(first, 'location'));
    expect(body(replay)['status']).not.toBe('succeeded');
    expect(header(replay, 'idempotent-replayed')).toBe('true');
    await dispatcher.settled();
    expect(openai.calls).toHaveLength(1);
  });

  it('returns the same resource to a retry of a POST that got 202, and never generates twice', async () => {
    openai.enqueue(slowImage(600));
    const { api, dispatcher } = makeStack();
    const key = { 'idempotency-key': 'order-7', prefer: 'respond-async' };
    const first = await api(post(LOW, key), lambdaContext());
    expect(first.statusCode).toBe(202);
    const retry = await api(post(LOW, key), lambdaContext());
    expect(retry.statusCode).toBe(202);
    expect(body(retry)['id']).toBe(body(first)['id']);
    expect(header(retry, 'idempotent-replayed')).toBe('true');
    await dispatcher.settled();
    const later = await api(post(LOW, { 'idempotency-key': 'order-7' }), lambdaContext());
    expect(later.statusCode).toBe(201);
    expect(body(later)['id']).toBe(body(first)['id']);
    expect(openai.calls).toHaveLength(1);
    expect(dispatcher.dispatched).toHaveLength(1);
  });
});

describe('QUOTAS=off with a state table', () => {
  it('keeps image resources and Idempotency-Key; only the daily limits and spend caps are off', async () => {
    const { api } = makeStack({ QUOTAS: 'off' });
    // Act
    const created = await api(post(LOW, { 'idempotency-key': 'no-quota-1' }), lambdaContext());
    const replay = await api(post(LOW, { 'idempotency-key': 'no-quota-1' }), lambdaContext());
    const read = await api(get(`/images/${body(created)['id'] as string}`), lambdaContext());
    // Assess
    expect(created.statusCode).toBe(201);
    expect(header(created, 'ratelimit-limit')).toBeUndefined();
    expect(replay.statusCode).toBe(201);
    expect(header(replay, 'idempotent-replayed')).toBe('true');
    expect(read.statusCode).toBe(200);
    expect(body(read)).toMatchObject({ id: body(created)['id'], status: 'succeeded' });
    expect(openai.calls).toHaveLength(1);
    expect(await usage()).toEqual({ images: undefined, spend: undefined });
  });
});

describe('webhooks', () => {
  it("signs an issued key's events with that key's own secret, never the deployment's: no other caller can sign one", async () => {
    const { api, dispatcher } = makeStack();
    const { key, prefix, hash } = newApiKey();
    const own = newWebhookSecret();
    await new DynamoDbKeyStore(dynamo.client, table).create({
      hash,
      prefix,
      name: 'partner',
      state: 'active',
      createdAt: Date.now(),
      webhookSecret: own,
    });
    await api(post({ ...LOW, webhook: receiver.url }, { prefer: 'respond-async', authorization: `Bearer ${key}` }), lambdaContext());
    await dispatcher.settled();
    const [delivery] = await receiver.waitFor(1);
    const headers = delivery?.headers ?? {};
    const signed = {
      'webhook-id': String(headers['webhook-id']),
      'webhook-timestamp': String(headers['webhook-timestamp']),
      'webhook-signature': String(headers['webhook-signature']),
    };
    expect(new Webhook(own).verify(delivery?.body ?? '', signed)).toMatchObject({ owner: `api-key:${prefix}`, type: 'image.succeeded' });
    expect(() => new Webhook(WEBHOOK_SECRET).verify(delivery?.body ?? '', signed)).toThrow();
  });

  it('POSTs the finished resource, signed the Standard Webhooks way (verified by the standardwebhooks library)', async () => {
    const { api, dispatcher } = makeStack();
    const created = body(await api(post({ ...LOW, webhook: receiver.url }, { prefer: 'respond-async' }), lambdaContext()));
    await dispatcher.settled();
    const [delivery] = await receiver.waitFor(1);
    const headers = delivery?.headers ?? {};
    const verified = new Webhook(WEBHOOK_SECRET).verify(delivery?.body ?? '', {
      'webhook-id': String(headers['webhook-id']),
      'webhook-timestamp': String(headers['webhook-timestamp']),
      'webhook-signature': String(headers['webhook-signature']),
    }) as Json;
    // The owner is inside what is signed: a receiver can tell its callers' events from one another caller sent it.
    expect(verified).toMatchObject({
      type: 'image.succeeded',
      owner: 'api-key:web-app',
      data: { id: created['id'], status: 'succeeded', sha256: sha256(PNG) },
    });
    expect(headers['webhook-id']).toBe(`${created['id'] as string}.succeeded`);
    // A wrong secret does not verify: the check above can fail.
    expect(() =>
      new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(delivery?.body ?? '', {
        'webhook-id': String(headers['webhook-id']),
        'webhook-timestamp': String(headers['webhook-timestamp']),
        'webhook-signature': String(headers['webhook-signature']),
      }),
    ).toThrow();
  });

  it('retries a failing receiver with backoff and delivers once it accepts', async () => {
    receiver.statuses.push(503);
    const { api, dispatcher } = makeStack();
    await api(post({ ...LOW, webhook: receiver.url }), lambdaContext());
    await dispatcher.settled();
    const deliveries = await receiver.waitFor(2);
    expect(deliveries).toHaveLength(2);
    expect(deliveries[0]?.headers['webhook-id']).toBe(deliveries[1]?.headers['webhook-id']);
  });

  it("gives up on a receiver that keeps failing within WEBHOOK_MAX_SECONDS, not the worker's whole budget", async () => {
    // Prepare: a receiver that answers 503 to every attempt; 2 s for all attempts of an event (the worker has 60).
    receiver.statuses.push(...Array.from({ length: 20 }, () => 503));
    const { api, dispatcher } = makeStack({ WEBHOOK_MAX_SECONDS: '2' });
    // Act
    const created = body(await api(post({ ...LOW, webhook: receiver.url }, { prefer: 'respond-async' }), lambdaContext()));
    await dispatcher.settled();
    // Assess: the first attempt and one retry after 1 s fit in 2 s; the next (after 2 s more) does not.
    expect(receiver.received).toHaveLength(2);
    const job = (await dynamo.items(table)).find((item) => item['pk'] === `image#${created['id'] as string}`);
    expect(job).toMatchObject({ status: 'succeeded', webhookState: 'failed' });
  });

  it.each([
    ['http (not https)', 'http://hooks.example.com/x'],
    ['loopback', 'https://127.0.0.1/hook'],
    ['loopback IPv6', 'https://[::1]/hook'],
    ['IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/hook'],
    ['a private network', 'https://10.1.2.3/hook'],
    ['another private network', 'https://192.168.1.10/hook'],
    ['the metadata service', 'https://169.254.169.254/latest/meta-data/'],
    ['the IPv6 metadata service', 'https://[fd00:ec2::254]/'],
    ['carrier-grade NAT', 'https://100.64.0.1/'],
    ['localhost by name', 'https://localhost/hook'],
    ['credentials in the URL', 'https://user:pass@hooks.example.com/x'],
    ['not a URL', 'hooks.example.com/x'],
  ])('refuses a webhook to %s with 400 before any money is spent', async (_, webhook) => {
    const { api, dispatcher } = makeStack({ WEBHOOK_ALLOW_LOOPBACK: 'false' });
    const response = await api(post({ ...LOW, webhook }), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(body(response)['error']).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('"webhook"') });
    expect(dispatcher.dispatched).toEqual([]);
    expect(await usage()).toEqual({ images: undefined, spend: undefined });
    expect(openai.calls).toHaveLength(0);
  });

  it('refuses a webhook when the deployment has no signing secret', async () => {
    const { api } = makeStack({ WEBHOOK_SECRET: '' });
    const response = await api(post({ ...LOW, webhook: 'https://hooks.example.com/x' }), lambdaContext());
    expect(response.statusCode).toBe(400);
    expect(body(response)['error']['message']).toContain('WEBHOOK_SECRET');
  });
});

describe('previews: partial images while it paints', () => {
  const PREVIEW_A = pngOf(48, 32, 'preview a');
  const PREVIEW_B = pngOf(48, 32, 'preview b');
  const WITH_PREVIEWS = { ...LOW, previews: 2 };
  const previewKeys = async (): Promise<string[]> => (await s3.keys()).filter((key) => key.startsWith('images/previews/'));

  it('shows each stored preview in GET while the job runs, in order, and keeps them with the final image', async () => {
    openai.enqueue(streamReply(PNG_B64, [PREVIEW_A.toString('base64'), PREVIEW_B.toString('base64')], { gapMs: 400 }));
    const { api, dispatcher } = makeStack();
    const id = body(await api(post(WITH_PREVIEWS, { prefer: 'respond-async' }), lambdaContext()))['id'] as string;
    // Act: poll while it runs.
    const seen: Json[] = [];
    await until(async () => {
      const resource = body(await api(get(`/images/${id}`), lambdaContext()));
      if (resource['status'] === 'running' && resource['previews']) seen.push(resource);
      return (resource['previews'] as unknown[] | undefined)?.length === 2 || resource['status'] === 'succeeded';
    });
    const final = body(await pollUntilFinal(api, id));
    await dispatcher.settled();
    // Assess: the provider was asked to stream two partial images.
    expect(openai.calls[0]?.body).toMatchObject({ stream: true, partial_images: 2, model: 'gpt-image-2' });
    const running = seen.at(-1) as Json;
    expect(running['status']).toBe('running');
    expect((running['previews'] as Json[]).map((preview) => preview['index'])).toEqual([0, 1]);
    expect(final['status']).toBe('succeeded');
    expect(final['previews']).toEqual(running['previews']);
    // Each preview URL is the public URL of stored, verified bytes: exactly what the provider streamed.
    const keys = await previewKeys();
    expect(keys).toEqual([
      expect.stringMatching(new RegExp(`^images/previews/\\d{4}/\\d{2}/\\d{2}/${id}-0\\.png$`)),
      expect.stringMatching(new RegExp(`^images/previews/\\d{4}/\\d{2}/\\d{2}/${id}-1\\.png$`)),
    ]);
    expect((await s3.get(keys[0] as string)).body.equals(PREVIEW_A)).toBe(true);
    expect((await s3.get(keys[1] as string)).body.equals(PREVIEW_B)).toBe(true);
    expect((final['previews'] as Json[])[1]?.['url']).toMatch(new RegExp(`/${keys[1]}$`));
    expect((await s3.get(final['key'] as string)).body.equals(PNG)).toBe(true);
    // Money: the estimate counted both partial images; the settlement is the completed event's usage alone, which
    // already carries their 100 output tokens each (no surcharge on top).
    expect(await usage()).toEqual({ images: 1, spend: SETTLED_COST + 2 * PREVIEW_COST });
  });

  it("streams previews from an Azure OpenAI deployment (v1 API), in Azure's event shape with its filter results", async () => {
    // Prepare: Azure's events carry content filter results beside OpenAI's fields.
    const filters = { hate: { filtered: false, severity: 'safe' }, violence: { filtered: false, severity: 'safe' } };
    openai.enqueue(
      streamReply(PNG_B64, [PREVIEW_A.toString('base64')], {
        extra: { content_filter_results: filters, prompt_filter_results: [{ prompt_index: 0, content_filter_results: filters }] },
      }),
    );
    const { api, dispatcher } = makeStack({
      IMAGE_MODELS: 'gpt-image-2,azure/images-prod',
      AZURE_OPENAI_ENDPOINT: new URL(openai.baseUrl).origin,
      AZURE_OPENAI_API_KEY: 'azure-test-key',
      AZURE_OPENAI_DEPLOYMENTS: 'images-prod=gpt-image-2',
    });
    // Act
    const response = await api(post({ ...LOW, model: 'azure/images-prod', previews: 1 }), lambdaContext());
    const final = body(response)['status'] === 'succeeded' ? body(response) : body(await pollUntilFinal(api, body(response)['id']));
    await dispatcher.settled();
    // Assess
    expect(openai.calls[0]?.path).toBe('/openai/v1/images/generations');
    expect(openai.calls[0]?.body).toMatchObject({ model: 'images-prod', stream: true, partial_images: 1 });
    expect(final).toMatchObject({ status: 'succeeded', model: 'azure/images-prod' });
    expect((final['previews'] as Json[]).map((preview) => preview['index'])).toEqual([0]);
    expect((await s3.get((await previewKeys())[0] as string)).body.equals(PREVIEW_A)).toBe(true);
    expect(await usage()).toEqual({ images: 1, spend: SETTLED_COST + PREVIEW_COST });
  });

  it('reserves the partial images asked for in the estimate', async () => {
    const { api, dispatcher } = makeStack();
    dispatcher.deliver = false;
    await api(post({ ...LOW, previews: 3 }, { prefer: 'respond-async' }), lambdaContext());
    expect(await usage()).toEqual({ images: 1, spend: estimatedCost(LOW.prompt, 'low', '1024x1024', 'gpt-image-2', 3) });
    expect(estimatedCost(LOW.prompt, 'low', '1024x1024', 'gpt-image-2', 3)).toBe(COST + 3 * PREVIEW_COST);
  });

  it('skips a partial image that is not a valid image, and the job still succeeds on its final image', async () => {
    const truncated = PREVIEW_A.subarray(0, PREVIEW_A.length - 20).toString('base64');
    openai.enqueue(streamReply(PNG_B64, [truncated, PREVIEW_B.toString('base64')]));
    const { api } = makeStack();
    const image = body(await api(post(WITH_PREVIEWS), lambdaContext()));
    expect(image['status']).toBe('succeeded');
    expect((image['previews'] as Json[]).map((preview) => preview['index'])).toEqual([1]);
    expect(await previewKeys()).toHaveLength(1);
  });

  it('fails a job whose final image fails verification, whatever its previews were, and keeps its spend', async () => {
    const broken = PNG.subarray(0, PNG.length - 20).toString('base64');
    openai.enqueue(streamReply(broken, [PREVIEW_A.toString('base64')]));
    const { api } = makeStack();
    const response = await api(post({ ...LOW, previews: 1 }), lambdaContext());
    expect(response.statusCode).toBe(502);
    expect(body(response)['error']['code']).toBe('bad_provider_response');
    expect((await s3.keys()).filter((key) => !key.startsWith('images/previews/'))).toEqual([]);
    expect(await usage()).toEqual({ images: 1, spend: estimatedCost(LOW.prompt, 'low', '1024x1024', 'gpt-image-2', 1) });
  });

  it('treats a stream cut off midway as sent with an unknown outcome: failed, not retried, its estimate kept', async () => {
    openai.enqueue(streamReply(PNG_B64, [PREVIEW_A.toString('base64'), PREVIEW_B.toString('base64')], { cutAfter: 1 }));
    const { api } = makeStack();
    const response = await api(post(WITH_PREVIEWS), lambdaContext());
    expect(response.statusCode).toBe(502);
    expect(body(response)['error']['code']).toBe('bad_provider_response');
    expect(openai.calls).toHaveLength(1);
    expect(await usage()).toEqual({ images: 1, spend: estimatedCost(LOW.prompt, 'low', '1024x1024', 'gpt-image-2', 2) });
    // The preview that did arrive stays visible on the failed image (it expires with the lifecycle rule).
    const listed = body(await api(get('/images'), lambdaContext()))['data'][0] as Json;
    const failed = body(await api(get(`/images/${listed['id'] as string}`), lambdaContext()));
    expect(failed['status']).toBe('failed');
    expect((failed['previews'] as Json[]).map((preview) => preview['index'])).toEqual([0]);
  });

  it('bounds the whole event stream: (3 previews + the image) x the image limit, then it is a bad answer', async () => {
    // MAX_IMAGE_BYTES 1024: each image's base64 may be about 1.4 KB (+64 KiB of JSON), the stream four times that.
    const big = randomBytes(90 * 1024).toString('base64');
    openai.enqueue(streamReply(PNG_B64, [big, big, big]));
    const { api } = makeStack({ MAX_IMAGE_BYTES: '1024' });
    const response = await api(post({ ...LOW, previews: 3 }), lambdaContext());
    expect(response.statusCode).toBe(502);
    expect(body(response)['error']['code']).toBe('bad_provider_response');
    expect(await s3.keys()).toEqual([]);
  });

  it('answers a refusal sent inside the stream as 422, final', async () => {
    openai.enqueue({ kind: 'stream', events: [{ type: 'error', code: 'moderation_blocked' }] });
    const { api } = makeStack();
    const response = await api(post(WITH_PREVIEWS), lambdaContext());
    expect(response.statusCode).toBe(422);
    expect(body(response)['error']['code']).toBe('content_policy_violation');
    expect(openai.calls).toHaveLength(1);
  });

  it('removes the previews with the image on DELETE, and from the CDN', async () => {
    openai.enqueue(streamReply(PNG_B64, [PREVIEW_A.toString('base64'), PREVIEW_B.toString('base64')]));
    const { api, invalidated } = makeStack();
    const image = body(await api(post(WITH_PREVIEWS), lambdaContext()));
    expect(await previewKeys()).toHaveLength(2);
    const keys = await previewKeys();
    expect((await api(del(`/images/${image['id'] as string}`), lambdaContext())).statusCode).toBe(204);
    expect(await s3.keys()).toEqual([]);
    expect(invalidated).toEqual([[image['key'], ...keys]]);
  });

  it('has the worker remove the previews of a job deleted while it ran', async () => {
    openai.enqueue(streamReply(PNG_B64, [PREVIEW_A.toString('base64'), PREVIEW_B.toString('base64')], { gapMs: 500 }));
    const { api, dispatcher } = makeStack();
    const id = body(await api(post(WITH_PREVIEWS, { prefer: 'respond-async' }), lambdaContext()))['id'] as string;
    await until(async () => (await previewKeys()).length === 1);
    expect((await api(del(`/images/${id}`), lambdaContext())).statusCode).toBe(204);
    await dispatcher.settled();
    expect(await s3.keys()).toEqual([]);
    expect((await dynamo.items(table)).filter((item) => String(item['pk']).startsWith('image#'))).toEqual([]);
  });

  it('refuses previews for a model that does not stream them, and outside 0-3, before anything is spent', async () => {
    const { api } = makeStack({ IMAGE_MODELS: 'gpt-image-2,google/gemini-3.1-flash-image', GEMINI_API_KEY: 'g-key' });
    const cases: [unknown, string][] = [
      [{ ...LOW, previews: 4 }, '"previews" must be an integer from 0 to 3.'],
      [{ ...LOW, previews: 1.5 }, '"previews" must be an integer from 0 to 3.'],
      [{ ...LOW, previews: '2' }, '"previews" must be an integer from 0 to 3.'],
      [
        { prompt: LOW.prompt, model: 'google/gemini-3.1-flash-image', previews: 1 },
        '"previews" is not supported by model google/gemini-3.1-flash-image: it does not stream partial images.',
      ],
    ];
    for (const [request, message] of cases) {
      const response = await api(post(request), lambdaContext());
      expect(response.statusCode).toBe(400);
      expect(body(response)['error']).toMatchObject({ code: 'invalid_request', message });
    }
    expect(openai.calls).toHaveLength(0);
    expect(await usage()).toEqual({ images: undefined, spend: undefined });
  });
});

describe("GET /usage: the caller's own day", () => {
  const usd = (micro: number): number => Math.round(micro) / 1_000_000;
  const usageOf = async (api: Handler, key = TEST_API_KEY): Promise<Json> => {
    const response = await api(get('/usage', key), lambdaContext());
    expect(response.statusCode).toBe(200);
    return body(response);
  };

  it('moves an estimate from reserved to settled when the image is stored, at what the provider reported', async () => {
    const { api, dispatcher } = makeStack();
    dispatcher.deliver = false;
    expect(await usageOf(api)).toMatchObject({
      images: { used: 0, limit: 50, remaining: 50 },
      spendUsd: { settled: 0, reserved: 0, limit: 5 },
    });
    // Act: queued, not yet run.
    const accepted = await api(post(LOW, { prefer: 'respond-async' }), lambdaContext());
    const queued = await usageOf(api);
    await dispatcher.run(body(accepted)['id'] as string);
    const done = await usageOf(api);
    // Assess
    expect(queued).toMatchObject({ images: { used: 1, remaining: 49 }, spendUsd: { settled: 0, reserved: usd(COST) } });
    expect(done).toMatchObject({
      images: { used: 1 },
      spendUsd: { settled: usd(SETTLED_COST), reserved: 0, remaining: usd(5_000_000 - SETTLED_COST) },
    });
    expect(done['resetsAt']).toMatch(/T00:00:00\.000Z$/);
    expect(done['serviceCapReached']).toBe(false);
  });

  it("keeps a possibly billed failure's estimate as settled spend, and gives an unbilled one back", async () => {
    openai.enqueue(
      errorReply(500, { message: 'boom', type: 'server_error' }),
      errorReply(429, { message: 'slow down' }, { 'retry-after': '1' }),
    );
    const { api } = makeStack({ PROVIDER_MAX_RETRIES: '0' });
    await api(post(LOW), lambdaContext());
    const afterBilled = await usageOf(api);
    await api(post(LOW), lambdaContext());
    const afterBusy = await usageOf(api);
    expect(afterBilled).toMatchObject({ images: { used: 1 }, spendUsd: { settled: usd(COST), reserved: 0 } });
    expect(afterBusy).toEqual(afterBilled);
  });

  it('shows each caller only its own counters, and whether the service-wide cap refuses new work', async () => {
    // The cap is below one image's settled cost: after one image, nobody may start another today.
    const { api } = makeStack({ GLOBAL_DAILY_SPEND_LIMIT_USD: '0.005' });
    expect((await api(post(LOW), lambdaContext())).statusCode).toBe(201);
    const own = await usageOf(api);
    const other = await usageOf(api, OTHER_API_KEY);
    expect(own).toMatchObject({ images: { used: 1 }, serviceCapReached: true });
    expect(other).toMatchObject({ images: { used: 0 }, spendUsd: { settled: 0, reserved: 0 }, serviceCapReached: true });
    expect(JSON.stringify(other)).not.toContain(String(usd(SETTLED_COST)));
  });

  it('answers 404 where the deployment counts no usage', async () => {
    const { api } = makeStack({ QUOTAS: 'off' });
    const response = await api(get('/usage'), lambdaContext());
    expect(response.statusCode).toBe(404);
    expect(body(response)['error']).toMatchObject({ code: 'not_found', message: expect.stringContaining('QUOTAS=off') });
  });
});

describe("/v1: OpenAI's image API on the same use case", () => {
  const v1 = (body: unknown, headers: Record<string, string> = {}): APIGatewayProxyEventV2 =>
    httpEvent({ path: '/v1/images/generations', body: JSON.stringify(body), headers: { ...auth(), ...headers } });
  const openAIError = (response: APIGatewayProxyStructuredResultV2) => body(response)['error'] as Json;

  it("answers as OpenAI's image guide reads it: b64_json by default, the permanent URL beside it, the image made", async () => {
    const { api } = makeStack();
    // Act: the guide's call (no response_format), the URL alone, and b64_json asked for by name.
    const byDefault = await api(v1({ model: 'gpt-image-2', prompt: 'a red fox', quality: 'low', size: '1024x1024' }), lambdaContext());
    const asUrl = await api(v1({ prompt: 'a red fox', response_format: 'url' }), lambdaContext());
    const asBytes = await api(v1({ prompt: 'a red fox', response_format: 'b64_json', background: 'opaque' }), lambdaContext());
    // Assess
    expect([byDefault.statusCode, asUrl.statusCode, asBytes.statusCode]).toEqual([200, 200, 200]);
    const first = (body(byDefault)['data'] as Json[])[0] as Json;
    expect(first['url']).toMatch(/^https:\/\/cdn\.example\.test\/images\//);
    const stored = await s3.get(new URL(first['url'] as string).pathname.slice(1));
    expect(sha256(Buffer.from(first['b64_json'] as string, 'base64'))).toBe(sha256(stored.body));
    expect(sha256(stored.body)).toBe(sha256(PNG));
    // The image made, not the request echoed: its real size, the quality and background the provider reported.
    expect(body(byDefault)).toMatchObject({ quality: 'low', size: '48x32', background: 'opaque', output_format: 'png' });
    expect(body(asUrl)['quality']).toBe('medium'); // `auto`, as the provider says it resolved it
    expect((body(asUrl)['data'] as Json[])[0]).not.toHaveProperty('b64_json');
    expect((body(asBytes)['data'] as Json[])[0]).toMatchObject({ b64_json: expect.any(String), url: expect.any(String) });
    expect(header(byDefault, 'x-request-id')).toBeTruthy();
    // The provider was asked for the background by name, and for nothing it was not asked.
    expect(openai.calls.map((call) => call.body['background'])).toEqual([undefined, undefined, 'opaque']);
    expect(openai.calls).toHaveLength(3);
  });

  it("passes background, compression and moderation level to OpenAI through the job (the worker's run reads them back)", async () => {
    const { api } = makeStack();
    const extra = { background: 'opaque', format: 'webp', compression: 40, moderation: 'low' };
    const response = await api(post({ ...LOW, ...extra }), lambdaContext());
    expect(response.statusCode).toBe(201);
    expect(openai.calls).toHaveLength(1);
    expect(openai.calls[0]?.body).toMatchObject({ background: 'opaque', output_format: 'webp', output_compression: 40, moderation: 'low' });
    // The resource reports what the provider says it made.
    expect(body(response)).toMatchObject({ quality: 'low', background: 'opaque' });
  });

  it('answers 200 with the URL alone, not an error the SDK would retry (and pay again), when the bytes cannot be read back', async () => {
    const proxy = await S3FaultProxy.start(s3.endpoint);
    try {
      // Every read of the stored image fails (S3 answers 503); its writes go through.
      proxy.fault = { kind: 'error', status: 503, code: 'SlowDown' };
      proxy.matches = (method, path) => method === 'GET' && path.includes('/images/');
      const { api } = makeStack({ S3_ENDPOINT: proxy.endpoint });
      const response = await api(v1({ prompt: 'a red fox', quality: 'low' }), lambdaContext());
      expect(response.statusCode).toBe(200);
      expect(header(response, 'x-b64-json-omitted')).toBe('unreadable');
      const first = (body(response)['data'] as Json[])[0] as Json;
      expect(first).not.toHaveProperty('b64_json');
      const stored = await s3.get(new URL(first['url'] as string).pathname.slice(1));
      expect(sha256(stored.body)).toBe(sha256(PNG));
      expect(proxy.faultsInjected).toBeGreaterThan(0);
      expect(openai.calls).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it('serves only /v1 through the function URL: POST /images, /usage and the page are 404, /v1 generates', async () => {
    const { v1Api } = makeStack();
    const { output, result } = await captureOutput(async () => ({
      images: await v1Api(post(LOW), lambdaContext()),
      page: await v1Api(httpEvent({ method: 'GET', path: '/' }), lambdaContext()),
      usage: await v1Api(get('/usage'), lambdaContext()),
      uploads: await v1Api(httpEvent({ path: '/uploads', body: '{"contentType":"image/png"}', headers: auth() }), lambdaContext()),
      models: await v1Api(httpEvent({ method: 'GET', path: '/v1/models', headers: auth() }), lambdaContext()),
      wrongMethod: await v1Api(httpEvent({ method: 'GET', path: '/v1/images/generations', headers: auth() }), lambdaContext()),
      generated: await v1Api(v1({ prompt: 'a red fox', quality: 'low' }), lambdaContext()),
    }));
    for (const response of [result.images, result.page, result.usage, result.uploads]) expect(response.statusCode).toBe(404);
    expect(result.wrongMethod.statusCode).toBe(405);
    expect(header(result.wrongMethod, 'allow')).toBe('POST');
    expect(result.models.statusCode).toBe(200);
    expect(result.generated.statusCode).toBe(200);
    expect(openai.calls.filter((call) => call.path.endsWith('/images/generations'))).toHaveLength(1);
    // One access-log line per request, as the HTTP API writes for its own (never a header or a body).
    const lines = output
      .split('\n')
      .filter((line) => line.includes('"message":"access"'))
      .map((line) => JSON.parse(line) as Json);
    expect(lines.map((line) => [line['routeKey'], line['status']])).toEqual([
      ['POST /images', 404],
      ['GET /', 404],
      ['GET /usage', 404],
      ['POST /uploads', 404],
      ['GET /v1/models', 200],
      ['GET /v1/images/generations', 405],
      ['POST /v1/images/generations', 200],
    ]);
    expect(output).not.toContain(TEST_API_KEY);
  });

  it("refuses in OpenAI's shape, naming the parameter, before anything is spent", async () => {
    const { api } = makeStack();
    const cases: [unknown, string][] = [
      [{ prompt: 'a fox', size: '100x100' }, 'size'],
      [{ prompt: 'a fox', output_format: 'gif' }, 'output_format'],
      [{ prompt: 'a fox', n: 11 }, 'n'],
      [{ prompt: 'a fox', n: 0 }, 'n'],
      [{ prompt: 'a fox', n: 1.5 }, 'n'],
      [{ prompt: 'a fox', partial_images: 2 }, 'partial_images'],
      [{ prompt: 'a fox', style: 'vivid' }, 'style'],
      [{ prompt: 'a fox', stream: 'yes' }, 'stream'],
      [{ prompt: 'a fox', response_format: 'jpeg' }, 'response_format'],
      [{ prompt: 'a fox', colour: 'red' }, 'colour'],
      [{ model: 'gpt-image-2' }, 'prompt'],
    ];
    for (const [request, param] of cases) {
      const response = await api(v1(request), lambdaContext());
      expect([response.statusCode, openAIError(response)['param'], openAIError(response)['type']]).toEqual([
        400,
        param,
        'invalid_request_error',
      ]);
    }
    const unauthenticated = await api(v1({ prompt: 'a fox' }, { authorization: 'Bearer nope' }), lambdaContext());
    expect(unauthenticated.statusCode).toBe(401);
    expect(openAIError(unauthenticated)).toMatchObject({ code: 'invalid_api_key', param: null });
    expect(openai.calls).toHaveLength(0);
    expect(await usage()).toEqual({ images: undefined, spend: undefined });
  });

  it('marks a failure the provider may have billed x-should-retry: false, and keeps its reservation', async () => {
    openai.enqueue(errorReply(500, { message: 'boom', type: 'server_error' }));
    const { api } = makeStack({ PROVIDER_MAX_RETRIES: '0' });
    const response = await api(v1({ prompt: 'a broken lamp', quality: 'low' }), lambdaContext());
    expect(response.statusCode).toBeGreaterThanOrEqual(500);
    expect(header(response, 'x-should-retry')).toBe('false');
    expect(openAIError(response)['type']).toBe('server_error');
    expect((await usage()).images).toBe(1);
  });

  it('lets a busy provider be retried (it billed nothing), and gives the reservation back', async () => {
    openai.enqueue(errorReply(429, { message: 'slow down', type: 'rate_limit_error' }, { 'retry-after': '2' }));
    const { api } = makeStack({ PROVIDER_MAX_RETRIES: '0' });
    const response = await api(v1({ prompt: 'a busy day', quality: 'low' }), lambdaContext());
    expect(response.statusCode).toBe(503);
    expect(header(response, 'x-should-retry')).toBeUndefined();
    expect((await usage()).images).toBe(0);
  });

  it('takes an Idempotency-Key: a retry with it gets the same image, generated once', async () => {
    const { api } = makeStack();
    const first = await api(v1({ prompt: 'a kite', quality: 'low' }, { 'idempotency-key': 'sdk-1' }), lambdaContext());
    const again = await api(v1({ prompt: 'a kite', quality: 'low' }, { 'idempotency-key': 'sdk-1' }), lambdaContext());
    expect(first.statusCode).toBe(200);
    expect(body(again)['data']).toEqual(body(first)['data']);
    expect(header(again, 'idempotent-replayed')).toBe('true');
    expect(openai.calls).toHaveLength(1);
  });

  it('makes n images as n resources, each with its own permanent URL and bytes, reserved and settled one by one', async () => {
    const { api } = makeStack();
    const response = await api(v1({ prompt: 'three foxes', quality: 'low', n: 3 }), lambdaContext());
    expect(response.statusCode).toBe(200);
    const data = body(response)['data'] as Json[];
    expect(data).toHaveLength(3);
    expect(new Set(data.map((item) => item['url'])).size).toBe(3);
    for (const item of data) {
      const stored = await s3.get(new URL(item['url'] as string).pathname.slice(1));
      expect(sha256(Buffer.from(item['b64_json'] as string, 'base64'))).toBe(sha256(stored.body));
    }
    // One provider call per image, and each image is a resource of its own in the caller's list.
    expect(openai.calls.filter((call) => call.path.endsWith('/images/generations'))).toHaveLength(3);
    expect(openai.calls.map((call) => call.body['n'] ?? 1)).toEqual([1, 1, 1]);
    expect((body(await api(get('/images'), lambdaContext()))['data'] as Json[]).map((item) => item['url']).sort()).toEqual(
      data.map((item) => item['url']).sort(),
    );
    expect(await usage()).toEqual({ images: 3, spend: 3 * SETTLED_COST });
    expect(header(response, 'x-images-missing')).toBeUndefined();
  });

  it('reserves all n images before anything is sent: with fewer left today, a 429 and no provider call', async () => {
    const { api } = makeStack({ DAILY_IMAGE_LIMIT: '3' });
    expect((await api(v1({ prompt: 'one fox', quality: 'low' }), lambdaContext())).statusCode).toBe(200);
    const tooMany = await api(v1({ prompt: 'three foxes', quality: 'low', n: 3 }), lambdaContext());
    expect(tooMany.statusCode).toBe(429);
    expect(openAIError(tooMany)).toMatchObject({ type: 'insufficient_quota', code: 'quota_exceeded' });
    expect(openAIError(tooMany)['message']).toContain('3 images asked for, 2 left today');
    expect(header(tooMany, 'x-should-retry')).toBe('false');
    expect(openai.calls).toHaveLength(1);
    expect((await usage()).images).toBe(1);
    // The two left are still there to use, together.
    expect((await api(v1({ prompt: 'two foxes', quality: 'low', n: 2 }), lambdaContext())).statusCode).toBe(200);
    expect((await usage()).images).toBe(3);
  });

  it('answers the images made when some of n fail: the rest named in `missing`, an unbilled failure given back', async () => {
    // The second call is refused by the provider (a 400 bills nothing): its image is given back to the quota.
    openai.enqueue(imageReply(PNG_B64), errorReply(400, { message: 'no', type: 'invalid_request_error', code: 'invalid_value' }));
    const { api } = makeStack({ PROVIDER_MAX_RETRIES: '0' });
    const response = await api(v1({ prompt: 'two owls', quality: 'low', n: 2 }), lambdaContext());
    expect(response.statusCode).toBe(200);
    expect(body(response)['data']).toHaveLength(1);
    expect(header(response, 'x-images-missing')).toBe('1');
    expect(body(response)['missing']).toEqual([{ status: 'failed', code: expect.any(String), message: expect.any(String) }]);
    expect(openai.calls).toHaveLength(2);
    expect(await usage()).toEqual({ images: 1, spend: SETTLED_COST });
  });

  it('replays n images under one Idempotency-Key: the same images, generated once', async () => {
    const { api } = makeStack();
    const ask = () => v1({ prompt: 'two kites', quality: 'low', n: 2 }, { 'idempotency-key': 'sdk-n' });
    const first = await api(ask(), lambdaContext());
    const again = await api(ask(), lambdaContext());
    expect([first.statusCode, again.statusCode]).toEqual([200, 200]);
    expect(body(again)['data']).toEqual(body(first)['data']);
    expect(openai.calls).toHaveLength(2);
    // The same key with another n is other work.
    const other = await api(v1({ prompt: 'two kites', quality: 'low', n: 3 }, { 'idempotency-key': 'sdk-n' }), lambdaContext());
    expect(other.statusCode).toBe(422);
  });

  describe('stream: true', () => {
    const PARTIAL_A = pngOf(48, 32, 'partial a');
    const PARTIAL_B = pngOf(48, 32, 'partial b');
    const STREAMED = { prompt: 'a lighthouse at dawn', quality: 'low', stream: true, partial_images: 2 };
    /** The server-sent events of a body: each `event:` name and its `data:` JSON. */
    const eventsOf = (text: string): { event: string | undefined; data: Json }[] =>
      sseEvents(text).map(({ event, data }) => ({ event, data: data ?? {} }));

    it("streams each partial image and then the image as OpenAI's events, as they are made, each with its stored URL", async () => {
      openai.enqueue(streamReply(PNG_B64, [PARTIAL_A.toString('base64'), PARTIAL_B.toString('base64')], { gapMs: 400 }));
      const { v1Streamed } = makeStack();
      const answer = await invokeStreamed(v1Streamed, v1(STREAMED), lambdaContext(60_000));
      expect([answer.statusCode, answer.statusCode === 200 ? '' : answer.body]).toEqual([200, '']);
      expect(answer.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      const events = eventsOf(answer.body);
      expect(events.map(({ event, data }) => [event, data['type'], data['partial_image_index']])).toEqual([
        ['image_generation.partial_image', 'image_generation.partial_image', 0],
        ['image_generation.partial_image', 'image_generation.partial_image', 1],
        ['image_generation.completed', 'image_generation.completed', undefined],
      ]);
      // Each event's bytes are what its URL serves: the partial images and the image, as stored.
      const expected = [PARTIAL_A, PARTIAL_B, PNG];
      for (const [index, { data }] of events.entries()) {
        const stored = await s3.get(new URL(data['url'] as string).pathname.slice(1));
        expect(sha256(Buffer.from(data['b64_json'] as string, 'base64'))).toBe(sha256(expected[index] as Buffer));
        expect(sha256(stored.body)).toBe(sha256(expected[index] as Buffer));
      }
      expect(events[2]?.data).toMatchObject({ size: '48x32', quality: 'low', output_format: 'png', usage: { input_tokens: 50 } });
      // Streamed, not buffered: the first partial image was written well before the image (the provider sent them
      // 800 ms apart).
      const [first] = answer.chunks;
      const last = answer.chunks.at(-1);
      expect(answer.chunks.length).toBeGreaterThanOrEqual(3);
      expect((last?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThan(300);
      expect(openai.calls).toHaveLength(1);
      expect(openai.calls[0]?.body).toMatchObject({ stream: true, partial_images: 2 });
      expect(await usage()).toEqual({ images: 1, spend: SETTLED_COST + 2 * PREVIEW_COST });
    });

    it('answers the same events in one body where the answer is buffered (API Gateway, invoke local)', async () => {
      openai.enqueue(streamReply(PNG_B64, [PARTIAL_A.toString('base64')]));
      const { api } = makeStack();
      const answer = await api(v1({ ...STREAMED, partial_images: 1 }), lambdaContext());
      expect(answer.statusCode).toBe(200);
      expect(header(answer, 'content-type')).toBe('text/event-stream; charset=utf-8');
      expect(eventsOf(answer.body ?? '').map(({ event }) => event)).toEqual([
        'image_generation.partial_image',
        'image_generation.completed',
      ]);
    });

    it("ends the stream with OpenAI's error event when the image fails after it began, and bills it once", async () => {
      // The provider's stream breaks after its first partial image: it may have billed.
      openai.enqueue(streamReply(PNG_B64, [PARTIAL_A.toString('base64'), PARTIAL_B.toString('base64')], { cutAfter: 1 }));
      const { v1Streamed } = makeStack();
      const answer = await invokeStreamed(v1Streamed, v1(STREAMED), lambdaContext(60_000));
      expect(answer.statusCode).toBe(200);
      const events = eventsOf(answer.body);
      expect(events.at(-1)).toMatchObject({ event: 'error', data: { type: 'error', error: { type: 'server_error' } } });
      expect(events.filter(({ event }) => event === 'image_generation.completed')).toEqual([]);
      expect(openai.calls).toHaveLength(1);
      // Kept at its estimate: the provider may have billed.
      expect((await usage()).images).toBe(1);
    });

    it('refuses before the stream begins, with the usual status, when nothing may be spent', async () => {
      const { v1Streamed } = makeStack({ DAILY_IMAGE_LIMIT: '0' });
      const answer = await invokeStreamed(v1Streamed, v1(STREAMED), lambdaContext(60_000));
      expect(answer.statusCode).toBe(429);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { type: 'insufficient_quota' } });
      const refused = await invokeStreamed(v1Streamed, v1({ ...STREAMED, n: 2 }), lambdaContext(60_000));
      expect([refused.statusCode, JSON.parse(refused.body).error.param]).toEqual([400, 'n']);
      expect(openai.calls).toHaveLength(0);
    });
  });

  describe('POST /v1/images/edits (multipart, as the SDKs send it)', () => {
    const SOURCE_A = pngOf(64, 64, 'edit source a');
    const SOURCE_B = pngOf(64, 64, 'edit source b');
    const MASK = maskPng(64, 64);
    const file = (bytes: Buffer, name: string): File => new File([new Uint8Array(bytes)], name, { type: 'image/png' });
    /** The form as a function URL passes it: base64, with its boundary in Content-Type. */
    const edit = async (fields: Record<string, string>, files: [string, File][], key = TEST_API_KEY): Promise<APIGatewayProxyEventV2> => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      for (const [name, value] of files) form.append(name, value);
      const request = new Request('http://localhost/', { method: 'POST', body: form });
      const bytes = Buffer.from(await request.arrayBuffer());
      return {
        ...httpEvent({
          path: '/v1/images/edits',
          headers: { ...auth(key), 'content-type': request.headers.get('content-type') ?? '' },
          body: bytes.toString('base64'),
        }),
        isBase64Encoded: true,
      };
    };
    const uploadKeys = async (): Promise<string[]> => (await s3.keys()).filter((key) => key.startsWith('uploads/'));
    const sentFiles = (value: unknown): { bytes: Buffer }[] => (Array.isArray(value) ? value : [value]) as { bytes: Buffer }[];

    it("edits two images with a mask: the files stored as the caller's uploads, sent to images.edit in order, the image stored", async () => {
      const { api } = makeStack();
      const response = await api(
        await edit({ prompt: 'add a red kite', model: 'gpt-image-2', quality: 'low' }, [
          ['image[]', file(SOURCE_A, 'a.png')],
          ['image[]', file(SOURCE_B, 'b.png')],
          ['mask', file(MASK, 'mask.png')],
        ]),
        lambdaContext(),
      );
      expect(response.statusCode).toBe(200);
      const first = (body(response)['data'] as Json[])[0] as Json;
      const stored = await s3.get(new URL(first['url'] as string).pathname.slice(1));
      expect(sha256(Buffer.from(first['b64_json'] as string, 'base64'))).toBe(sha256(stored.body));
      // The provider got the files as sent, in order, and the mask.
      const call = openai.calls.find((each) => each.path.endsWith('/images/edits'));
      expect(sentFiles(call?.body['image[]'] ?? call?.body['image']).map((each) => sha256(each.bytes))).toEqual([
        sha256(SOURCE_A),
        sha256(SOURCE_B),
      ]);
      expect(sentFiles(call?.body['mask'])[0]?.bytes.equals(MASK)).toBe(true);
      // Kept as the caller's uploads (expired by the bucket after a day), and priced with its inputs.
      expect(await uploadKeys()).toHaveLength(3);
      expect((await usage()).images).toBe(1);
    });

    it('streams an edit as image_edit.* events', async () => {
      openai.enqueue(streamReply(PNG_B64, [pngOf(48, 32, 'edit partial').toString('base64')]));
      const { api } = makeStack();
      const response = await api(
        await edit({ prompt: 'add a red kite', stream: 'true', partial_images: '1' }, [['image', file(SOURCE_A, 'a.png')]]),
        lambdaContext(),
      );
      expect(response.statusCode).toBe(200);
      expect(sseEvents(response.body ?? '').map(({ event }) => event)).toEqual(['image_edit.partial_image', 'image_edit.completed']);
    });

    it("refuses what the provider would refuse, in OpenAI's shape, before anything is spent", async () => {
      const { api: refusing } = makeStack();
      const cases: [Record<string, string>, [string, File][], number, string | null][] = [
        [{ prompt: 'no image' }, [], 400, 'image'],
        [
          { prompt: 'not an image' },
          [
            ['image[]', file(SOURCE_A, 'a.png')],
            ['image[]', new File(['plain text'], 'b.txt')],
          ],
          400,
          'image[1]',
        ],
        [{ prompt: 'text where a file goes', image: 'a.png' }, [], 400, 'image'],
        [
          { prompt: 'a mask of another size' },
          [
            ['image', file(SOURCE_A, 'a.png')],
            ['mask', file(maskPng(32, 32), 'm.png')],
          ],
          400,
          'mask',
        ],
        [
          { prompt: 'five images' },
          Array.from({ length: 5 }, (_, index): [string, File] => ['image[]', file(SOURCE_A, `${index}.png`)]),
          400,
          'images',
        ],
        [{ prompt: 'n as a word', n: 'two' }, [['image', file(SOURCE_A, 'a.png')]], 400, 'n'],
      ];
      for (const [fields, files, status, param] of cases) {
        const response = await refusing(await edit(fields, files), lambdaContext());
        expect([fields['prompt'], response.statusCode, openAIError(response)['param']]).toEqual([fields['prompt'], status, param]);
      }
      // Past what a request may carry: 413 in OpenAI's shape, before the form is read.
      const big = await edit({ prompt: 'too big' }, [['image', file(noisePng(1200, 1200), 'big.png')]]);
      const tooBig = await refusing(big, lambdaContext());
      expect([tooBig.statusCode, openAIError(tooBig)['code']]).toEqual([413, 'payload_too_large']);
      // JSON is not how the SDKs send an edit.
      const json = await refusing(httpEvent({ path: '/v1/images/edits', headers: auth(), body: '{"prompt":"x"}' }), lambdaContext());
      expect(json.statusCode).toBe(415);
      expect(openai.calls).toHaveLength(0);
      expect(await usage()).toEqual({ images: undefined, spend: undefined });
    });
  });

  it("lists the allowed models, and answers unknown /v1 routes in OpenAI's shape", async () => {
    const { api } = makeStack();
    const models = await api(get('/v1/models'), lambdaContext());
    expect(body(models)).toEqual({ object: 'list', data: [{ id: 'gpt-image-2', object: 'model', created: 0, owned_by: 'openai' }] });
    const speech = await api(httpEvent({ path: '/v1/audio/speech', body: '{}', headers: auth() }), lambdaContext());
    expect(speech.statusCode).toBe(404);
    expect(openAIError(speech)).toMatchObject({ type: 'invalid_request_error', code: 'not_found' });
    const wrongMethod = await api(get('/v1/images/generations'), lambdaContext());
    expect(wrongMethod.statusCode).toBe(405);
  });
});

describe('routing', () => {
  it.each([
    ['PUT', '/images', 405, 'GET, POST'],
    ['PATCH', `/images/${'A'.repeat(22)}`, 405, 'DELETE, GET'],
    ['GET', '/nothing-here', 404, undefined],
    ['POST', '/images/extra/segments', 404, undefined],
  ])('%s %s -> %i JSON', async (method, path, status, allow) => {
    const { api } = makeStack();
    const response = await api(httpEvent({ method, path, headers: auth() }), lambdaContext());
    expect(response.statusCode).toBe(status);
    expect(header(response, 'content-type')).toMatch(/^application\/json/);
    expect(body(response)['error']).toMatchObject({ code: status === 405 ? 'method_not_allowed' : 'not_found' });
    expect(header(response, 'allow')).toBe(allow);
  });
});
