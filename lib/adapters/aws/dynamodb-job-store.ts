import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as v from 'valibot';
import { boundedCall, isConditionFailed } from './dynamodb.js';
import { AppError } from '../../errors.js';
import {
  listKey,
  type ImageJob,
  type JobError,
  type JobStatus,
  type StoredImageResult,
  type StoredPreview,
} from '../../domain/image-job.js';
import type { JobStore } from '../../ports.js';

/** The owner index of the state table (serverless.yml `StateTable`): owner -> jobs by creation time. */
const OWNER_INDEX = 'byOwner';

type Item = Record<string, AttributeValue>;

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });
const pk = (id: string): Item => ({ pk: S(`image#${id}`) });

/**
 * Image jobs in the state table beside the quota counters: one item per image (`pk = image#<id>`), listed
 * through a global secondary index on (`owner`, `listKey`). Every status change is a conditional write on the
 * state the writer saw, so two workers (a redelivered event), or a worker and a DELETE, can never both win.
 */
export class DynamoDbJobStore implements JobStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly table: string,
  ) {}

  async create(job: ImageJob): Promise<void> {
    await this.send((dynamo, options) =>
      dynamo.send(
        new PutItemCommand({
          TableName: this.table,
          Item: toItem(job),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
        options,
      ),
    );
  }

  async get(id: string): Promise<ImageJob | undefined> {
    const { Item } = await this.send((dynamo, options) =>
      dynamo.send(new GetItemCommand({ TableName: this.table, Key: pk(id), ConsistentRead: true }), options),
    );
    return Item ? fromItem(checked(Item, FULL_ITEM)) : undefined;
  }

  async claim(id: string, claim: string, leaseUntil: number, now: number): Promise<boolean> {
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: pk(id),
        UpdateExpression: 'SET #status = :running, claim = :claim, leaseUntil = :lease, startedAt = :now',
        ConditionExpression: '#status = :queued',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':running': S('running'),
          ':queued': S('queued'),
          ':claim': S(claim),
          ':lease': N(leaseUntil),
          ':now': N(now),
        },
      }),
    );
  }

  async succeed(id: string, claim: string, result: StoredImageResult, now: number): Promise<boolean> {
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: pk(id),
        // The prompts now live in the private S3 record only.
        UpdateExpression: 'SET #status = :succeeded, #result = :result, completedAt = :now REMOVE prompt, providerPrompt, leaseUntil',
        ConditionExpression: '#status = :running AND claim = :claim',
        ExpressionAttributeNames: { '#status': 'status', '#result': 'result' },
        ExpressionAttributeValues: {
          ':succeeded': S('succeeded'),
          ':running': S('running'),
          ':claim': S(claim),
          ':result': S(JSON.stringify(result)),
          ':now': N(now),
        },
      }),
    );
  }

  async fail(
    id: string,
    from: { status: 'queued' | 'running'; claim?: string | undefined },
    error: JobError,
    now: number,
  ): Promise<boolean> {
    const byClaim = from.status === 'running' && from.claim !== undefined;
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: pk(id),
        UpdateExpression: 'SET #status = :failed, #error = :error, completedAt = :now REMOVE prompt, providerPrompt, leaseUntil',
        ConditionExpression: byClaim ? '#status = :from AND claim = :claim' : '#status = :from',
        ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
        ExpressionAttributeValues: {
          ':failed': S('failed'),
          ':from': S(from.status),
          ':error': S(JSON.stringify(error)),
          ':now': N(now),
          ...(byClaim ? { ':claim': S(from.claim as string) } : {}),
        },
      }),
    );
  }

  async setWebhookState(id: string, state: 'delivered' | 'failed'): Promise<void> {
    await this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: pk(id),
        UpdateExpression: 'SET webhookState = :state',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':state': S(state) },
      }),
    );
  }

  async addPreview(id: string, claim: string, preview: StoredPreview): Promise<boolean> {
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: pk(id),
        // A list of JSON strings: appended in one write, never read-modify-written (at most 3, a few hundred bytes).
        UpdateExpression: 'SET previewImages = list_append(if_not_exists(previewImages, :none), :preview)',
        ConditionExpression: '#status = :running AND claim = :claim',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':running': S('running'),
          ':claim': S(claim),
          ':none': { L: [] },
          ':preview': { L: [S(JSON.stringify(preview))] },
        },
      }),
    );
  }

  async list(owner: string, limit: number, cursor: { id: string; listKey: string } | undefined) {
    const queried = await this.send((dynamo, options) =>
      dynamo.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: OWNER_INDEX,
          KeyConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': S(owner) },
          ScanIndexForward: false,
          // One more than asked: a next page is announced only when there is one.
          Limit: limit + 1,
          ...(cursor ? { ExclusiveStartKey: { ...pk(cursor.id), owner: S(owner), listKey: S(cursor.listKey) } } : {}),
        }),
        options,
      ),
    );
    const jobs = (queried.Items ?? []).map((item) => fromItem(checked(item, INDEXED_ITEM)));
    const page = jobs.slice(0, limit);
    const last = page[page.length - 1];
    const more = jobs.length > limit;
    return { jobs: page, next: more && last ? { id: last.id, listKey: listKey(last.createdAt, last.id) } : undefined };
  }

  async remove(id: string, status: JobStatus): Promise<boolean> {
    return this.conditional(
      new DeleteItemCommand({
        TableName: this.table,
        Key: pk(id),
        ConditionExpression: '#status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': S(status) },
      }),
    );
  }

  async markDeleted(id: string, claim: string | undefined, expiresAt: number): Promise<boolean> {
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: pk(id),
        // Out of the owner index at once (no owner), and expired by TTL if its worker never comes back.
        UpdateExpression: 'SET #status = :deleted, expiresAt = :expiresAt REMOVE #owner, prompt, providerPrompt',
        ConditionExpression: claim === undefined ? '#status = :running' : '#status = :running AND claim = :claim',
        ExpressionAttributeNames: { '#status': 'status', '#owner': 'owner' },
        ExpressionAttributeValues: {
          ':deleted': S('deleted'),
          ':running': S('running'),
          ':expiresAt': N(Math.floor(expiresAt / 1000)),
          ...(claim === undefined ? {} : { ':claim': S(claim) }),
        },
      }),
    );
  }

  /** A conditional write: false when its condition did not hold. */
  private async conditional(command: UpdateItemCommand | DeleteItemCommand): Promise<boolean> {
    try {
      // Two branches only for the types: the SDK's send is typed per command.
      await this.send((dynamo, options) =>
        command instanceof UpdateItemCommand ? dynamo.send(command, options) : dynamo.send(command, options),
      );
      return true;
    } catch (error) {
      if (error instanceof AppError && isConditionFailed(error.cause)) return false;
      throw error;
    }
  }

  /** One bounded call; any failure but a condition's is the store being unavailable (503). */
  private async send<O>(call: (dynamo: DynamoDBClient, options: { abortSignal: AbortSignal }) => Promise<O>): Promise<O> {
    try {
      return await call(this.dynamo, boundedCall());
    } catch (error) {
      throw new AppError('state_unavailable', 'The image state store is unavailable. Retry later.', {
        cause: error,
        details: { dynamoError: error instanceof Error ? error.name : 'unknown' },
      });
    }
  }
}

