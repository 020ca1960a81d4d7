import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DynamoDbError, dynamoDbApi, isConditionFailed } from '../../../lib/adapters/aws/dynamodb-api.js';
import { verifySigV4 } from '../../support/sigv4.js';
import { AwsStandIn, type RecordedRequest } from '../../support/aws-stand-in.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
let dynamo: AwsStandIn;
let endpoint: string;
let received: RecordedRequest[];
/** Queues DynamoDB JSON replies (status, body, delay) for the next requests; `{}` with 200 after them. */
const reply = (...replies: { status: number; body: string; delayMs?: number }[]): void =>
  dynamo.enqueue(...replies.map((r) => ({ ...r, contentType: 'application/x-amz-json-1.0' })));

beforeAll(async () => {
  dynamo = await AwsStandIn.start({ status: 200, body: '{}', contentType: 'application/x-amz-json-1.0' });
  ({ endpoint, received } = dynamo);
});

afterAll(async () => {
  await dynamo.close();
});

beforeEach(() => {
  dynamo.reset();
});

const error = (type: string, extra: object = {}) => JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'm', ...extra });

describe('dynamoDbApi', () => {
  it('sends the JSON protocol, signed for dynamodb, and returns the answer', async () => {
    reply({ status: 200, body: JSON.stringify({ Item: { pk: { S: 'a' } } }) });
    const api = dynamoDbApi({ region: 'eu-west-1', endpoint, credentials });
    const answer = await api.call('GetItem', { TableName: 't', Key: { pk: { S: 'a' } }, ConsistentRead: true });
    expect(answer).toEqual({ Item: { pk: { S: 'a' } } });
    const [request] = received;
    expect(request?.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
    expect(request?.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(JSON.parse(request?.body ?? '')).toEqual({ TableName: 't', Key: { pk: { S: 'a' } }, ConsistentRead: true });
    expect(verifySigV4({ ...(request as RecordedRequest), ...credentials })).toEqual({ service: 'dynamodb', region: 'eu-west-1' });
  });

  it('names a failed condition like the SDK, with the old item, and never retries it', async () => {
    reply({ status: 400, body: error('ConditionalCheckFailedException', { Item: { pk: { S: 'a' } } }) });
    const api = dynamoDbApi({ region: 'us-east-1', endpoint, credentials });
    const failure = await api.call('PutItem', { TableName: 't', Item: { pk: { S: 'a' } } }).catch((e: unknown) => e);
    expect(isConditionFailed(failure)).toBe(true);
    expect((failure as DynamoDbError).item).toEqual({ pk: { S: 'a' } });
    expect(received).toHaveLength(1);
  });

  it('retries throttling and server errors up to three attempts', async () => {
    reply({ status: 400, body: error('ThrottlingException') }, { status: 500, body: error('InternalServerError') }, { status: 200, body: '{}' });
    const api = dynamoDbApi({ region: 'us-east-1', endpoint, credentials, callTimeoutMs: 5_000 });
    await expect(api.call('UpdateItem', { TableName: 't', Key: { pk: { S: 'a' } } })).resolves.toEqual({});
    expect(received).toHaveLength(3);

    received.length = 0;
    reply(...[400, 400, 400, 400].map((status) => ({ status, body: error('ProvisionedThroughputExceededException') })));
    const failure = await api.call('UpdateItem', { TableName: 't', Key: { pk: { S: 'a' } } }).catch((e: unknown) => e);
    expect((failure as Error).name).toBe('ProvisionedThroughputExceededException');
    expect(received).toHaveLength(3);
  });

  it('does not retry a validation error', async () => {
    reply({ status: 400, body: error('ValidationException') });
    const api = dynamoDbApi({ region: 'us-east-1', endpoint, credentials });
    await expect(api.call('Query', { TableName: 't' })).rejects.toMatchObject({ name: 'ValidationException', status: 400 });
    expect(received).toHaveLength(1);
  });

  it('bounds the whole call, retries included', async () => {
    reply({ status: 200, body: '{}', delayMs: 2_000 });
    const api = dynamoDbApi({ region: 'us-east-1', endpoint, credentials, callTimeoutMs: 300 });
    const started = Date.now();
    await expect(api.call('GetItem', { TableName: 't', Key: { pk: { S: 'a' } } })).rejects.toBeDefined();
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('refuses an answer that is not JSON', async () => {
    reply({ status: 200, body: '<html>' });
    const api = dynamoDbApi({ region: 'us-east-1', endpoint, credentials, maxAttempts: 1 });
    await expect(api.call('GetItem', { TableName: 't', Key: { pk: { S: 'a' } } })).rejects.toMatchObject({ name: 'MalformedAnswer' });
  });
});
