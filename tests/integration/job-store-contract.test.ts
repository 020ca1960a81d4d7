import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDbJobStore } from '../../lib/adapters/aws/dynamodb-job-store.js';
import { MemoryJobStore } from '../../lib/adapters/in-process/memory-job-store.js';
import { listKey, type ImageJob, type StoredImageResult } from '../../lib/domain/image-job.js';
import type { JobStore } from '../../lib/ports.js';
import { imageJob } from '../support/builders.js';
import { startLocalDynamo, type LocalDynamo } from '../support/dynamo.js';

/**
 * One contract for both job stores (ports.ts JobStore): the in-memory one (no state table, `npm run invoke`) and the
 * DynamoDB one (on dynalite) make the same transitions, and refuse the same ones. The use cases are tested on the
 * memory store; this is what lets that stand for DynamoDB.
 */

let dynamo: LocalDynamo;
let tables = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
});

afterAll(async () => {
  await dynamo.stop();
});

const stores: [string, () => Promise<JobStore>][] = [
  ['MemoryJobStore', async () => new MemoryJobStore()],
  [
    'DynamoDbJobStore',
    async () => {
      tables += 1;
      await dynamo.createTable(`contract-${tables}`);
      return new DynamoDbJobStore(dynamo.client, `contract-${tables}`);
    },
  ],
];

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);
const jobOf = (id: string, overrides: Partial<ImageJob> = {}): ImageJob =>
  imageJob({ id, prompt: 'a fox', providerPrompt: 'Draw: a fox', createdAt: T0, estimateMicroUsd: 6_000, ...overrides });
const RESULT: StoredImageResult = {
  id: 'AAAAAAAAAAAAAAAAAAAAAA',
  url: 'https://cdn.example.test/images/x.png',
  key: 'images/x.png',
  recordKey: 'records/x.json',
  contentType: 'image/png',
  bytes: 10,
  sha256: '0'.repeat(64),
  width: 16,
  height: 16,
  model: 'gpt-image-2',
};