/**
 * A job as its item, through util-dynamodb's marshall: scalars as themselves, the nested values (reservation,
 * inputs, each preview) as JSON strings, the layout every reader and conditional update here expects. Undefined
 * fields are left out.
 */
function toItem(job: ImageJob): Item {
  return marshall(
    {
      pk: `image#${job.id}`,
      owner: job.owner,
      listKey: listKey(job.createdAt, job.id),
      principalId: job.principalId,
      principalKind: job.principalKind,
      status: job.status,
      model: job.model,
      size: job.size,
      requestId: job.requestId,
      createdAt: job.createdAt,
      quality: job.quality,
      format: job.format,
      prompt: job.prompt,
      providerPrompt: job.providerPrompt,
      webhook: job.webhook,
      webhookState: job.webhookState,
      // A job created already running (an inline run) carries its claim and lease from the start.
      claim: job.claim,
      leaseUntil: job.leaseUntil,
      startedAt: job.startedAt,
      reservation: job.reservation && JSON.stringify(job.reservation),
      estimateMicroUsd: job.estimateMicroUsd,
      previews: job.previews,
      options: job.options && JSON.stringify(job.options),
      inputs: job.inputs && JSON.stringify(job.inputs),
      previewImages: job.previewImages?.length ? job.previewImages.map((preview) => JSON.stringify(preview)) : undefined,
    },
    { removeUndefinedValues: true },
  );
}

