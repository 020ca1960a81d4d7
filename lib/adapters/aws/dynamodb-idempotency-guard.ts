import { createHash } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { AppError, errorName, isAppError } from '../../errors.js';
import type { IdempotencyGuard, Log } from '../../ports.js';
import { isConditionFailed, type DynamoDbApi } from './dynamodb-api.js';

/**
 * `Idempotency-Key` semantics (Stripe, IETF draft) in the state table: the first request with a key stores its
 * successful answer for the TTL; repeats get that answer without running anything; a repeat with another body is
 * 422; a repeat while the first still runs is 409. A failed request deletes its record, so it can be retried.
 *
 * Why not Powertools' idempotency utility, which this replaced: with its JMESPath engine it was about 48 KB of the
 * bundle every cold start compiles, the second largest share after the DynamoDB client (hardening issue, README
 * "Performance"), for three DynamoDB calls. The records keep Powertools' format exactly (key
 * `<function name>#<md5 of the sorted scope>`, `status` INPROGRESS/COMPLETED, `in_progress_expiration` in ms,
 * `validation` md5 of the sorted payload, `data`, and the same conditional put), so keys that are live while a
 * deployment switches from one to the other keep working both ways; tests/integration/idempotency-records.test.ts
 * checks that against Powertools itself.
 */
export class DynamoDbIdempotencyGuard implements IdempotencyGuard {
  constructor(
    private readonly dynamo: DynamoDbApi,
    private readonly options: {
      table: string;
      ttlSeconds: number;
      /** Powertools' key prefix: the function's name (AWS_LAMBDA_FUNCTION_NAME), empty outside Lambda. */
      keyPrefix: string;
    },
    private readonly log?: Log,
  ) {}

  async run<T extends object>(
    scope: { principal: string; key: string },
    payload: object,
    deadline: number,
    work: () => Promise<T>,
  ): Promise<{ value: T; replayed: boolean }> {
    const key = { pk: { S: `${this.options.keyPrefix}#${md5(scope)}` } };
    const validation = md5(payload);
    const now = Date.now();
    const expiresAt = Math.round(now / 1000 + this.options.ttlSeconds);
    try {
      await this.dynamo.call('PutItem', {
        TableName: this.options.table,
        Item: {
          ...key,
          expiresAt: { N: String(expiresAt) },
          status: { S: 'INPROGRESS' },
          // The in-progress lock ends with the request's own deadline: a crashed attempt never blocks the key for
          // the whole TTL.
          in_progress_expiration: { N: String(deadline) },
          validation: { S: validation },
        },
        ConditionExpression:
          'attribute_not_exists(#id) OR #expiry < :now OR ' +
          '(#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)',
        ExpressionAttributeNames: { '#id': 'pk', '#expiry': 'expiresAt', '#in_progress_expiry': 'in_progress_expiration', '#status': 'status' },
        ExpressionAttributeValues: { ':now': { N: String(now / 1000) }, ':now_in_millis': { N: String(now) }, ':inprogress': { S: 'INPROGRESS' } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    } catch (error) {
      if (!isConditionFailed(error)) throw unavailable(error);
      const existing =
        error.item ??
        (await this.dynamo.call('GetItem', { TableName: this.options.table, Key: key, ConsistentRead: true }).catch((cause: unknown) => {
          throw unavailable(cause);
        })).Item;
      // Gone between the two calls (deleted by a failed first attempt): the caller may simply retry.
      if (!existing) throw inProgress();
      if (existing['validation']?.S !== validation) {
        throw new AppError(
          'idempotency_key_reused',
          'This Idempotency-Key was already used with a different request body. Use a new key for a new request.',
        );
      }
      if (existing['status']?.S !== 'COMPLETED' || existing['data'] === undefined) throw inProgress();
      return { value: fromAttribute(existing['data']) as T, replayed: true };
    }

    let value: T;
    try {
      value = await work();
    } catch (error) {
      await this.dynamo.call('DeleteItem', { TableName: this.options.table, Key: key }).catch((cause: unknown) => {
        // The caller's error matters more; the lock ends with this request's deadline anyway.
        this.log?.error('idempotency record could not be deleted after the work failed', { idempotencyError: errorName(cause) });
      });
      throw error;
    }
    try {
      await this.dynamo.call('UpdateItem', {
        TableName: this.options.table,
        Key: key,
        UpdateExpression: 'SET #expiry = :expiry, #status = :status, #response_data = :response_data, #validation_key = :validation_key',
        ExpressionAttributeNames: { '#expiry': 'expiresAt', '#status': 'status', '#response_data': 'data', '#validation_key': 'validation' },
        ExpressionAttributeValues: {
          ':expiry': { N: String(Math.round(Date.now() / 1000 + this.options.ttlSeconds)) },
          ':status': { S: 'COMPLETED' },
          ':response_data': toAttribute(value),
          ':validation_key': { S: validation },
        },
      });
    } catch (error) {
      // The work is done (an image stored, a job created, the quota used): the caller gets its answer. Only the
      // record of it is missing, so a retry with this key would start anew; say so in the log.
      this.log?.error('idempotency record could not be saved after the work succeeded', { idempotencyError: errorName(error) });
    }
    return { value, replayed: false };
  }
}

const inProgress = (): AppError =>
  new AppError('request_in_progress', 'A request with this Idempotency-Key is still being processed. Retry shortly.', {
    headers: { 'Retry-After': '2' },
  });

const unavailable = (cause: unknown): AppError =>
  isAppError(cause)
    ? cause
    : new AppError('state_unavailable', 'The idempotency store is unavailable. Retry later.', {
        cause,
        details: { idempotencyError: errorName(cause) },
      });

/** Powertools' hash: md5, base64, of the JSON of the value with object keys sorted case-insensitively. */
const md5 = (value: unknown): string => createHash('md5').update(JSON.stringify(deepSort(value))).digest('base64');

function deepSort(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepSort);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  const entries = Object.entries(value as Record<string, unknown>);
  entries.sort(([a], [b]) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
  for (const [name, inner] of entries) sorted[name] = deepSort(inner);
  return sorted;
}

/** A JSON value as a DynamoDB attribute (what util-dynamodb's marshall makes of it; the stored answer is small). */
function toAttribute(value: unknown): AttributeValue {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttribute) };
  const map: Record<string, AttributeValue> = {};
  for (const [name, inner] of Object.entries(value as Record<string, unknown>)) if (inner !== undefined) map[name] = toAttribute(inner);
  return { M: map };
}

function fromAttribute(attribute: AttributeValue): unknown {
  if (attribute.S !== undefined) return attribute.S;
  if (attribute.N !== undefined) return Number(attribute.N);
  if (attribute.BOOL !== undefined) return attribute.BOOL;
  if (attribute.L !== undefined) return attribute.L.map(fromAttribute);
  if (attribute.M !== undefined) {
    const object: Record<string, unknown> = {};
    for (const [name, inner] of Object.entries(attribute.M)) object[name] = fromAttribute(inner);
    return object;
  }
  return null;
}
