import type { LambdaClient } from '@aws-sdk/client-lambda';
import { AppError, errorName } from '../../errors.js';
import { lazily } from '../../lazy.js';
import type { JobDispatcher } from '../../ports.js';

/** A bound on the enqueue call, its retries included: Lambda answers an async invoke once it has queued the event. */
const INVOKE_TIMEOUT_MS = 5_000;

/**
 * Starts the worker with Lambda's asynchronous invocation (`InvocationType: 'Event'`): Lambda queues the event,
 * runs the worker with its own (long) timeout, retries it after a crash, and sends it to the on-failure
 * destination when retries are spent (serverless.yml). Locally, serverless-offline's invoke port does the same.
 * The event carries only the job id: the job itself is in DynamoDB. The SDK's standard retries are safe here: a
 * job runs at most once whatever the deliveries. The Lambda client is loaded by the first dispatch.
 */
export class LambdaJobDispatcher implements JobDispatcher {
  readonly background = true;
  private readonly client: () => Promise<{ client: LambdaClient; InvokeCommand: typeof import('./lambda-sdk.js').InvokeCommand }>;

  constructor(
    private readonly functionName: string,
    region: string,
    /** A local endpoint (serverless-offline); otherwise the SDK's own resolution (AWS_ENDPOINT_URL_LAMBDA...). */
    endpoint?: string,
  ) {
    this.client = lazily(async () => {
      const { LambdaClient: Client, InvokeCommand } = await import('./lambda-sdk.js');
      const client = new Client({
        region,
        ...(endpoint === undefined ? {} : { endpoint }),
        requestHandler: { connectionTimeout: 1_000, requestTimeout: INVOKE_TIMEOUT_MS, throwOnRequestTimeout: true },
      });
      return { client, InvokeCommand };
    });
  }

  /** Queues the job; it runs elsewhere, so there is no job to answer with. */
  async dispatch(id: string): Promise<undefined> {
    let status: number | undefined;
    try {
      const { client, InvokeCommand } = await this.client();
      ({ StatusCode: status } = await client.send(
        new InvokeCommand({ FunctionName: this.functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ id })) }),
        { abortSignal: AbortSignal.timeout(INVOKE_TIMEOUT_MS) },
      ));
    } catch (error) {
      throw unavailable(error, (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode);
    }
    // 202 Accepted: the event is queued.
    if (status !== 202) throw unavailable(undefined, status);
    return undefined;
  }
}

const unavailable = (cause: unknown, status: number | undefined): AppError =>
  new AppError('queue_unavailable', 'The image could not be queued for generation. Retry later.', {
    cause,
    details: { lambdaStatus: status, lambdaError: cause === undefined ? undefined : errorName(cause) },
  });
