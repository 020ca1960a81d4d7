import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { AppError, isAppError } from '../errors.js';
import type { IdempotencyGuard, Log } from '../ports.js';

interface IdempotentCall {
  /** Hashed into the record key: the same Idempotency-Key from two callers never collides. */
  scope: { principal: string; key: string };
  /** Hashed and compared on a repeat: same key, different body -> 422. */
  payload: object;
  work: () => Promise<object>;
  /** Set when `work` actually runs, so a stored (replayed) answer can be told apart. */
  executed: boolean;
  /** What `work` returned, once it has. */
  value?: object;
}

/**
 * `Idempotency-Key` semantics (Stripe, IETF draft) on Powertools' idempotency utility with DynamoDB: the first
 * request with a key stores its successful answer for the TTL; repeats get that answer without running anything.
 * Failures store nothing (Powertools deletes the in-progress record), so a failed request can be retried.
 */
export class PowertoolsIdempotencyGuard implements IdempotencyGuard {
  private readonly config: IdempotencyConfig;
  private readonly idempotent: (call: IdempotentCall) => Promise<object>;

  constructor(
    dynamo: DynamoDBClient,
    options: { table: string; ttlSeconds: number },
    private readonly log?: Log,
  ) {
    const persistenceStore = new DynamoDBPersistenceLayer({
      tableName: options.table,
      keyAttr: 'pk',
      // The same TTL attribute as the quota counters: one TTL setting on the table expires both.
      expiryAttr: 'expiresAt',
      awsSdkV3Client: dynamo,
    });
    this.config = new IdempotencyConfig({
      eventKeyJmesPath: 'scope',
      payloadValidationJmesPath: 'payload',
      expiresAfterSeconds: options.ttlSeconds,
      throwOnNoIdempotencyKey: true,
    });
    this.idempotent = makeIdempotent(
      async (call: IdempotentCall) => {
        call.executed = true;
        call.value = await call.work();
        return call.value;
      },
      { persistenceStore, config: this.config },
    ) as (call: IdempotentCall) => Promise<object>;
  }

  async run<T extends object>(
    scope: { principal: string; key: string },
    payload: object,
    deadline: number,
    work: () => Promise<T>,
  ): Promise<{ value: T; replayed: boolean }> {
    // The in-progress lock expires with the request's own deadline, so a crashed attempt never blocks the key
    // for the whole TTL. Powertools reads only getRemainingTimeInMillis from the context.
    this.config.registerLambdaContext({ getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) } as Context);
    const call: IdempotentCall = { scope, payload, work, executed: false };
    try {
      const value = (await this.idempotent(call)) as T;
      return { value, replayed: !call.executed };
    } catch (error) {
      if (call.value !== undefined) {
        // The work is done (an image stored, a job created, the quota used): the caller gets its answer. Only the
        // record of it is missing, so a retry with this key would start anew; say so in the log.
        this.log?.error('idempotency record could not be saved after the work succeeded', {
          idempotencyError: error instanceof Error ? error.name : 'unknown',
        });
        return { value: call.value as T, replayed: false };
      }
      if (isAppError(error)) throw error;
      if (error instanceof IdempotencyValidationError) {
        throw new AppError(
          'idempotency_key_reused',
          'This Idempotency-Key was already used with a different request body. Use a new key for a new request.',
          { cause: error },
        );
      }
      if (error instanceof IdempotencyAlreadyInProgressError) {
        throw new AppError('request_in_progress', 'A request with this Idempotency-Key is still being processed. Retry shortly.', {
          cause: error,
          headers: { 'Retry-After': '2' },
        });
      }
      if (call.executed) throw error; // the work itself failed with something unexpected
      throw new AppError('state_unavailable', 'The idempotency store is unavailable. Retry later.', {
        cause: error,
        details: { idempotencyError: error instanceof Error ? error.name : 'unknown' },
      });
    }
  }
}
