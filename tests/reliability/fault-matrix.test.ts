import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createDependencies } from '../../lib/composition-root.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { withContract } from '../support/contract.js';
import { startCapture, type Capture } from '../support/capture-logs.js';
import { TEST_API_KEY, baseEnv } from '../support/env.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamo.js';
import { noisePng, pngOf } from '../support/fixtures.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';
import { OpenAITestServer, errorReply, imageReply, type Reply } from '../support/openai-test-server.js';
import { S3FaultProxy, type S3Fault } from '../support/s3-fault-proxy.js';
import { estimatedCost } from '../support/pricing.js';
import { startLocalS3, type LocalS3 } from '../support/s3-server.js';
import { closedEndpoint } from '../support/aws-stand-in.js';

/**
 * Every fault the outside world can throw at a request, through the real handler, with quotas on. For each cell:
 * the documented status and code, no object and no record left, no URL, nothing unhandled, and the money rule:
 * the reservation is given back only when the provider certainly did not generate; each attempt that may have
 * been billed (a 5xx, a reset or a timeout after sending, an answer we refused) stays counted.
 */

const PROVIDER_KEY = 'sk-reliability-provider-key-7777';
const PROMPT = 'reliability matrix prompt: a copper kettle on a stove';
const PNG = pngOf(64, 64, 'fault matrix');
const PNG_B64 = PNG.toString('base64');

let s3: LocalS3;
let proxy: S3FaultProxy;
let dynamo: LocalDynamo;
let openai: OpenAITestServer;
let capture: Capture;
let table: string;
let tables = 0;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

beforeAll(async () => {
  [s3, dynamo, openai] = await Promise.all([startLocalS3(), startLocalDynamo(), OpenAITestServer.start(imageReply(PNG_B64))]);
  proxy = await S3FaultProxy.start(s3.endpoint);
  closedPortUrl = `${await closedEndpoint()}/v1`;
  process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
  process.on('unhandledRejection', onUnhandled);
  capture = startCapture();
});

afterAll(async () => {
  capture.stop();
  process.off('unhandledRejection', onUnhandled);
  await Promise.all([openai.close(), proxy.close(), dynamo.stop()]);
  await s3.stop();
});

beforeEach(async () => {
  openai.reset(imageReply(PNG_B64));
  proxy.fault = undefined;
  proxy.faultsInjected = 0;
  proxy.matches = (method) => method === 'PUT';
  await s3.clear();
  tables += 1;
  table = `faults-${tables}`;
  await dynamo.createTable(table);
});

function makeHandler(env: Record<string, string> = {}): Handler {
  const config = parseConfig(
    baseEnv({
      IMAGE_PROVIDER: 'openai',
      OPENAI_API_KEY: PROVIDER_KEY,
      OPENAI_BASE_URL: openai.baseUrl,
      S3_ENDPOINT: proxy.endpoint,
      IMAGE_BUCKET: s3.bucket,
      STATE_TABLE: table,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      MODERATION: 'fail-closed',
      PROVIDER_MAX_RETRIES: '1',
      // A short request budget, so that hangs end in seconds rather than in 29.
      GATEWAY_TIMEOUT_MS: '6000',
      UPLOAD_RESERVE_MS: '2500',
      MIN_PROVIDER_TIME_MS: '500',
      ...Object.fromEntries(Object.entries(env).map(([name, value]) => [name, value === CLOSED_PORT ? closedPortUrl : value])),
    }),
  );
  return withContract(createApiHandler(createDependencies(config, { dynamo: dynamo.client })) as unknown as Handler);
}

interface Cell {
  name: string;
  status: number;
  code: string;
  provider?: Reply[];
  providerFallback?: Reply;
  s3Fault?: S3Fault;
  /** Fault only the record write (the image write succeeds and must be undone). */
  recordOnly?: boolean;
  /** Provider attempts that may have been billed, each counted at the request's estimate. */
  billed: number;
  env?: Record<string, string>;
}

const bigPng = noisePng(64, 64);
/** Stands for the URL of a loopback port nothing listens on (connection refused), found in beforeAll. */
const CLOSED_PORT = 'closed-port';
let closedPortUrl = '';

