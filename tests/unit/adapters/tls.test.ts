import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { APIError } from 'openai';
import { createOpenAIClient, retryAfterMs } from '../../../lib/adapters/providers/openai/openai-client.js';
import { ssmSecrets } from '../../../lib/adapters/aws/ssm-secret.js';

/**
 * The production path is HTTPS (OpenAI, AWS, the JWT issuer); the other suites use plain HTTP on loopback. Here a
 * TLS server with a certificate made for the test (openssl), trusted by adding it to Node's default CA set, and
 * one with a certificate nobody trusts.
 */
const dir = mkdtempSync(join(tmpdir(), 'dia-tls-'));
const certificate = (name: string): { key: Buffer; cert: Buffer } => {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      join(dir, `${name}.crt`),
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(join(dir, `${name}.key`)), cert: readFileSync(join(dir, `${name}.crt`)) };
};

const trusted = certificate('trusted');
const untrusted = certificate('untrusted');
const defaultCAs = tls.getCACertificates('default');
let server: Server;
let stranger: Server;
let base: string;
let strangerBase: string;

const listen = async (s: Server): Promise<string> => {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  return `https://localhost:${(s.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  tls.setDefaultCACertificates([...defaultCAs, trusted.cert.toString()]);
  server = createServer(trusted, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.headers['x-amz-target'] === 'AmazonSSM.GetParameter') {
        const signed = /^AWS4-HMAC-SHA256 Credential=AKID\//.test(String(req.headers['authorization']));
        res
          .writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
          .end(JSON.stringify({ Parameter: { Value: signed ? `read ${body}` : 'unsigned' } }));
        return;
      }
      if (body.includes('"model":"fail"')) {
        res
          .writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' })
          .end('{"error":{"code":"rate_limit_exceeded","message":"slow down"}}');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ path: req.url, auth: req.headers['authorization'] ?? null, userAgent: req.headers['user-agent'] ?? null, body }),
        );
    });
  });
  base = await listen(server);
  stranger = createServer(untrusted, (_, res) => res.end('{}'));
  strangerBase = await listen(stranger);
});

afterAll(async () => {
  tls.setDefaultCACertificates(defaultCAs);
  for (const s of [server, stranger]) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  rmSync(dir, { recursive: true, force: true });
});

const client = (baseURL: string) =>
  createOpenAIClient({ baseURL: `${baseURL}/v1`, apiKey: async () => 'sk-tls', maxOkBytes: () => 10_000, maxErrorBytes: 10_000 });
const moderate = (baseURL: string, model = 'omni-moderation-latest') =>
  client(baseURL).moderations.create({ model, input: 'p' }) as unknown as Promise<Record<string, unknown>>;

describe('over HTTPS', () => {
  it("carries the OpenAI SDK over TLS: the Bearer key, the JSON body, the SDK's own User-Agent", async () => {
    const sdk = client(base);
    const first = (await sdk.moderations.create({ model: 'omni-moderation-latest', input: 'p' })) as unknown as Record<string, unknown>;
    await sdk.moderations.create({ model: 'omni-moderation-latest', input: 'q' });
    expect(first).toMatchObject({ path: '/v1/moderations', auth: 'Bearer sk-tls', body: '{"model":"omni-moderation-latest","input":"p"}' });
    expect(first['userAgent']).toMatch(/^OpenAI\/JS /);
  });

  it('refuses a server whose certificate is not trusted (verification stays on)', async () => {
    const error = await moderate(strangerBase).catch((e: unknown) => e);
    expect((error as { cause?: { code?: unknown } }).cause?.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
  });

  it('reads an error answer with its code and Retry-After', async () => {
    const error = await moderate(base, 'fail').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect(retryAfterMs(error)).toBe(7_000);
  });

  it('carries the AWS SDK clients (an SSM read, signed)', async () => {
    process.env['AWS_ACCESS_KEY_ID'] = 'AKID';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'secret';
    expect(await ssmSecrets({ region: 'us-east-1', endpoint: base })('/p')()).toBe('read {"Name":"/p","WithDecryption":true}');
  });
});