describe.each(stores)('%s keeps the JobStore contract', (_name, makeStore) => {
  it('creates a queued job once, and reads it back as written', async () => {
    const store = await makeStore();
    const job = jobOf('AAAAAAAAAAAAAAAAAAAAA1', { previews: 2, webhook: 'https://hooks.example.com/x', webhookState: 'pending' });
    await store.create(job);
    await expect(store.create(job)).rejects.toThrow();
    expect(await store.get(job.id)).toMatchObject({
      id: job.id,
      status: 'queued',
      owner: job.owner,
      model: 'gpt-image-2',
      quality: 'low',
      prompt: 'a fox',
      previews: 2,
      webhookState: 'pending',
      createdAt: T0,
    });
    expect(await store.get('AAAAAAAAAAAAAAAAAAAAZZ')).toBeUndefined();
  });

  it('lets one claim win, and only that claim succeed; the prompts go with success', async () => {
    const store = await makeStore();
    const id = 'AAAAAAAAAAAAAAAAAAAAA2';
    await store.create(jobOf(id));
    expect(await store.claim(id, 'first', T0 + 60_000, T0)).toBe(true);
    expect(await store.claim(id, 'second', T0 + 60_000, T0)).toBe(false);
    expect(await store.succeed(id, 'second', RESULT, T0 + 1)).toBe(false);
    expect(await store.addPreview(id, 'first', { index: 0, url: 'u', key: 'k' })).toBe(true);
    expect(await store.addPreview(id, 'second', { index: 1, url: 'u', key: 'k' })).toBe(false);
    expect(await store.succeed(id, 'first', RESULT, T0 + 2)).toBe(true);
    const done = await store.get(id);
    expect(done).toMatchObject({
      status: 'succeeded',
      result: RESULT,
      completedAt: T0 + 2,
      previewImages: [{ index: 0, url: 'u', key: 'k' }],
    });
    expect(done?.prompt).toBeUndefined();
    expect(done?.providerPrompt).toBeUndefined();
    // Ended: no preview, no second ending.
    expect(await store.addPreview(id, 'first', { index: 1, url: 'u', key: 'k' })).toBe(false);
    expect(await store.fail(id, { status: 'running', claim: 'first' }, { code: 'internal_error', message: 'x' }, T0 + 3)).toBe(false);
  });

  it('fails a job only from the state the caller saw', async () => {
    const store = await makeStore();
    const queued = 'AAAAAAAAAAAAAAAAAAAAA3';
    const running = 'AAAAAAAAAAAAAAAAAAAAA4';
    await store.create(jobOf(queued));
    await store.create(jobOf(running));
    await store.claim(running, 'c', T0 + 60_000, T0);
    const error = { code: 'provider_timeout' as const, message: 'slow', billed: true };
    expect(await store.fail(queued, { status: 'running', claim: 'c' }, error, T0)).toBe(false);
    expect(await store.fail(queued, { status: 'queued' }, error, T0)).toBe(true);
    expect(await store.fail(running, { status: 'running', claim: 'other' }, error, T0)).toBe(false);
    expect(await store.fail(running, { status: 'running', claim: 'c' }, error, T0)).toBe(true);
    expect(await store.get(running)).toMatchObject({ status: 'failed', error, completedAt: T0 });
  });

  it('marks a running job deleted only under its claim, and removes a job only in the status named', async () => {
    const store = await makeStore();
    const id = 'AAAAAAAAAAAAAAAAAAAAA5';
    await store.create(jobOf(id));
    expect(await store.markDeleted(id, 'c', T0 + 86_400_000)).toBe(false); // queued, not running
    await store.claim(id, 'c', T0 + 60_000, T0);
    expect(await store.markDeleted(id, 'other', T0 + 86_400_000)).toBe(false);
    expect(await store.markDeleted(id, 'c', T0 + 86_400_000)).toBe(true);
    expect((await store.get(id))?.status).toBe('deleted');
    const other = 'AAAAAAAAAAAAAAAAAAAAA6';
    await store.create(jobOf(other));
    expect(await store.remove(other, 'running')).toBe(false);
    expect(await store.remove(other, 'queued')).toBe(true);
    expect(await store.get(other)).toBeUndefined();
  });

  it("lists an owner's jobs newest first, a page at a time, and never another owner's", async () => {
    const store = await makeStore();
    for (let i = 0; i < 5; i += 1) await store.create(jobOf(`AAAAAAAAAAAAAAAAAAAAB${i}`, { createdAt: T0 + i * 1_000 }));
    await store.create(jobOf('AAAAAAAAAAAAAAAAAAAAC0', { owner: 'api-key:other', createdAt: T0 + 10_000 }));
    const first = await store.list('api-key:web-app', 2, undefined);
    expect(first.jobs.map((job) => job.id)).toEqual(['AAAAAAAAAAAAAAAAAAAAB4', 'AAAAAAAAAAAAAAAAAAAAB3']);
    expect(first.next).toEqual({ id: 'AAAAAAAAAAAAAAAAAAAAB3', listKey: listKey(T0 + 3_000, 'AAAAAAAAAAAAAAAAAAAAB3') });
    const second = await store.list('api-key:web-app', 3, first.next);
    expect(second.jobs.map((job) => job.id)).toEqual(['AAAAAAAAAAAAAAAAAAAAB2', 'AAAAAAAAAAAAAAAAAAAAB1', 'AAAAAAAAAAAAAAAAAAAAB0']);
    expect(second.next).toBeUndefined();
  });
});

describe('DynamoDbJobStore reads an item only when it holds a job', () => {
  it('answers a corrupt item (an unknown status, a missing principal) with an error, not a plausible job', async () => {
    // Prepare: items written past the store, as a manual edit or another program might leave them.
    tables += 1;
    const table = `contract-${tables}`;
    await dynamo.createTable(table);
    const store = new DynamoDbJobStore(dynamo.client, table);
    const base = {
      owner: { S: 'api-key:web-app' },
      listKey: { S: 'x' },
      model: { S: 'gpt-image-2' },
      size: { S: '1024x1024' },
      requestId: { S: 'r' },
      principalKind: { S: 'api-key' },
      createdAt: { N: String(T0) },
    };
    await dynamo.client.send(
      new PutItemCommand({
        TableName: table,
        Item: { ...base, pk: { S: 'image#AAAAAAAAAAAAAAAAAAAAD0' }, status: { S: 'paused' }, principalId: { S: 'web-app' } },
      }),
    );
    await dynamo.client.send(
      new PutItemCommand({ TableName: table, Item: { ...base, pk: { S: 'image#AAAAAAAAAAAAAAAAAAAAD1' }, status: { S: 'queued' } } }),
    );
    // Act, Assess
    await expect(store.get('AAAAAAAAAAAAAAAAAAAAD0')).rejects.toMatchObject({ code: 'internal_error', details: { field: 'status' } });
    await expect(store.get('AAAAAAAAAAAAAAAAAAAAD1')).rejects.toMatchObject({ code: 'internal_error', details: { field: 'principalId' } });
  });
});
