import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { AppError } from '../errors.js';
import type { JobDispatcher } from '../ports.js';

/** A bound on the enqueue call: Lambda answers an async invoke in milliseconds once it has queued the event. */
const INVOKE_TIMEOUT_MS = 5_000;

/**
 * Starts the worker with Lambda's asynchronous invocation (`InvocationType: 'Event'`): Lambda queues the event,
 * runs the worker with its own (long) timeout, retries it after a crash, and sends it to the on-failure
 * destination when retries are spent (serverless.yml). Locally, serverless-offline's invoke port does the same.
 * The event carries only the job id: the job itself is in DynamoDB.
 */
export class LambdaJobDispatcher implements JobDispatcher {
  readonly background = true;

  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionName: string,
  ) {}

  async dispatch(id: string): Promise<void> {
    try {
      const answer = await this.lambda.send(
        new InvokeCommand({
          FunctionName: this.functionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify({ id }), 'utf8'),
        }),
        { abortSignal: AbortSignal.timeout(INVOKE_TIMEOUT_MS) },
      );
      if (answer.StatusCode !== 202) throw new Error(`async invoke answered ${answer.StatusCode ?? 'nothing'}`);
    } catch (error) {
      throw new AppError('queue_unavailable', 'The image could not be queued for generation. Retry later.', {
        cause: error,
        details: { lambdaError: error instanceof Error ? error.name : 'unknown' },
      });
    }
  }
}
