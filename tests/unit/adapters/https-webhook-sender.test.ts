import type { LookupAddress } from 'node:dns';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { HttpsWebhookSender } from '../../../lib/adapters/webhooks/https-webhook-sender.js';
import { AppError } from '../../../lib/errors.js';
import { WebhookReceiver } from '../../support/jobs.js';

/** SSRF checks on names, with the DNS answers played by the test (the sender resolves through `resolve`). */

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let receiver: WebhookReceiver;
let answers: Record<string, string[]>;
const resolve = async (host: string): Promise<LookupAddress[]> => {
  const addresses = answers[host];
  if (!addresses) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
});

afterAll(async () => {
  await receiver.close();
});

beforeEach(() => {
  receiver.reset();
  answers = {};
});

const sender = (allowLoopback: boolean): HttpsWebhookSender =>
  new HttpsWebhookSender({ secret: SECRET, allowLoopback, log: quiet, resolve });
const codeOf = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'ok',
    (error: unknown) => (error instanceof AppError ? `${error.code}: ${error.message}` : String(error)),
  );

describe('HttpsWebhookSender.check', () => {
  it.each([
    ['a private address', ['10.0.0.5']],
    ['the metadata service', ['169.254.169.254']],
    ['one private address among public ones', ['93.184.216.34', '192.168.1.20']],
    ['an IPv4-mapped loopback', ['::ffff:127.0.0.1']],
  ])('refuses a name that resolves to %s', async (_, addresses) => {
    answers['hooks.example.test'] = addresses;
    await expect(codeOf(sender(false).check('https://hooks.example.test/h', Date.now() + 5_000))).resolves.toMatch(
      /^invalid_request: "webhook" must not point to a non-public address/,
    );
  });

  it('accepts a name that resolves to public addresses only', async () => {
    answers['hooks.example.test'] = ['93.184.216.34', '2606:4700:4700::1111'];
    await expect(codeOf(sender(false).check('https://hooks.example.test/h', Date.now() + 5_000))).resolves.toBe('ok');
  });

  it('refuses a name that does not resolve', async () => {
    await expect(codeOf(sender(false).check('https://nowhere.example.test/h', Date.now() + 5_000))).resolves.toMatch(/does not resolve/);
  });
});

describe('HttpsWebhookSender.deliver', () => {
  it('connects to the address its own resolution checked (a name unknown to real DNS reaches the receiver)', async () => {
    answers['hooks.example.test'] = ['127.0.0.1'];
    const url = receiver.url.replace('127.0.0.1', 'hooks.example.test');
    const delivered = await sender(true).deliver(
      url,
      { id: 'a.succeeded', type: 'image.succeeded', owner: 'api-key:web-app', data: {} },
      Date.now() + 5_000,
    );
    expect(delivered).toBe(true);
    expect(receiver.received).toHaveLength(1);
  });

  it('refuses at delivery a name that now resolves to a private address (DNS rebinding), without connecting', async () => {
    const url = receiver.url.replace('127.0.0.1', 'rebind.example.test');
    answers['rebind.example.test'] = ['127.0.0.1'];
    const webhooks = sender(true);
    await expect(codeOf(webhooks.check(url, Date.now() + 5_000))).resolves.toBe('ok');
    // Act: between the check and the delivery, the name's answer changes.
    answers['rebind.example.test'] = ['10.0.0.7'];
    const delivered = await webhooks.deliver(
      url,
      { id: 'b.succeeded', type: 'image.succeeded', owner: 'api-key:web-app', data: {} },
      Date.now() + 1_500,
    );
    // Assess
    expect(delivered).toBe(false);
    expect(receiver.received).toHaveLength(0);
  });
});
