import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { errorName } from '../../errors.js';

/**
 * A bound on each DynamoDB call, the SDK's retries included: state checks must never eat the provider's time.
 * Passed as the send's abort signal, so it covers the whole call, where the request handler's timeouts cover one
 * attempt.
 */
const DYNAMODB_CALL_TIMEOUT_MS = 3_000;

export const boundedCall = (): { abortSignal: AbortSignal } => ({ abortSignal: AbortSignal.timeout(DYNAMODB_CALL_TIMEOUT_MS) });

/** A conditional write whose condition did not hold: an answer, never retried. */
export const isConditionFailed = (error: unknown): error is ConditionalCheckFailedException =>
  error instanceof ConditionalCheckFailedException || errorName(error) === 'ConditionalCheckFailedException';
