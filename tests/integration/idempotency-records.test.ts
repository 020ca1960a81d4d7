/**
 * The Idempotency-Key guard (Powertools idempotency with its DynamoDB persistence layer) against a real DynamoDB
 * API (dynalite): the records it writes and the rules that are ours on top of Powertools (the lock ends at the
 * request's deadline, the caller's own error wins over a failed cleanup). The HTTP-level behaviour (201 replayed,
 * 409, 422, 201 when the completion write fails) is in abuse-protection.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DynamoDBClient, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
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
  await dynamo.stop();
});
beforeEach(async () => {
  tableNo += 1;
  table = `idem-${tableNo}`;
  await dynamo.createTable(table);
});

const guard = (client: DynamoDBClient = dynamo.client) =>
  new DynamoDbIdempotencyGuard(client, { table, ttlSeconds: 86_400, keyPrefix: FUNCTION_NAME });
const scope = { principal: 'api-key:web-app', key: 'order-42' };
const payload = { prompt: 'a lighthouse', model: 'gpt-image-2', size: '1024x1024', quality: 'low', format: null, webhook: null };
const until = async (check: () => Promise<boolean>): Promise<void> => {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('DynamoDbIdempotencyGuard', () => {
  it('replays a completed answer without running the work; another body is 422', async () => {
    await guard().run(scope, payload, Date.now() + 20_000, async () => ({ id: 'AAAAAAAAAAAAAAAAAAAAAA' }));
    let ran = false;
    const work = async () => {
      ran = true;
      return { id: 'BBBBBBBBBBBBBBBBBBBBBB' };
    };
    await expect(guard().run(scope, payload, Date.now() + 20_000, work)).resolves.toEqual({
      value: { id: 'AAAAAAAAAAAAAAAAAAAAAA' },
      replayed: true,
    });
    await expect(guard().run(scope, { ...payload, prompt: 'a barn' }, Date.now() + 20_000, work)).rejects.toMatchObject({
      code: 'idempotency_key_reused',
    });
    expect(ran).toBe(false);
  });

  it('writes Powertools records: the function name as key prefix, COMPLETED with the answer, the TTL attribute of the table', async () => {
    const before = Math.floor(Date.now() / 1000);
    await guard().run(scope, payload, Date.now() + 20_000, async () => ({ id: 'AAAAAAAAAAAAAAAAAAAAAA' }));
    const [record] = await dynamo.items(table);
    expect(record?.['pk']).toMatch(new RegExp(`^${FUNCTION_NAME}#[A-Za-z0-9+/=]{24}$`));
    expect(record?.['status']).toBe('COMPLETED');
    expect(Number(record?.['expiresAt']) - before).toBeGreaterThanOrEqual(86_399);
    expect(Number(record?.['expiresAt']) - before).toBeLessThanOrEqual(86_402);
  });

  it("answers 409 while the first request runs, and its lock ends at that request's deadline", async () => {
    let release: () => void = () => undefined;
    const deadline = Date.now() + 20_000;
    const first = guard().run(
      scope,
      payload,
      deadline,
      () => new Promise<object>((resolve) => (release = () => resolve({ id: 'AAAAAAAAAAAAAAAAAAAAAA' }))),
    );
    await until(async () => (await dynamo.items(table)).length > 0);
    const [lock] = await dynamo.items(table);
    expect(lock?.['status']).toBe('INPROGRESS');
    expect(Math.abs(Number(lock?.['in_progress_expiration']) - deadline)).toBeLessThan(1_000);
    await expect(guard().run(scope, payload, Date.now() + 20_000, async () => ({ id: 'x' }))).rejects.toMatchObject({
      code: 'request_in_progress',
    });
    release();
    await expect(first).resolves.toMatchObject({ replayed: false });
  });

  it('lets the next request take over a lock whose request passed its deadline (a crashed attempt)', async () => {
    let release: () => void = () => undefined;
    const crashed = guard().run(
      scope,
      payload,
      Date.now() + 50,
      () => new Promise<object>((resolve) => (release = () => resolve({ id: 'x' }))),
    );
    await until(async () => (await dynamo.items(table)).length > 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(guard().run(scope, payload, Date.now() + 20_000, async () => ({ id: 'CCCCCCCCCCCCCCCCCCCCCC' }))).resolves.toEqual({
      value: { id: 'CCCCCCCCCCCCCCCCCCCCCC' },
      replayed: false,
    });
    release();
    await crashed.catch(() => undefined);
  });

  it('deletes the record when the work fails, so the key can be retried', async () => {
    await expect(
      guard().run(scope, payload, Date.now() + 20_000, async () => Promise.reject(new Error('provider failed'))),
    ).rejects.toThrow('provider failed');
    expect(await dynamo.items(table)).toEqual([]);
  });

  it("passes on the work's own error when the record cannot be deleted after it", async () => {
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: dynamo.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'DeleteItemCommand') {
          throw new DynamoDBServiceException({
            name: 'InternalServerError',
            $fault: 'server',
            $metadata: { httpStatusCode: 500 },
            message: 'simulated',
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failDelete' },
    );
    await expect(
      guard(client).run(scope, payload, Date.now() + 20_000, async () => Promise.reject(new Error('provider failed'))),
    ).rejects.toThrow('provider failed');
    client.destroy();
  });

  it('answers state_unavailable, without running the work, when DynamoDB cannot be reached', async () => {
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 1,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    let ran = false;
    await expect(
      guard(client).run(scope, payload, Date.now() + 20_000, async () => {
        ran = true;
        return {};
      }),
    ).rejects.toMatchObject({ code: 'state_unavailable' });
    expect(ran).toBe(false);
    client.destroy();
  });
});
