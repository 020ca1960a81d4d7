/**
 * The idempotency records across a deploy: the service used Powertools' idempotency utility before
 * lib/adapters/dynamodb-idempotency-guard.ts replaced it. Keys live while a deployment switches (up to the TTL)
 * must keep their meaning both ways, so each side reads what the other wrote, here against Powertools itself.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { DynamoDbIdempotencyGuard } from '../../lib/adapters/aws/dynamodb-idempotency-guard.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamo.js';

const FUNCTION_NAME = 'durable-image-api-prod-generateImage';
let dynamo: LocalDynamo;
let table: string;
let tableNo = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  delete process.env['AWS_LAMBDA_FUNCTION_NAME'];
  await dynamo.stop();
});
beforeEach(async () => {
  tableNo += 1;
  table = `idem-${tableNo}`;
  await dynamo.createTable(table);
});

interface Call {
  scope: { principal: string; key: string };
  payload: object;
  work: () => Promise<object>;
}

/** The previous adapter's exact Powertools configuration. */
function powertools(): (call: Call) => Promise<object> {
  process.env['AWS_LAMBDA_FUNCTION_NAME'] = FUNCTION_NAME;
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: table, keyAttr: 'pk', expiryAttr: 'expiresAt', awsSdkV3Client: dynamo.client });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'scope',
    payloadValidationJmesPath: 'payload',
    expiresAfterSeconds: 86_400,
    throwOnNoIdempotencyKey: true,
  });
  config.registerLambdaContext({ getRemainingTimeInMillis: () => 20_000 } as Context);
  return makeIdempotent(async (call: Call) => call.work(), { persistenceStore, config }) as (call: Call) => Promise<object>;
}

const ours = () => new DynamoDbIdempotencyGuard(dynamo.api, { table, ttlSeconds: 86_400, keyPrefix: FUNCTION_NAME });

const scope = { principal: 'api-key:web-app', key: 'order-42' };
const payload = { prompt: 'a lighthouse', model: 'gpt-image-2', size: '1024x1024', quality: 'low', format: null, webhook: null };

describe('idempotency records written by Powertools', () => {
  it('are replayed by the new guard without running the work, and a different body is 422', async () => {
    await powertools()({ scope, payload, work: async () => ({ id: 'AAAAAAAAAAAAAAAAAAAAAA' }) });
    let ran = false;
    const work = async () => {
      ran = true;
      return { id: 'BBBBBBBBBBBBBBBBBBBBBB' };
    };
    await expect(ours().run(scope, payload, Date.now() + 20_000, work)).resolves.toEqual({ value: { id: 'AAAAAAAAAAAAAAAAAAAAAA' }, replayed: true });
    await expect(ours().run(scope, { ...payload, prompt: 'a barn' }, Date.now() + 20_000, work)).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect(ran).toBe(false);
  });

  it('in progress make the new guard answer 409', async () => {
    let release: () => void = () => undefined;
    const first = powertools()({ scope, payload, work: () => new Promise((resolve) => (release = () => resolve({ id: 'AAAAAAAAAAAAAAAAAAAAAA' }))) });
    // Wait until Powertools has written its in-progress record.
    while ((await dynamo.items(table)).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(ours().run(scope, payload, Date.now() + 20_000, async () => ({ id: 'x' }))).rejects.toMatchObject({ code: 'request_in_progress' });
    release();
    await first;
  });
});

describe('idempotency records written by the new guard', () => {
  it('are replayed by Powertools, which also refuses a different body', async () => {
    await ours().run(scope, payload, Date.now() + 20_000, async () => ({ id: 'AAAAAAAAAAAAAAAAAAAAAA' }));
    let ran = false;
    const work = async () => {
      ran = true;
      return { id: 'BBBBBBBBBBBBBBBBBBBBBB' };
    };
    await expect(powertools()({ scope, payload, work })).resolves.toEqual({ id: 'AAAAAAAAAAAAAAAAAAAAAA' });
    await expect(powertools()({ scope, payload: { ...payload, prompt: 'a barn' }, work })).rejects.toBeInstanceOf(IdempotencyValidationError);
    expect(ran).toBe(false);
  });

  it('in progress make Powertools refuse as already in progress; a failure deletes the record', async () => {
    let release: () => void = () => undefined;
    const first = ours().run(scope, payload, Date.now() + 20_000, () => new Promise<object>((_, reject) => (release = () => reject(new Error('failed')))));
    while ((await dynamo.items(table)).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(powertools()({ scope, payload, work: async () => ({ id: 'x' }) })).rejects.toBeInstanceOf(IdempotencyAlreadyInProgressError);
    release();
    await expect(first).rejects.toThrow('failed');
    expect(await dynamo.items(table)).toEqual([]);
  });

  it('have the same key, attributes and expiry as Powertools writes', async () => {
    await ours().run(scope, payload, Date.now() + 20_000, async () => ({ id: 'AAAAAAAAAAAAAAAAAAAAAA' }));
    const [mine] = await dynamo.items(table);
    tableNo += 1;
    table = `idem-${tableNo}`;
    await dynamo.createTable(table);
    await powertools()({ scope, payload, work: async () => ({ id: 'AAAAAAAAAAAAAAAAAAAAAA' }) });
    const [theirs] = await dynamo.items(table);
    expect(Object.keys(mine ?? {}).sort()).toEqual(Object.keys(theirs ?? {}).sort());
    expect(mine?.['pk']).toBe(theirs?.['pk']);
    expect(mine?.['pk']).toMatch(new RegExp(`^${FUNCTION_NAME}#`));
    expect(mine?.['validation']).toBe(theirs?.['validation']);
    expect(mine?.['status']).toBe('COMPLETED');
    expect(Math.abs(Number(mine?.['expiresAt']) - Number(theirs?.['expiresAt']))).toBeLessThanOrEqual(2);
  });
});
