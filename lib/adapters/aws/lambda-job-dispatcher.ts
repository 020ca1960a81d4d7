import { AppError } from '../../errors.js';
import type { JobDispatcher } from '../../ports.js';
import { signedAwsRequest } from './aws-signed-request.js';

/** A bound on the enqueue call: Lambda answers an async invoke in milliseconds once it has queued the event. */
const INVOKE_TIMEOUT_MS = 5_000;

/**
 * Starts the worker with Lambda's asynchronous invocation (`Invoke` with `X-Amz-Invocation-Type: Event`): Lambda
 * queues the event, runs the worker with its own (long) timeout, retries it after a crash, and sends it to the
 * on-failure destination when retries are spent (serverless.yml). Locally, serverless-offline's invoke port does
 * the same. The event carries only the job id: the job itself is in DynamoDB. One signed request instead of the
 * Lambda SDK client: see aws-signed-request.ts.
 */
export class LambdaJobDispatcher implements JobDispatcher {
  readonly background = true;
  private readonly endpoint: string;

  constructor(
    private readonly functionName: string,
    private readonly region: string,
    endpoint?: string,
  ) {
    this.endpoint = endpoint ?? `https://lambda.${region}.amazonaws.com`;
  }

  async dispatch(id: string): Promise<void> {
    let status: number | undefined;
    try {
      ({ status } = await signedAwsRequest({
        service: 'lambda',
        region: this.region,
        endpoint: this.endpoint,
        method: 'POST',
        path: `/2015-03-31/functions/${encodeURIComponent(this.functionName)}/invocations`,
        headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'Event' },
        body: JSON.stringify({ id }),
        timeoutMs: INVOKE_TIMEOUT_MS,
      }));
    } catch (error) {
      throw unavailable(error, undefined);
    }
    // 202 Accepted: the event is queued.
    if (status !== 202) throw unavailable(undefined, status);
  }
}

const unavailable = (cause: unknown, status: number | undefined): AppError =>
  new AppError('queue_unavailable', 'The image could not be queued for generation. Retry later.', {
    cause,
    details: { lambdaStatus: status, lambdaError: cause instanceof Error ? cause.name : undefined },
  });