const cells: Cell[] = [
  {
    name: 'provider 429 with Retry-After',
    billed: 0,
    status: 503,
    code: 'provider_busy',
    provider: [errorReply(429, { code: 'rate_limit_exceeded' }, { 'retry-after': '30' })],
  },
  {
    name: 'provider 429 without Retry-After',
    billed: 0,
    status: 503,
    code: 'provider_busy',
    providerFallback: errorReply(429, { code: 'rate_limit_exceeded' }),
  },
  { name: 'provider 500', billed: 2, status: 502, code: 'provider_error', providerFallback: errorReply(500, { type: 'server_error' }) },
  // Overloaded: not taken, so never billed (retried, then answered as busy).
  { name: 'provider 503', billed: 0, status: 503, code: 'provider_busy', providerFallback: errorReply(503, { type: 'server_error' }) },
  { name: 'provider resets the connection', billed: 2, status: 502, code: 'provider_error', providerFallback: { kind: 'reset' } },
  { name: 'provider hangs past the deadline', billed: 1, status: 504, code: 'provider_timeout', providerFallback: { kind: 'hang' } },
  {
    name: 'provider cuts its answer short (not retried: it was received)',
    billed: 1,
    status: 502,
    code: 'bad_provider_response',
    provider: [{ kind: 'cut', body: (imageReply(PNG_B64) as { body: unknown }).body }],
  },
  {
    name: 'provider sends malformed JSON',
    billed: 1,
    status: 502,
    code: 'bad_provider_response',
    provider: [{ kind: 'raw', body: '{"data": [{"b64_json": "iVBOR' }],
  },
  {
    name: 'provider sends an empty data list',
    billed: 1,
    status: 502,
    code: 'bad_provider_response',
    provider: [{ kind: 'json', body: { created: 1, data: [] } }],
  },
  {
    name: 'provider sends invalid base64',
    billed: 1,
    status: 502,
    code: 'bad_provider_response',
    provider: [imageReply(`${PNG_B64.slice(0, 20)}!!${PNG_B64.slice(22)}`)],
  },
  {
    name: 'provider sends a truncated image',
    billed: 1,
    status: 502,
    code: 'bad_provider_response',
    provider: [imageReply(PNG.subarray(0, PNG.length - 30).toString('base64'))],
  },
  {
    name: 'provider sends base64 of non-image bytes',
    billed: 1,
    status: 502,
    code: 'bad_provider_response',
    provider: [imageReply(Buffer.from('just some text, not an image').toString('base64'))],
  },
  {
    name: 'provider sends an image over the size limit',
    billed: 1,
    status: 502,
    code: 'bad_provider_response',
    provider: [imageReply(bigPng.toString('base64'))],
    env: { MAX_IMAGE_BYTES: '4096' },
  },
  {
    name: 'provider key is not a valid header value (never sent, not retried)',
    billed: 0,
    status: 502,
    code: 'provider_error',
    env: { OPENAI_API_KEY: 'sk-broken\u0001key', MODERATION: 'off' },
  },
  {
    name: 'provider refuses the connection',
    billed: 0,
    status: 502,
    code: 'provider_error',
    env: { OPENAI_BASE_URL: CLOSED_PORT, MODERATION: 'off' },
  },
  {
    name: 'provider refuses the prompt',
    billed: 0,
    status: 422,
    code: 'content_policy_violation',
    provider: [errorReply(400, { code: 'moderation_blocked' })],
  },
  {
    name: 'S3 answers 500',
    billed: 1,
    status: 503,
    code: 'storage_unavailable',
    s3Fault: { kind: 'error', status: 500, code: 'InternalError' },
  },
  {
    name: 'S3 answers 503 SlowDown',
    billed: 1,
    status: 503,
    code: 'storage_unavailable',
    s3Fault: { kind: 'error', status: 503, code: 'SlowDown' },
  },
  {
    name: 'S3 answers 403 AccessDenied',
    billed: 1,
    status: 503,
    code: 'storage_unavailable',
    s3Fault: { kind: 'error', status: 403, code: 'AccessDenied' },
  },
  { name: 'S3 times out', billed: 1, status: 503, code: 'storage_unavailable', s3Fault: { kind: 'hang' } },
  { name: 'S3 resets the connection', billed: 1, status: 503, code: 'storage_unavailable', s3Fault: { kind: 'reset' } },
  {
    name: 'S3 fails only the record write',
    billed: 1,
    status: 503,
    code: 'storage_unavailable',
    s3Fault: { kind: 'error', status: 500, code: 'InternalError' },
    recordOnly: true,
  },
];

describe('fault matrix', () => {
  it.each(cells)('$name -> $status $code, nothing left behind, $billed billable attempts counted', async (cell) => {
    // Prepare
    if (cell.providerFallback) openai.setFallback(cell.providerFallback);
    if (cell.provider) openai.enqueue(...cell.provider);
    if (cell.s3Fault) {
      proxy.fault = cell.s3Fault;
      if (cell.recordOnly) proxy.matches = (method, path) => method === 'PUT' && path.includes('/records/');
    }
    const event = httpEvent({
      body: JSON.stringify({ prompt: PROMPT, quality: 'low' }),
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    // Act
    const response = await makeHandler(cell.env)(event, lambdaContext(60_000));
    // Assess
    expect(response.statusCode).toBe(cell.status);
    expect(JSON.parse(response.body ?? '{}')).toEqual({
      error: { code: cell.code, message: expect.any(String), requestId: event.requestContext.requestId },
    });
    expect(response.headers?.['location']).toBeUndefined();
    expect(response.body).not.toMatch(/https?:\/\//);
    expect(await s3.keys()).toEqual([]);
    const items = await dynamo.items(table);
    const quota = items.find((item) => String(item['pk']).startsWith('quota#'));
    const spend = items.find((item) => String(item['pk']).startsWith('spend#global#'));
    expect({ images: quota?.['images'], spend: quota?.['spendMicroUsd'], global: spend?.['spendMicroUsd'] }).toEqual({
      images: cell.billed > 0 ? 1 : 0,
      spend: cell.billed * estimatedCost(PROMPT),
      global: cell.billed * estimatedCost(PROMPT),
    });
    if (cell.s3Fault) expect(proxy.faultsInjected).toBeGreaterThan(0);
  });

  it('left no unhandled rejection behind', () => {
    expect(unhandled).toEqual([]);
  });

  it('logged no API key, provider key, prompt or base64 in the whole suite', () => {
    const output = capture.output();
    expect(output).toContain('request failed');
    expect(output).not.toContain(TEST_API_KEY);
    expect(output).not.toContain(PROVIDER_KEY);
    expect(output).not.toContain('copper kettle');
    expect(output).not.toContain(PNG_B64.slice(0, 32));
    expect(output).not.toContain(PNG_B64.slice(-64, -32));
  });
});
