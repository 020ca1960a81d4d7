import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterEach, describe, expect, it } from '@jest/globals';
import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { asyncInvoke, isPublicPath, startPrivateGate, startS3Gate, verifySignature } from '../../scripts/local-gate.mjs';

/** The gates of `npm start` (scripts/local-gate.mjs), against a stand-in for the server behind them. */

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'this-run-secret' };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
};

/** A stand-in for dynalite or serverless-offline's invoke port: records what reached it, answers `reply`. */
async function behind(reply: (req: IncomingMessage) => { status: number; body: string; headers?: Record<string, string> }) {
  const reached: { headers: IncomingMessage['headers']; body: string }[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    reached.push({ headers: req.headers, body });
    const answer = reply(req);
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(answer.body);
  });
  return { port: await listen(server), reached };
}

async function gate(targetPort: number, handle?: Parameters<typeof startPrivateGate>[0]['handle']) {
  const server = await startPrivateGate({ port: 0, targetPort, credentials: CREDENTIALS, ...(handle ? { handle } : {}) });
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

const dynamo = (port: number, secretAccessKey: string) =>
  new DynamoDBClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey },
    maxAttempts: 1,
  });

describe('the private gate (local DynamoDB and Lambda ports)', () => {
  it("passes a call the SDK signed with this run's secret, and refuses the same call signed with another", async () => {
    const target = await behind(() => ({ status: 200, body: '{"TableNames":["local-state"]}' }));
    const port = await gate(target.port);
    const right = dynamo(port, CREDENTIALS.secretAccessKey);
    const wrong = dynamo(port, 'another-secret');
    // Act
    const listed = await right.send(new ListTablesCommand({}));
    const refused = wrong.send(new ListTablesCommand({}));
    // Assess
    expect(listed.TableNames).toEqual(['local-state']);
    await expect(refused).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    expect(target.reached).toHaveLength(1);
    right.destroy();
    wrong.destroy();
  });

  it('refuses a signed request whose body was changed after signing', async () => {
    const target = await behind(() => ({ status: 200, body: '{}' }));
    const port = await gate(target.port);
    const client = dynamo(port, CREDENTIALS.secretAccessKey);
    client.middlewareStack.add(
      (next) => async (args) => {
        // ListTables({}) sends `{}`; `[]` has its length, so only the signature can tell the two apart.
        (args.request as { body: Uint8Array }).body = Buffer.from('[]');
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'tamperAfterSigning' },
    );
    // Act / Assess
    await expect(client.send(new ListTablesCommand({}))).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    expect(target.reached).toHaveLength(0);
    client.destroy();
  });

  it('refuses anything with an Origin header or a CORS preflight, signed or not', async () => {
    const target = await behind(() => ({ status: 200, body: '{}' }));
    const port = await gate(target.port);
    const page = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: { origin: 'https://page.example', 'content-type': 'text/plain' },
      body: '{}',
    });
    const preflight = await fetch(`http://127.0.0.1:${port}/`, { method: 'OPTIONS', headers: { origin: 'https://page.example' } });
    expect([page.status, preflight.status]).toEqual([403, 403]);
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
    expect(target.reached).toHaveLength(0);
  });

  it('refuses a signature older than the 15 minutes AWS accepts', async () => {
    const client = dynamo(1, CREDENTIALS.secretAccessKey);
    let captured: { headers: Record<string, string>; body: Uint8Array; path: string } | undefined;
    client.middlewareStack.add(
      () => async (args) => {
        captured = args.request as typeof captured;
        throw new Error('captured');
      },
      { step: 'finalizeRequest', priority: 'low', name: 'capture' },
    );
    await expect(client.send(new ListTablesCommand({}))).rejects.toThrow('captured');
    client.destroy();
    const req = { method: 'POST', url: captured?.path ?? '/', headers: captured?.headers ?? {} } as unknown as IncomingMessage;
    // Copied as bytes: the SDK's body adapter warns when it is read as a string (Buffer.from calls valueOf).
    const body = Buffer.from(new Uint8Array(captured?.body ?? new Uint8Array()));
    // Act / Assess
    expect(await verifySignature(req, body, CREDENTIALS)).toBe(true);
    expect(await verifySignature(req, body, CREDENTIALS, Date.now() + 16 * 60_000)).toBe(false);
    expect(await verifySignature(req, body, { ...CREDENTIALS, accessKeyId: 'OTHER' })).toBe(false);
  });
});

