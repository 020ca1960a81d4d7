import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { AppError, errorName, isAppError } from '../../errors.js';
import type { IdempotencyGuard, Log } from '../../ports.js';

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
  /** What `work` threw, if it did. */
  failure?: unknown;
}

/**
 * `Idempotency-Key` semantics (Stripe, IETF draft) on Powertools' idempotency utility, its records in the state
 * table: the first request with a key stores its successful answer for the TTL; a repeat gets that answer
 * without running anything (replay), a repeat with another body is 422, a repeat while the first still runs is
 * 409. A failure stores nothing (Powertools deletes the in-progress record), so a failed request can be retried.
 *
 * Two rules are ours, on top of Powertools:
 * - The in-progress lock ends with the request's own deadline (Powertools takes it from the Lambda context's
 *   remaining time, so a context whose remaining time is the request's is registered for each call): a crashed
 *   attempt never blocks its key for the whole TTL.
 * - When the work succeeded but the COMPLETED record could not be written, Powertools throws; the work is done
 *   (an image stored, the quota used), so the caller still gets its answer (201) and the failure is logged.
 */
export class DynamoDbIdempotencyGuard implements IdempotencyGuard {
  private readonly config: IdempotencyConfig;
  private readonly idempotent: (call: IdempotentCall, context: Context) => Promise<object>;

  constructor(
    dynamo: DynamoDBClient,
    options: {
      table: string;
      ttlSeconds: number;
      /** The key prefix: the function's name (AWS_LAMBDA_FUNCTION_NAME), empty outside Lambda. */
      keyPrefix: string;
    },
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
      async (call: IdempotentCall, _context: Context) => {
        call.executed = true;
        try {
          call.value = await call.work();
        } catch (error) {
          call.failure = error;
          throw error;
        }
        return call.value;
      },
      { persistenceStore, config: this.config, ...(options.keyPrefix === '' ? {} : { keyPrefix: options.keyPrefix }) },
    );
  }

  async run<T extends object>(
    scope: { principal: string; key: string },
    payload: object,
    deadline: number,
    work: () => Promise<T>,
  ): Promise<{ value: T; replayed: boolean }> {
    const call: IdempotentCall = { scope, payload, work, executed: false };
    // Powertools reads only getRemainingTimeInMillis from the context it is given with the call.
    const context = { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) } as Context;
    try {
      const value = (await this.idempotent(call, context)) as T;
      return { value, replayed: !call.executed };
    } catch (error) {
      if (call.value !== undefined) {
        // The work is done: only the record of it is missing, so a retry with this key would start anew.
        this.log?.error('idempotency record could not be saved after the work succeeded', { idempotencyError: errorName(error) });
        return { value: call.value as T, replayed: false };
      }
      if (call.failure !== undefined) {
        // Powertools reports a failed delete of the in-progress record instead of the work's own error; the
        // caller's error matters more, and the lock ends with this request's deadline anyway.
        if (error !== call.failure)
          this.log?.error('idempotency record could not be deleted after the work failed', { idempotencyError: errorName(error) });
        throw call.failure;
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
      throw new AppError('state_unavailable', 'The idempotency store is unavailable. Retry later.', {
        cause: error,
        details: { idempotencyError: errorName(error) },
      });
    }
  }
}
