import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { httpExchange } from '../../../lib/adapters/http-exchange.js';
import { openAIApi, OpenAIApiError } from '../../../lib/adapters/providers/openai/openai-api.js';
import { ssmSecrets } from '../../../lib/adapters/aws/ssm-secret.js';

/**
 * The production path is HTTPS (OpenAI, AWS, the JWT issuer); the other suites use plain HTTP on loopback. Here a
 * TLS server with a certificate made for the test (openssl), trusted by adding it to Node's default CA set, and
 * one with a certificate nobody trusts.
 */
const dir = mkdtempSync(join(tmpdir(), 'dia-tls-'));
const certificate = (name: string): { key: Buffer; cert: Buffer } => {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`),
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, `${name}.key`)), cert: readFileSync(join(dir, `${name}.crt`)) };
};

const trusted = certificate('trusted');
const untrusted = certificate('untrusted');
const defaultCAs = tls.getCACertificates('default');
let connections = 0;
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
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ Parameter: { Value: signed ? `read ${body}` : 'unsigned' } }));
        return;
      }
      if (req.url === '/v1/fail') {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' }).end('{"error":{"code":"rate_limit_exceeded","message":"slow down"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, auth: req.headers['authorization'] ?? null, body }));
    });
  });
  server.on('secureConnection', () => (connections += 1));
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

const post = (url: string) =>
  httpExchange({ url: new URL(url), method: 'POST', headers: {}, body: Buffer.from('{"x":1}'), signal: AbortSignal.timeout(5_000), maxBytes: () => 10_000 });

describe('over HTTPS', () => {
  it('exchanges over TLS and keeps the connection for the next call', async () => {
    const before = connections;
    const first = await post(`${base}/one`);
    const second = await post(`${base}/two`);
    expect(JSON.parse(first.body.toString())).toMatchObject({ path: '/one', body: '{"x":1}' });
    expect(JSON.parse(second.body.toString())).toMatchObject({ path: '/two' });
    expect(connections - before).toBe(1);
  });

  it('refuses a server whose certificate is not trusted (verification stays on)', async () => {
    await expect(post(`${strangerBase}/x`)).rejects.toMatchObject({ code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/) });
  });

  it('carries the OpenAI API calls: the Bearer key, the JSON body, an error answer with its Retry-After', async () => {
    const api = openAIApi({ baseURL: `${base}/v1`, apiKey: async () => 'sk-tls', maxOkBytes: () => 10_000, maxErrorBytes: 10_000 });
    const answer = JSON.parse((await api('/images/generations', { prompt: 'p' }, 5_000)).toString());
    expect(answer).toMatchObject({ path: '/v1/images/generations', auth: 'Bearer sk-tls', body: '{"prompt":"p"}' });
    const error = await api('/fail', {}, 5_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAIApiError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded', retryAfterMs: 7_000 });
  });

  it('carries the AWS SDK clients (an SSM read, signed)', async () => {
    process.env['AWS_ACCESS_KEY_ID'] = 'AKID';
    process.env['AWS_SECRET_ACCESS_KEY'] = 'secret';
    expect(await ssmSecrets({ region: 'us-east-1', endpoint: base })('/p')()).toBe('read {"Name":"/p","WithDecryption":true}');
  });
});
