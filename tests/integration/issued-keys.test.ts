import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { createDependencies } from '../../lib/composition-root.js';
import { parseConfig } from '../../lib/config.js';
import { newApiKey, type ApiKeyRecord } from '../../lib/domain/api-keys.js';
import { DynamoDbKeyStore } from '../../lib/adapters/aws/dynamodb-key-store.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { withContract } from '../support/contract.js';
import { serversEnv } from '../support/env.js';
import { pngOf } from '../support/fixtures.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';
import { useProviderStandIns } from '../support/provider-stand-ins.js';

/** Keys the operator issues into the state table (`npm run keys`), on dynalite: who they let in, and what it costs. */

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
type Json = Record<string, any>;

// s3rver, dynalite and the OpenAI stand-in, with a new state table per test (the suites' shared lifecycle).
const { servers } = useProviderStandIns(pngOf(32, 32, 'issued'), 'keys');

/** A DynamoDB client that counts the key lookups it sends (GetItem on `apikey#...`) and every quota write. */
function countingClient(): { client: DynamoDBClient; keyReads: () => number; otherCalls: () => number } {
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: servers.dynamo.endpoint,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  let keyReads = 0;
  let otherCalls = 0;
  const send = client.send.bind(client) as (command: unknown, options?: unknown) => Promise<unknown>;
  (client as unknown as { send: typeof send }).send = (command, options) => {
    const key = (command as { input?: { Key?: { pk?: { S?: string } } } }).input?.Key?.pk?.S;
    if (command instanceof GetItemCommand && key?.startsWith('apikey#')) keyReads += 1;
    else otherCalls += 1;
    return send(command, options);
  };
  return { client, keyReads: () => keyReads, otherCalls: () => otherCalls };
}

interface Stack {
  api: Handler;
  store: DynamoDbKeyStore;
  clock: { now: number };
  counts: ReturnType<typeof countingClient>;
}

function makeStack(env: Record<string, string> = {}): Stack {
  const counts = countingClient();
  const clock = { now: Date.now() };
  const config = parseConfig(
    serversEnv(
      {
        openaiBaseUrl: servers.openai.baseUrl,
        s3Endpoint: servers.s3.endpoint,
        bucket: servers.s3.bucket,
        dynamoEndpoint: servers.dynamo.endpoint,
        table: servers.table,
      },
      { API_KEY_CACHE_SECONDS: '60', ...env },
    ),
  );
  const deps = createDependencies(config, { dynamo: counts.client, now: () => clock.now });
  return {
    api: withContract(createApiHandler(deps) as unknown as Handler),
    store: new DynamoDbKeyStore(servers.dynamo.client, servers.table),
    clock,
    counts,
  };
}

async function issue(store: DynamoDbKeyStore, fields: Partial<ApiKeyRecord> = {}): Promise<{ key: string; record: ApiKeyRecord }> {
  const { key, prefix, hash } = newApiKey();
  const record: ApiKeyRecord = { hash, prefix, name: 'partner', state: 'active', createdAt: Date.now(), ...fields };
  await store.create(record);
  return { key, record };
}

const generate = (key: string, body: unknown = { prompt: 'a red fox', quality: 'low' }): APIGatewayProxyEventV2 =>
  httpEvent({ body: JSON.stringify(body), headers: { authorization: `Bearer ${key}` } });
const usage = (key: string): APIGatewayProxyEventV2 =>
  httpEvent({ method: 'GET', path: '/usage', headers: { authorization: `Bearer ${key}` } });
const json = (response: APIGatewayProxyStructuredResultV2): Json => JSON.parse(response.body ?? '{}') as Json;

describe('keys issued into the state table', () => {
  it('lets an issued key in under its own daily limits: two images, then 429, counted under its prefix', async () => {
    const { api, store } = makeStack();
    const { key, record } = await issue(store, { dailyImages: 2 });
    const statuses = [];
    for (let round = 0; round < 3; round += 1) statuses.push((await api(generate(key), lambdaContext())).statusCode);
    expect(statuses).toEqual([201, 201, 429]);
    const day = json(await api(usage(key), lambdaContext()));
    expect(day['images']).toMatchObject({ used: 2, limit: 2, remaining: 0 });
    expect((await servers.dynamo.items(servers.table)).map((item) => String(item['pk']))).toContain(
      `quota#api-key:${record.prefix}#${new Date().toISOString().slice(0, 10)}`,
    );
    expect(servers.openai.calls.filter((call) => call.path.endsWith('/images/generations'))).toHaveLength(2);
  });

  it('refuses a revoked key within the cache bound on a warm instance, and says it was revoked', async () => {
    const { api, store, clock } = makeStack();
    const { key, record } = await issue(store);
    expect((await api(usage(key), lambdaContext())).statusCode).toBe(200);
    await store.update(record.prefix, { state: 'revoked', revokedAt: clock.now });
    // Within the bound this instance still trusts what it read; past it, the key is refused.
    clock.now += 59_000;
    expect((await api(usage(key), lambdaContext())).statusCode).toBe(200);
    clock.now += 1_001;
    const refused = await api(usage(key), lambdaContext());
    expect(refused.statusCode).toBe(401);
    expect(json(refused)['error']['message']).toMatch(/^This API key was revoked on \d{4}-/);
  });

  it('refuses an expired key from its expiry on, and a key asking for a model it may not use, before anything is spent', async () => {
    const { api, store, clock } = makeStack();
    const { key } = await issue(store, { expiresAt: clock.now + 1_000, allowedModels: ['openai/gpt-image-1.5'] });
    const wrongModel = await api(generate(key, { prompt: 'a fox', model: 'gpt-image-2' }), lambdaContext());
    expect(wrongModel.statusCode).toBe(400);
    expect(json(wrongModel)['error']).toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('not allowed for this API key'),
    });
    clock.now += 1_000;
    const expired = await api(usage(key), lambdaContext());
    expect(expired.statusCode).toBe(401);
    expect(json(expired)['error']['message']).toMatch(/^This API key expired on/);
    expect(servers.openai.calls).toHaveLength(0);
  });

  it('costs no read for 1,000 random wrong keys, and one read per distinct well-formed key per bound; none reaches quota or a provider', async () => {
    const { api, counts, clock } = makeStack();
    const before = counts.otherCalls();
    // Random keys of any shape, and keys of the issued shape with a wrong checksum: refused on sight.
    for (let round = 0; round < 1_000; round += 1) {
      const random =
        round % 2 === 0 ? randomBytes(24).toString('base64url') : `dia_${'A'.repeat(8)}_${randomBytes(28).toString('hex').slice(0, 38)}`;
      expect((await api(generate(random), lambdaContext())).statusCode).toBe(401);
    }
    expect(counts.keyReads()).toBe(0);
    // A well-formed key that was never issued (or was deleted): one read, then the answer is remembered.
    const unknown = newApiKey().key;
    for (let round = 0; round < 100; round += 1) expect((await api(generate(unknown), lambdaContext())).statusCode).toBe(401);
    expect(counts.keyReads()).toBe(1);
    clock.now += 60_001;
    expect((await api(generate(unknown), lambdaContext())).statusCode).toBe(401);
    expect(counts.keyReads()).toBe(2);
    // Nothing past authentication ran: no quota write, no moderation, no provider call.
    expect(counts.otherCalls()).toBe(before);
    expect(servers.openai.calls).toHaveLength(0);
    expect(servers.openai.moderationCalls).toHaveLength(0);
  });
});