describe('asynchronous invocations on the local Lambda port', () => {
  const invokeEvent = async (port: number) => {
    const lambda = new LambdaClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    const answer = await lambda.send(
      new InvokeCommand({ FunctionName: 'worker', InvocationType: 'Event', Payload: Buffer.from('{"id":"x"}') }),
    );
    lambda.destroy();
    return answer;
  };

  it('answers 202 at once, runs the function synchronously behind, and retries a failure after each delay, then drops it', async () => {
    // The function fails every time, as serverless-offline reports an unhandled error.
    const target = await behind(() => ({
      status: 200,
      body: '{"errorMessage":"job busy","errorType":"JobBusyError"}',
      headers: { 'x-amz-function-error': 'Unhandled' },
    }));
    const logged: string[] = [];
    const invoker = asyncInvoke({ targetPort: target.port, retryDelaysMs: [10, 20], log: (line: string) => logged.push(line) });
    closers.push(async () => invoker.stop());
    const port = await gate(target.port, invoker.handle);
    // Act
    const answer = await invokeEvent(port);
    for (let waits = 0; waits < 100 && logged.length < 3; waits += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    // Assess
    expect(answer.StatusCode).toBe(202);
    expect(target.reached).toHaveLength(3);
    expect(target.reached.map((call) => call.headers['x-amz-invocation-type'])).toEqual([
      'RequestResponse',
      'RequestResponse',
      'RequestResponse',
    ]);
    expect(target.reached.every((call) => call.body === '{"id":"x"}')).toBe(true);
    expect(logged[0]).toMatch(/^local Lambda: worker failed; retrying the event in 0 s, as Lambda would: .*JobBusyError/);
    expect(logged[2]).toMatch(/^local Lambda: worker failed on its last attempt; the event is dropped/);
  });

  it('runs a succeeding function once', async () => {
    const target = await behind(() => ({ status: 200, body: '{"id":"x"}' }));
    const invoker = asyncInvoke({ targetPort: target.port, retryDelaysMs: [10], log: () => undefined });
    closers.push(async () => invoker.stop());
    const port = await gate(target.port, invoker.handle);
    expect((await invokeEvent(port)).StatusCode).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(target.reached).toHaveLength(1);
  });
});

describe('the public prefix of local S3', () => {
  it.each([
    ['/local-images/images/2026/11/30/a.png', true],
    ['/local-images/images/..%2Frecords%2Fa.json', false],
    ['/local-images/images/%2e%2e/records/a.json', false],
    ['/local-images/images/./a.png', false],
    ['/local-images/images%5C..%5Crecords/a.json', false],
    ['/local-images/records/a.json', false],
    ['/local-images/images/%E0%A4%A', false],
  ])('%s is public: %s', (path, expected) => {
    expect(isPublicPath(path, 'local-images', 'images/')).toBe(expected);
  });
});

describe('browser-form uploads to local S3 (presigned POST), checked as S3 checks them', () => {
  /** The S3 gate in front of a stand-in for s3rver, and a form signed by the AWS SDK for `key`. */
  async function formGate(now: () => number = Date.now) {
    const target = await behind(() => ({ status: 204, body: '' }));
    const server = await startS3Gate({
      port: 0,
      targetPort: target.port,
      bucket: 'local-images',
      publicPrefix: 'images/',
      credentials: CREDENTIALS,
      now,
    });
    closers.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const port = (server.address() as AddressInfo).port;
    const sign = (secretAccessKey = CREDENTIALS.secretAccessKey, expires = 300) =>
      createPresignedPost(
        new S3Client({
          region: 'us-east-1',
          endpoint: `http://127.0.0.1:${port}`,
          forcePathStyle: true,
          credentials: { accessKeyId: 'S3RVER', secretAccessKey },
        }),
        {
          Bucket: 'local-images',
          Key: 'uploads/abc/upload-1',
          Conditions: [
            ['content-length-range', 1, 1024],
            ['eq', '$Content-Type', 'image/png'],
          ],
          Fields: { 'Content-Type': 'image/png' },
          Expires: expires,
        },
      );
    const send = async (signed: { url: string; fields: Record<string, string> }, change: Record<string, string> = {}, bytes = 100) => {
      const form = new FormData();
      for (const [name, value] of Object.entries({ ...signed.fields, ...change })) form.append(name, value);
      form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'upload.png');
      return (await fetch(signed.url, { method: 'POST', body: form })).status;
    };
    return { target, sign, send };
  }

  it("passes a form signed with this run's secret within its policy, and nothing else", async () => {
    const { target, sign, send } = await formGate();
    const signed = await sign();
    // Act and assess: each departure from the policy is refused, and never reaches s3rver.
    expect(await send(signed, { key: 'uploads/other-caller/upload-1' })).toBe(403);
    expect(await send(signed, { 'Content-Type': 'text/html' })).toBe(403);
    expect(await send(signed, {}, 2048)).toBe(403);
    expect(await send(signed, {}, 0)).toBe(403);
    expect(await send(signed, { acl: 'public-read' })).toBe(403);
    expect(await send(await sign('another-secret'))).toBe(403);
    expect(target.reached).toHaveLength(0);
    expect(await send(signed)).toBe(204);
    expect(target.reached).toHaveLength(1);
  });

  it('refuses a form smuggling fields past the check: a second key after the file, a name twice in another case', async () => {
    const { target, sign } = await formGate();
    const signed = await sign();
    /** A form of `entries` in this order, the file where `file` is named. */
    const raw = async (entries: [string, string | 'FILE'][]) => {
      const form = new FormData();
      for (const [name, value] of entries) {
        if (value === 'FILE') form.append(name, new Blob([new Uint8Array(100)], { type: 'image/png' }), 'upload.png');
        else form.append(name, value);
      }
      return (await fetch(signed.url, { method: 'POST', body: form })).status;
    };
    const fields = Object.entries(signed.fields) as [string, string][];
    const withoutContentType = fields.filter(([name]) => name !== 'Content-Type');
    // Act, Assess: the red team's request (a Content-Type before, another key after the file), and its variants.
    expect(await raw([...withoutContentType, ['Content-Type', 'text/html'], ['content-type', 'image/png'], ['file', 'FILE']])).toBe(403);
    expect(await raw([...fields, ['file', 'FILE'], ['key', 'images/2026/12/07/victim.png']])).toBe(403);
    expect(await raw([...fields, ['KEY', 'uploads/abc/upload-1'], ['file', 'FILE']])).toBe(403);
    expect(await raw([...fields, ['file', 'FILE'], ['file', 'FILE']])).toBe(403);
    expect(target.reached).toHaveLength(0);
    expect(await raw([...fields, ['file', 'FILE']])).toBe(204);
    expect(target.reached).toHaveLength(1);
    // What s3rver reads is the form rebuilt from the checked entries: one key, the signed one, then the file.
    const stored = target.reached[0]?.body ?? '';
    expect(stored.match(/name="key"/g)).toHaveLength(1);
    expect(stored).toContain('uploads/abc/upload-1');
    expect(stored.lastIndexOf('name="file"')).toBeGreaterThan(stored.lastIndexOf('name="key"'));
  });

  it('refuses a form whose policy has expired', async () => {
    // Prepare: the gate's clock, moved past the policy's 60 s instead of waiting for it.
    let clock = Date.now();
    const { target, sign, send } = await formGate(() => clock);
    const signed = await sign(CREDENTIALS.secretAccessKey, 60);
    expect(await send(signed)).toBe(204);
    // Act
    clock += 61_000;
    // Assess
    expect(await send(signed)).toBe(403);
    expect(target.reached).toHaveLength(1);
  });
});
