import { GetItemCommand, PutItemCommand, ScanCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import * as v from 'valibot';
import { boundedCall, isConditionFailed } from './dynamodb.js';
import { AppError } from '../../errors.js';
import type { ApiKeyRecord } from '../../domain/api-keys.js';
import type { ApiKeyChange, ApiKeyStore } from '../../ports.js';

const KEY_PK = 'apikey#';

/** A key's item as read back: checked, so a corrupt item is an error, never a key that lets someone in. */
const KEY_ITEM = v.object({
  pk: v.string(),
  hash: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  prefix: v.string(),
  name: v.string(),
  webhookSecret: v.optional(v.pipe(v.string(), v.startsWith('whsec_'))),
  state: v.picklist(['active', 'revoked']),
  createdAt: v.number(),
  expiresAt: v.optional(v.number()),
  revokedAt: v.optional(v.number()),
  allowedModels: v.optional(v.array(v.string())),
  dailyImages: v.optional(v.number()),
  dailySpendMicroUsd: v.optional(v.number()),
});

function recordOf(item: Record<string, unknown>): ApiKeyRecord {
  const parsed = v.safeParse(KEY_ITEM, item);
  if (!parsed.success)
    throw new AppError('state_unavailable', 'An API key record is malformed.', { details: { reason: 'corrupt key item' } });
  const { pk: _pk, ...record } = parsed.output;
  return record;
}

/**
 * Issued API keys in the state table, one item per key under its prefix (`apikey#dia_...`, part of the key itself),
 * so that authentication is one strongly consistent GetItem by the prefix of what was presented (its hash then
 * compared), and the worker finds a key's webhook secret by the owner its images carry. Listing is a Scan of the
 * table filtered to keys: an operator's command, never on a request's path.
 */
export class DynamoDbKeyStore implements ApiKeyStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly table: string,
  ) {}

  async get(hash: string): Promise<ApiKeyRecord | undefined> {
    const { Item } = await this.call(() =>
      this.dynamo.send(
        new GetItemCommand({ TableName: this.table, Key: { pk: { S: `${KEY_PK}${hash}` } }, ConsistentRead: true }),
        boundedCall(),
      ),
    );
    return Item ? recordOf(unmarshall(Item)) : undefined;
  }

  async create(record: ApiKeyRecord): Promise<void> {
    await this.call(() =>
      this.dynamo.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ pk: `${KEY_PK}${record.prefix}`, ...record }, { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
        boundedCall(),
      ),
    );
  }

  async list(): Promise<ApiKeyRecord[]> {
    const records: ApiKeyRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.call(() =>
        this.dynamo.send(
          new ScanCommand({
            TableName: this.table,
            FilterExpression: 'begins_with(pk, :keys)',
            ExpressionAttributeValues: { ':keys': { S: KEY_PK } },
            ...(start ? { ExclusiveStartKey: start as never } : {}),
          }),
          boundedCall(),
        ),
      );
      records.push(...(page.Items ?? []).map((item) => recordOf(unmarshall(item))));
      start = page.LastEvaluatedKey;
    } while (start);
    return records.sort((a, b) => b.createdAt - a.createdAt);
  }

  async update(prefix: string, change: ApiKeyChange): Promise<void> {
    const set = Object.entries(change).filter(([, value]) => value !== undefined && value !== null);
    const remove = Object.entries(change).filter(([, value]) => value === null);
    if (set.length === 0 && remove.length === 0) return;
    const names = Object.fromEntries([...set, ...remove].map(([field]) => [`#${field}`, field]));
    const values = Object.fromEntries(set.map(([field, value]) => [`:${field}`, value]));
    const expression = [
      set.length > 0 ? `SET ${set.map(([field]) => `#${field} = :${field}`).join(', ')}` : '',
      remove.length > 0 ? `REMOVE ${remove.map(([field]) => `#${field}`).join(', ')}` : '',
    ].join(' ');
    await this.call(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: { S: `${KEY_PK}${prefix}` } },
          UpdateExpression: expression.trim(),
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ...(set.length > 0 ? { ExpressionAttributeValues: marshall(values) } : {}),
        }),
        boundedCall(),
      ),
    );
  }

  /** One bounded call: a failed condition is `not_found` (or a duplicate), anything else the store being unavailable. */
  private async call<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (isConditionFailed(error)) throw new AppError('not_found', 'No such API key (or one with this prefix exists already).');
      throw new AppError('state_unavailable', 'The key store is unavailable. Retry later.', {
        cause: error,
        details: { dynamoError: error instanceof Error ? error.name : 'unknown' },
      });
    }
  }
}
