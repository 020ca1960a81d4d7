import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { CloudFrontInvalidator } from '../../../lib/adapters/aws/cloudfront-invalidator.js';
import { LambdaJobDispatcher } from '../../../lib/adapters/aws/lambda-job-dispatcher.js';
import { SecretUnavailableError, ssmSecrets } from '../../../lib/adapters/aws/ssm-secret.js';
import { AppError } from '../../../lib/errors.js';
import { verifySigV4 } from '../../support/sigv4.js';
import { AwsStandIn, closedEndpoint, type RecordedRequest, type StandInReply } from '../../support/aws-stand-in.js';

const KEY_ID = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

type Received = RecordedRequest;

let aws: AwsStandIn;
let endpoint: string;
let received: Received[];
/** What the stand-in answers every request with. */
const answer = (reply: StandInReply): void => {
  aws.fallback = { ...reply, contentType: 'application/xml' };
};

beforeAll(async () => {
  process.env['AWS_ACCESS_KEY_ID'] = KEY_ID;
  process.env['AWS_SECRET_ACCESS_KEY'] = SECRET;
  aws = await AwsStandIn.start({ status: 202, body: '', contentType: 'application/xml' });
  ({ endpoint, received } = aws);
});

afterAll(async () => {
  await aws.close();
});

beforeEach(() => {
  aws.reset();
});

const verify = (request: Received) => verifySigV4({ ...request, accessKeyId: KEY_ID, secretAccessKey: SECRET });

describe('LambdaJobDispatcher', () => {
  it('sends a signed asynchronous Invoke of the worker with only the job id, through the SDK', async () => {
    answer({ status: 202, body: '' });
    await new LambdaJobDispatcher('durable-image-api-dev-runImageJob', 'eu-west-1', endpoint).dispatch('AAAAAAAAAAAAAAAAAAAAAA');
    const [request] = received;
    expect(request).toMatchObject({ method: 'POST', path: '/2015-03-31/functions/durable-image-api-dev-runImageJob/invocations' });
    expect(request?.headers['x-amz-invocation-type']).toBe('Event');
    expect(request?.headers['user-agent']).toMatch(/aws-sdk-js/);
    expect(JSON.parse(request?.body ?? '')).toEqual({ id: 'AAAAAAAAAAAAAAAAAAAAAA' });
    expect(verify(request as Received)).toEqual({ service: 'lambda', region: 'eu-west-1' });
  });

  it('detects a tampered request (the check can fail)', async () => {
    answer({ status: 202, body: '' });
    await new LambdaJobDispatcher('worker', 'us-east-1', endpoint).dispatch('AAAAAAAAAAAAAAAAAAAAAA');
    const request = received[0] as Received;
    expect(() => verify({ ...request, body: request.body.replace('AAAA', 'BBBB') })).toThrow('signature');
  });

  it.each([
    ['Lambda refuses', 403, 1],
    ['Lambda stays throttled', 429, 3],
    ['Lambda keeps failing', 500, 3],
    ['a synchronous answer instead of queued', 200, 1],
  ])('answers queue_unavailable when %s (status %i), after %i attempt(s)', async (_, status, attempts) => {
    answer({ status, body: '{}' });
    const error = await new LambdaJobDispatcher('worker', 'us-east-1', endpoint)
      .dispatch('AAAAAAAAAAAAAAAAAAAAAA')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('queue_unavailable');
    expect(received).toHaveLength(attempts);
  });

  it('retries a reset connection and a throttled answer, as the SDK would (the worker runs a job once whatever the deliveries)', async () => {
    aws.enqueue({ status: 0, body: '', reset: true }, { status: 429, body: '{}' });
    answer({ status: 202, body: '' });
    await new LambdaJobDispatcher('worker', 'us-east-1', endpoint).dispatch('AAAAAAAAAAAAAAAAAAAAAA');
    expect(received).toHaveLength(3);
    for (const request of received) expect(verify(request)).toEqual({ service: 'lambda', region: 'us-east-1' });
  });

  it('answers queue_unavailable when Lambda cannot be reached', async () => {
    const error = await new LambdaJobDispatcher('worker', 'us-east-1', await closedEndpoint())
      .dispatch('AAAAAAAAAAAAAAAAAAAAAA')
      .catch((e: unknown) => e);
    expect((error as AppError).code).toBe('queue_unavailable');
  });
});