/**
 * What an item must hold to be read as a job: the owner index's projection (keys, status, model, times), and for a
 * whole item also who asked and for what. Checked on every read, so a corrupt or foreign item is an error (500,
 * logged with its id), never a plausible job filled with defaults.
 */
const JOB_FIELDS = {
  pk: v.pipe(v.string(), v.regex(/^image#[A-Za-z0-9_-]{22}$/)),
  status: v.picklist(['queued', 'running', 'succeeded', 'failed', 'deleted']),
  model: v.pipe(v.string(), v.minLength(1)),
  createdAt: v.number(),
};
const owner = v.pipe(v.string(), v.minLength(1));
const INDEXED_ITEM = v.looseObject({ ...JOB_FIELDS, owner });
const FULL_ITEM = v.looseObject({
  ...JOB_FIELDS,
  // A deleted job leaves the owner index: its owner is removed (markDeleted).
  owner: v.optional(owner),
  principalId: v.pipe(v.string(), v.minLength(1)),
  principalKind: v.picklist(['api-key', 'jwt']),
  size: v.pipe(v.string(), v.minLength(1)),
  requestId: v.string(),
});

/** A job item read with util-dynamodb's unmarshall, once it holds what `schema` requires. */
function checked(item: Item, schema: typeof INDEXED_ITEM | typeof FULL_ITEM): JobRecord {
  const parsed = v.safeParse(schema, unmarshall(item));
  if (!parsed.success) {
    const issue = parsed.issues[0];
    throw new AppError('internal_error', 'An image record in the state table is not readable.', {
      details: { id: item['pk']?.S ?? 'unknown', field: v.getDotPath(issue) ?? 'item', problem: issue.message },
    });
  }
  return parsed.output;
}

type JobRecord = v.InferOutput<typeof INDEXED_ITEM> | v.InferOutput<typeof FULL_ITEM>;

const str = (record: JobRecord, name: string): string | undefined => {
  const value = record[name];
  return typeof value === 'string' ? value : undefined;
};
const num = (record: JobRecord, name: string): number | undefined => {
  const value = record[name];
  return typeof value === 'number' ? value : undefined;
};
const json = <T>(record: JobRecord, name: string): T | undefined => {
  const raw = str(record, name);
  return raw === undefined ? undefined : (JSON.parse(raw) as T);
};

/**
 * The job a checked record holds. Its keys, status, model and creation time are there (checked); the owner index
 * projects no principal, size or request id, so a listed job has them empty.
 */
function fromItem(record: JobRecord): ImageJob {
  const previewImages = record['previewImages'];
  return {
    id: record.pk.replace(/^image#/, ''),
    owner: record.owner ?? '',
    principalId: str(record, 'principalId') ?? '',
    principalKind: str(record, 'principalKind') === 'jwt' ? 'jwt' : 'api-key',
    status: record.status,
    model: record.model,
    size: str(record, 'size') ?? '',
    quality: str(record, 'quality'),
    format: str(record, 'format') as ImageJob['format'],
    prompt: str(record, 'prompt'),
    providerPrompt: str(record, 'providerPrompt'),
    requestId: str(record, 'requestId') ?? '',
    webhook: str(record, 'webhook'),
    webhookState: str(record, 'webhookState') as ImageJob['webhookState'],
    reservation: json(record, 'reservation'),
    estimateMicroUsd: num(record, 'estimateMicroUsd'),
    previews: num(record, 'previews'),
    options: json(record, 'options'),
    inputs: json(record, 'inputs'),
    previewImages: Array.isArray(previewImages)
      ? previewImages.flatMap((entry: unknown) => (typeof entry === 'string' ? [JSON.parse(entry) as StoredPreview] : []))
      : undefined,
    createdAt: record.createdAt,
    startedAt: num(record, 'startedAt'),
    completedAt: num(record, 'completedAt'),
    claim: str(record, 'claim'),
    leaseUntil: num(record, 'leaseUntil'),
    result: json(record, 'result'),
    error: json(record, 'error'),
  };
}
