import { createHmac } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { AppError } from '../../errors.js';
import { addressProblem, hostOf, webhookUrlProblem, type WebhookPolicy } from '../../domain/webhook-url.js';
import type { Log, WebhookSender } from '../../ports.js';

export interface HttpsWebhookSenderOptions extends WebhookPolicy {
  /** `whsec_` + base64, or a function reading it (SSM) on first use. */
  /** The deployment's secret (WEBHOOK_SECRET or its SSM parameter); absent when only issued keys' own secrets sign. */
  secret?: string | (() => Promise<string>) | undefined;
  log: Log;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Name resolution (all addresses); the system resolver by default. Tests use it to play DNS answers. */
  resolve?: (host: string) => Promise<LookupAddress[]>;
}

/** One delivery attempt waits at most this long for the receiver (Standard Webhooks senders use 15-30 s). */
const ATTEMPT_TIMEOUT_MS = 15_000;
const DNS_TIMEOUT_MS = 3_000;
/** The receiver's answer is not ours to keep: read at most this much of it, then drop the connection. */
const MAX_RESPONSE_BYTES = 16 * 1024;

const refused = (problem: string): AppError => new AppError('invalid_request', `"webhook" ${problem}.`, { details: { field: 'webhook' } });

/**
 * Delivers webhooks the Standard Webhooks way (https://www.standardwebhooks.com): headers `webhook-id`,
 * `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, so receivers can
 * verify them with the `standardwebhooks` libraries. Signing is a few lines of node:crypto (not the npm package,
 * which is built for receivers and would add its base64 and SHA-256 code to every cold start).
 *
 * SSRF: the name is resolved with every address checked at creation, and again at each delivery through the
 * socket's own `lookup`, so the connection goes to an address that passed the check (no DNS rebinding between
 * check and connect). Redirects are not followed.
 */
/** A Standard Webhooks secret's key: the base64 after `whsec_`. */
const keyOf = (secret: string): Buffer => Buffer.from(secret.replace(/^whsec_/, ''), 'base64');

export class HttpsWebhookSender implements WebhookSender {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly resolve: (host: string) => Promise<LookupAddress[]>;
  private key: Buffer | undefined;

  constructor(private readonly options: HttpsWebhookSenderOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.resolve = options.resolve ?? ((host) => resolveAll(host, DNS_TIMEOUT_MS));
  }

  async check(url: string, deadline: number): Promise<void> {
    const problem = webhookUrlProblem(url, this.options);
    if (problem) throw refused(problem);
    const host = hostOf(new URL(url));
    let addresses: LookupAddress[];
    try {
      addresses = await withTimeout(this.resolve(host), Math.min(DNS_TIMEOUT_MS, Math.max(100, deadline - this.now())));
    } catch {
      throw refused('has a host name that does not resolve');
    }
    for (const { address } of addresses) {
      const bad = addressProblem(address, this.options);
      if (bad) throw refused(`must not point to a non-public address (it ${bad})`);
    }
  }

  async deliver(
    url: string,
    event: { id: string; type: string; owner: string; data: object },
    deadline: number,
    secret?: string,
  ): Promise<boolean> {
    const key = secret === undefined ? await this.signingKey() : keyOf(secret);
    if (key === undefined) {
      this.options.log.warn('webhook not sent: no signing secret for its owner', { webhookId: event.id });
      return false;
    }
    const body = JSON.stringify({ type: event.type, timestamp: new Date(this.now()).toISOString(), owner: event.owner, data: event.data });
    for (let attempt = 0; ; attempt += 1) {
      const remaining = deadline - this.now();
      if (remaining < 500) return false;
      const timestamp = Math.floor(this.now() / 1000).toString();
      const signature = createHmac('sha256', key).update(`${event.id}.${timestamp}.${body}`).digest('base64');
      const status = await this.post(
        url,
        body,
        {
          'content-type': 'application/json',
          'user-agent': 'durable-image-api-webhooks',
          'webhook-id': event.id,
          'webhook-timestamp': timestamp,
          'webhook-signature': `v1,${signature}`,
        },
        Math.min(ATTEMPT_TIMEOUT_MS, remaining),
      );
      if (status !== undefined && status >= 200 && status < 300) return true;
      this.options.log.warn('webhook delivery failed', { webhookId: event.id, attempt, receiverStatus: status });
      // A 4xx other than 408/429 is the receiver's final word; anything else is worth another try.
      if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) return false;
      const waitMs = Math.min(1_000 * 2 ** attempt, 30_000);
      if (this.now() + waitMs + 500 > deadline) return false;
      await this.sleep(waitMs);
    }
  }

  private async signingKey(): Promise<Buffer | undefined> {
    if (this.key) return this.key;
    const configured = this.options.secret;
    if (configured === undefined) return undefined;
    this.key = keyOf(typeof configured === 'string' ? configured : await configured());
    return this.key;
  }

  /** One POST; the status code, or undefined when no answer arrived (refused address, network, timeout). */
  private post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number | undefined> {
    const target = new URL(url);
    const problem = webhookUrlProblem(url, this.options);
    if (problem) return Promise.resolve(undefined);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const policy = this.options;
    // The socket resolves through this, so the address it connects to is the one that was checked.
    const checkedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
      this.resolve(hostname).then(
        (list) => {
          const bad = list.map(({ address }) => addressProblem(address, policy)).find(Boolean);
          if (bad || list.length === 0) return callback(new Error(`webhook target refused: ${bad ?? 'no address'}`), '', 4);
          if (lookupOptions.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
          const first = list[0] as LookupAddress;
          return callback(null, first.address, first.family);
        },
        (error: NodeJS.ErrnoException) => callback(error, '', 4),
      );
    };
    const options: RequestOptions = {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: checkedLookup,
      signal: AbortSignal.timeout(timeoutMs),
    };
    return new Promise((resolve) => {
      const request = send(target, options, (response) => {
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) response.destroy();
        });
        response.on('close', () => resolve(response.statusCode));
        response.on('error', () => resolve(response.statusCode));
      });
      request.on('error', () => resolve(undefined));
      request.end(body);
    });
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('DNS timeout')), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}

function resolveAll(host: string, timeoutMs: number): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('DNS timeout')), timeoutMs);
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(addresses);
    });
  });
}
