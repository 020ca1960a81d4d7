import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { connectionReuse, httpExchange, type HttpExchange } from '../../../lib/adapters/http-exchange.js';
import { closedEndpoint } from '../../support/aws-stand-in.js';

/** Answers by path; records how many body bytes each answer actually wrote. */
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/json': (_, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': '7' }).end('{"a":1}'),
  '/chunked': (_, res) => {
    res.writeHead(200);
    res.write('ab');
    res.end('cd');
  },
  '/gzip': (_, res) => {
    const packed = gzipSync('z'.repeat(5_000));
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(packed.length) }).end(packed);
  },
  '/announced-huge': (_, res) => {
    res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) });
    res.write('x'.repeat(1024));
  },
  '/endless': (_, res) => {
    res.writeHead(500);
    const timer = setInterval(() => res.write('y'.repeat(64 * 1024)), 1);
    res.on('close', () => clearInterval(timer));
  },
  '/cut': (req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('only part');
    setTimeout(() => req.socket.destroy(), 10);
  },
  '/hang': () => undefined,
  '/echo': (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => res.end(JSON.stringify({ method: req.method, auth: req.headers['authorization'], body: Buffer.concat(chunks).toString() })));
  },
};

let server: Server;
let base: string;
let connections = 0;
beforeAll(async () => {
  server = createServer((req, res) => routes[req.url ?? '']?.(req, res));
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const exchange = (path: string, overrides: Partial<HttpExchange> = {}) =>
  httpExchange({
    url: new URL(path, base),
    method: 'POST',
    headers: {},
    body: Buffer.from('{}'),
    signal: AbortSignal.timeout(5_000),
    maxBytes: () => 1_000,
    ...overrides,
  });

describe('httpExchange', () => {
  it('sends the method, headers and body, and reads an announced answer', async () => {
    const answer = await exchange('/echo', { headers: { authorization: 'Bearer k' }, body: Buffer.from('{"q":1}') });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString())).toEqual({ method: 'POST', auth: 'Bearer k', body: '{"q":1}' });
    expect((await exchange('/json')).body.toString()).toBe('{"a":1}');
  });

  it('reads a chunked answer without a length', async () => {
    expect((await exchange('/chunked')).body.toString()).toBe('abcd');
  });

  it('decodes a gzip answer and bounds the decoded bytes, not the compressed length', async () => {
    expect((await exchange('/gzip', { maxBytes: () => 6_000 })).body.toString()).toBe('z'.repeat(5_000));
    // 5,000 decoded bytes from a body of a few dozen: the limit counts what is read.
    await expect(exchange('/gzip', { maxBytes: () => 4_000 })).rejects.toMatchObject({ name: 'ResponseTooLargeError', limit: 4_000, status: 200 });
  });

  it('refuses an announced length over the limit before reading it', async () => {
    await expect(exchange('/announced-huge')).rejects.toMatchObject({ name: 'ResponseTooLargeError', limit: 1_000 });
  });

  it('stops reading an endless answer at its status limit', async () => {
    await expect(exchange('/endless', { maxBytes: (status) => (status === 500 ? 100_000 : 1e9) })).rejects.toMatchObject({
      name: 'ResponseTooLargeError',
      status: 500,
      limit: 100_000,
    });
  });

  it('reports an answer cut short as ResponseBodyError, never as a shorter body', async () => {
    await expect(exchange('/cut')).rejects.toMatchObject({ name: 'ResponseBodyError' });
  });

  it('reports a refused connection with its socket code (never sent)', async () => {
    await expect(httpExchange({ url: new URL('/x', await closedEndpoint()), method: 'POST', headers: {}, body: Buffer.alloc(0), signal: AbortSignal.timeout(5_000), maxBytes: () => 1 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });

  it('reuses a kept-alive connection, but not one idle longer than maxIdleMs (by the wall clock: a frozen function)', async () => {
    const realNow = connectionReuse.now;
    let now = 1_000_000;
    connectionReuse.now = () => now;
    try {
      await exchange('/json', { maxIdleMs: 30_000 });
      const before = connections;
      now += 29_000;
      await exchange('/json', { maxIdleMs: 30_000 });
      expect(connections).toBe(before); // the same connection
      now += 31_000;
      await exchange('/json', { maxIdleMs: 30_000 });
      expect(connections).toBe(before + 1); // a new one: the old one may have been closed meanwhile
      now += 3_600_000;
      await exchange('/json');
      expect(connections).toBe(before + 1); // no bound asked: reused whatever its idle time
    } finally {
      connectionReuse.now = realNow;
    }
  });

  it('ends at its signal with an AbortError', async () => {
    await expect(exchange('/hang', { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
