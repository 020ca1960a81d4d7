import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { JoseTokenVerifier } from '../../../lib/adapters/auth/jose-token-verifier.js';
import { AppError } from '../../../lib/errors.js';

/**
 * The verifier against a real JWKS server on loopback. Only `Date` is faked (timers, fetch and crypto run for
 * real), so time can pass the way any cache, jose's own included, would see it.
 */

const ISSUER = 'https://issuer.example.test';
const AUDIENCE = 'durable-image-api';
type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

let server: Server;
let jwksUrl: string;
let up = true;
/** Serve an endless key set instead (what a misbehaving issuer or a wrong URL may do). */
let endless = false;
let bytesSent = 0;
let fetches = 0;
let keys: JWK[] = [];
let signing: { kid: string; key: PrivateKey };

beforeAll(async () => {
  server = createServer((_, res) => {
    fetches += 1;
    if (!up) {
      res.writeHead(503).end();
      return;
    }
    if (endless) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      const chunk = `${JSON.stringify({ kty: 'oct', k: 'x'.repeat(8_000) })},`;
      const more = (): void => {
        while (!res.destroyed && bytesSent < 50 * 1024 * 1024) {
          bytesSent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const newKey = async (kid: string): Promise<{ kid: string; key: PrivateKey; jwk: JWK }> => {
  const pair = await generateKeyPair('RS256');
  return { kid, key: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' } };
};

const advance = (ms: number): void => {
  jest.setSystemTime(Date.now() + ms);
};

afterEach(() => {
  jest.useRealTimers();
});

beforeEach(async () => {
  jest.useFakeTimers({
    doNotFake: [
      'setTimeout',
      'clearTimeout',
      'setInterval',
      'clearInterval',
      'setImmediate',
      'clearImmediate',
      'nextTick',
      'queueMicrotask',
      'hrtime',
      'performance',
    ],
  });
  up = true;
  endless = false;
  bytesSent = 0;
  fetches = 0;
  const first = await newKey('k1');
  keys = [first.jwk];
  signing = first;
});

const token = (): Promise<string> =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: signing.kid })
    .setSubject('user-1')
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setExpirationTime('5m')
    .sign(signing.key);

const verifier = (maxStaleMs = 3_600_000): JoseTokenVerifier =>
  new JoseTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUrl,
    algorithms: ['RS256'],
    clockSkewSeconds: 30,
    jwksMaxStaleMs: maxStaleMs,
  });

const codeOf = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'ok',
    (error: unknown) => (error instanceof AppError ? error.code : String(error)),
  );

describe('JoseTokenVerifier key set cache', () => {
  it('warm() fetches the key set before the first token, which then verifies without a fetch of its own', async () => {
    const jwt = verifier();
    await jwt.warm();
    expect(fetches).toBe(1);
    expect(await codeOf(jwt.verify(await token()))).toBe('ok');
    expect(fetches).toBe(1);
    // Warm again with a set held: nothing is fetched.
    await jwt.warm();
    expect(fetches).toBe(1);
  });

  it('warm() with the issuer down neither throws nor keeps the failure: the first token fetches again', async () => {
    const jwt = verifier();
    up = false;
    await expect(jwt.warm()).resolves.toBeUndefined();
    expect(fetches).toBe(1);
    up = true;
    expect(await codeOf(jwt.verify(await token()))).toBe('ok');
    expect(fetches).toBe(2);
  });

  it('keeps verifying with the last good key set while the JWKS is down, within the stale bound', async () => {
    const jwt = verifier(3_600_000);
    expect(await codeOf(jwt.verify(await token()))).toBe('ok');
    // Act: the issuer goes down; 11 minutes later the set is past its age, but within the stale bound.
    up = false;
    advance(11 * 60_000);
    // Assess
    expect(await codeOf(jwt.verify(await token()))).toBe('ok');
    // It did try to refresh, in the background.
    for (let waited = 0; fetches < 2 && waited < 2_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fetches).toBe(2);
  });

  it('answers auth_unavailable once the key set is older than its age plus the stale bound', async () => {
    const jwt = verifier(3_600_000);
    expect(await codeOf(jwt.verify(await token()))).toBe('ok');
    up = false;
    advance(10 * 60_000 + 3_600_000 + 1);
    expect(await codeOf(jwt.verify(await token()))).toBe('auth_unavailable');
  });

  it('answers auth_unavailable when the first fetch fails (nothing to serve stale)', async () => {
    up = false;
    expect(await codeOf(verifier().verify(await token()))).toBe('auth_unavailable');
  });

  it('stops reading a key set past 256 KiB: auth_unavailable, not the whole answer in memory', async () => {
    endless = true;
    expect(await codeOf(verifier().verify(await token()))).toBe('auth_unavailable');
    // What the server managed to send before the connection was dropped: socket buffers, not the 50 MB.
    expect(bytesSent).toBeLessThan(8 * 1024 * 1024);
  });

  it('picks up a rotated key: an unknown kid refetches the set (at most once per cooldown)', async () => {
    const jwt = verifier();
    expect(await codeOf(jwt.verify(await token()))).toBe('ok');
    const rotated = await newKey('k2');
    keys = [rotated.jwk];
    signing = rotated;
    advance(31_000);
    expect(await codeOf(jwt.verify(await token()))).toBe('ok');
    // A token with a kid the issuer does not have, right after: refused without another fetch.
    const before = fetches;
    signing = { kid: 'k3', key: (await newKey('k3')).key };
    expect(await codeOf(jwt.verify(await token()))).toBe('unauthorized');
    expect(fetches).toBe(before);
  });
});
