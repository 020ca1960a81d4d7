import type {
  AttributeValue,
  DeleteItemInput,
  DeleteItemOutput,
  GetItemInput,
  GetItemOutput,
  PutItemInput,
  PutItemOutput,
  QueryInput,
  QueryOutput,
  UpdateItemInput,
  UpdateItemOutput,
} from '@aws-sdk/client-dynamodb';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { signedAwsRequest } from './aws-signed-request.js';

/**
 * The five DynamoDB operations the service uses (GetItem, PutItem, UpdateItem, DeleteItem, Query), sent as
 * DynamoDB's JSON protocol (`x-amz-json-1.0`, `X-Amz-Target: DynamoDB_20120810.<Operation>`) and signed with the
 * signer and credential chain the S3 client already brings.
 *
 * Why not `@aws-sdk/client-dynamodb`: it was the largest single share of what the hardening issue's cold-start
 * targets measure. The client and what only it pulls in (endpoint discovery cache, codecs) were about 45 KB of the
 * 1,112 KB bundle, and its first `send` (middleware stack, endpoint rules) cost a fresh process about 15 ms before
 * the first quota write (measured with `npm run bench`, README "Performance"). The request and answer shapes are
 * the SDK's own types (type-only imports, nothing bundled), the attribute values stay DynamoDB JSON, and the
 * adapters' behaviour is tested against dynalite, which speaks the same protocol.
 */
export interface DynamoDbApi {
  call<O extends DynamoDbOperation>(operation: O, input: Operations[O][0]): Promise<Operations[O][1]>;
}

interface Operations {
  GetItem: [GetItemInput, GetItemOutput];
  PutItem: [PutItemInput, PutItemOutput];
  UpdateItem: [UpdateItemInput, UpdateItemOutput];
  DeleteItem: [DeleteItemInput, DeleteItemOutput];
  Query: [QueryInput, QueryOutput];
}
export type DynamoDbOperation = keyof Operations;
export type DynamoDbInput<O extends DynamoDbOperation> = Operations[O][0];
export type DynamoDbOutput<O extends DynamoDbOperation> = Operations[O][1];

/** An error answer of DynamoDB, named like the SDK's exceptions (`ConditionalCheckFailedException`, ...). */
export class DynamoDbError extends Error {
  constructor(
    name: string,
    message: string,
    readonly status: number,
    /** With `ReturnValuesOnConditionCheckFailure: ALL_OLD`: the item that failed the condition. */
    readonly item?: Record<string, AttributeValue>,
  ) {
    super(message);
    this.name = name;
  }
}

export const isConditionFailed = (error: unknown): error is DynamoDbError =>
  error instanceof DynamoDbError && error.name === 'ConditionalCheckFailedException';

export interface DynamoDbApiOptions {
  region: string;
  /** A local endpoint (dynalite); DynamoDB's regional endpoint by default. */
  endpoint?: string | undefined;
  /** A bound on each call, its retries included (default 3 s): state checks must never eat the provider's time. */
  callTimeoutMs?: number;
  /** Fixed credentials (dynalite in tests); the default chain otherwise. */
  credentials?: AwsCredentialIdentity | undefined;
  /** Attempts per call, the SDK's standard mode default. */
  maxAttempts?: number;
}

/** The SDK's retryable answers: throttling and server-side errors. A condition failure is an answer, never retried. */
const RETRYABLE = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionInProgressException',
]);

/** DynamoDB answers at most 1 MB of items per call; its JSON is about as large. */
const MAX_ANSWER_BYTES = 2 * 1024 * 1024;

export function dynamoDbApi(options: DynamoDbApiOptions): DynamoDbApi {
  const endpoint = options.endpoint ?? `https://dynamodb.${options.region}.amazonaws.com`;
  const callTimeoutMs = options.callTimeoutMs ?? 3_000;
  const maxAttempts = options.maxAttempts ?? 3;

  return {
    async call(operation, input) {
      // Each call, retries included, within callTimeoutMs; the SDK's retry rules (signedAwsRequest's loop).
      const answer = await signedAwsRequest({
        service: 'dynamodb',
        region: options.region,
        endpoint,
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${operation}` },
        body: JSON.stringify(input),
        timeoutMs: callTimeoutMs,
        maxAttempts,
        retryable: (candidate) => candidate.status >= 500 || RETRYABLE.has(errorType(candidate)),
        maxResponseBytes: MAX_ANSWER_BYTES,
        credentials: options.credentials,
      });
      let document: { __type?: unknown; message?: unknown; Message?: unknown; Item?: Record<string, AttributeValue> };
      try {
        document = answer.body === '' ? {} : (JSON.parse(answer.body) as typeof document);
      } catch {
        throw new DynamoDbError('MalformedAnswer', `DynamoDB answered ${answer.status} with a body that is not JSON`, answer.status);
      }
      // The caller's input shape is the operation's: the answer is the operation's output.
      if (answer.status === 200) return document as never;
      const message = String(document.message ?? document.Message ?? '');
      throw new DynamoDbError(errorType(answer), message, answer.status, document.Item);
    },
  };
}

/** AWS's error name of an answer (`ThrottlingException`), from its JSON `__type`; `Http<status>` without one. */
function errorType(answer: { status: number; body: string }): string {
  if (answer.status === 200) return '';
  try {
    const type = (JSON.parse(answer.body) as { __type?: unknown }).__type;
    if (typeof type === 'string') return type.replace(/^.*#/, '');
  } catch {
    // not JSON: named by its status
  }
  return `Http${answer.status}`;
}