describe('CloudFrontInvalidator', () => {
  it('sends a signed CreateInvalidation for the image paths', async () => {
    answer({ status: 201, body: '<Invalidation><Id>I1</Id></Invalidation>' });
    await new CloudFrontInvalidator('E2QWRUHAPOMQZL', endpoint).invalidate(['images/2026/11/25/abc_-1.png']);
    const request = received[0] as Received;
    expect(request).toMatchObject({ method: 'POST', path: '/2020-05-31/distribution/E2QWRUHAPOMQZL/invalidation' });
    expect(request.body).toContain('<Quantity>1</Quantity><Items><Path>/images/2026/11/25/abc_-1.png</Path></Items>');
    expect(request.body).toMatch(/<CallerReference>[0-9a-f-]{36}<\/CallerReference>/);
    expect(verify(request)).toEqual({ service: 'cloudfront', region: 'us-east-1' });
  });

  it('throws with the error code when CloudFront refuses', async () => {
    answer({
      status: 403,
      body: '<ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>denied</Message></Error><RequestId>r1</RequestId></ErrorResponse>',
    });
    await expect(new CloudFrontInvalidator('E2QWRUHAPOMQZL', endpoint).invalidate(['images/a.png'])).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    expect(received).toHaveLength(1);
  });
});

describe('ssmSecrets (Powertools parameters)', () => {
  const ssmAnswer = (value: string) => ({
    status: 200,
    body: JSON.stringify({ Parameter: { Name: '/dia/dev/openai-api-key', Type: 'SecureString', Value: value } }),
  });
  const secretAt = (name: string, region = 'us-east-1') => ssmSecrets({ region, endpoint })(name);

  afterEach(() => {
    jest.useRealTimers();
  });

  it('reads the parameter with one signed GetParameter (decrypted), then serves it from memory for 15 minutes', async () => {
    // Only the clock is faked: the HTTP exchange needs real timers.
    jest.useFakeTimers({
      doNotFake: [
        'nextTick',
        'setImmediate',
        'clearImmediate',
        'setTimeout',
        'clearTimeout',
        'setInterval',
        'clearInterval',
        'queueMicrotask',
        'hrtime',
        'performance',
      ],
      now: 1_000_000,
    });
    answer(ssmAnswer('sk-from-ssm'));
    const secret = secretAt('/dia/dev/openai-api-key', 'eu-west-1');
    expect(received).toHaveLength(0); // nothing is read before it is needed
    const [first, second] = await Promise.all([secret(), secret()]);
    expect([first, second]).toEqual(['sk-from-ssm', 'sk-from-ssm']);
    expect(received).toHaveLength(1); // concurrent first uses share one call
    const request = received[0] as Received;
    expect(request.headers['x-amz-target']).toBe('AmazonSSM.GetParameter');
    expect(JSON.parse(request.body)).toEqual({ Name: '/dia/dev/openai-api-key', WithDecryption: true });
    expect(verify(request)).toEqual({ service: 'ssm', region: 'eu-west-1' });
    jest.setSystemTime(1_000_000 + 14 * 60_000);
    await secret();
    expect(received).toHaveLength(1);
    jest.setSystemTime(1_000_000 + 16 * 60_000);
    answer(ssmAnswer('sk-rotated'));
    expect(await secret()).toBe('sk-rotated');
    expect(received).toHaveLength(2);
  });

  it('reads through a reset connection (a stale keep-alive socket after the function was frozen)', async () => {
    aws.enqueue({ status: 0, body: '', reset: true });
    answer(ssmAnswer('sk-after-reset'));
    expect(await secretAt('/dia/dev/openai-api-key')()).toBe('sk-after-reset');
    expect(received).toHaveLength(2);
  });

  it('retries SSM throttling (400 ThrottlingException), so a burst of cold starts still reads the key', async () => {
    aws.enqueue({ status: 400, body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }) });
    answer(ssmAnswer('sk-after-throttling'));
    expect(await secretAt('/dia/dev/openai-api-key')()).toBe('sk-after-throttling');
    expect(received).toHaveLength(2);
  });

  it('throws SecretUnavailableError naming the AWS error, never a value', async () => {
    answer({ status: 400, body: JSON.stringify({ __type: 'ParameterNotFound', message: 'not found' }) });
    const error = await secretAt('/dia/dev/missing')().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect(error).toMatchObject({ ssmStatus: 400, ssmError: 'ParameterNotFound' });
    expect(received).toHaveLength(1);
  });

  it('gives up within its bound when SSM does not answer', async () => {
    answer({ status: 200, body: '{}', delayMs: 4_000 });
    const error = await secretAt('/dia/dev/slow')().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretUnavailableError);
  });
});
