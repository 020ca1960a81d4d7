import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { httpExchange } from '../http-exchange.js';

/**
 * One SigV4-signed HTTPS call to an AWS API, with the signer and credential chain the S3 client already brings
 * into the bundle. Used for the single calls the functions make to Lambda (async invoke), CloudFront
 * (invalidation) and SSM (GetParameter): their generated SDK clients added about 380 KB to the bundle that every
 * cold start compiles (measured: import 1.56x the baseline with Lambda's and CloudFront's, README "Performance"),
 * for one request shape each.
 */
export interface SignedRequest {
  service: string;
  region: string;
  /** `https://lambda.us-east-1.amazonaws.com`, or a local endpoint. */
  endpoint: string;
  method: 'POST' | 'GET';
  path: string;
  headers: Record<string, string>;
  body: string;
  /** A bound on the whole call, its retries included. */
  timeoutMs: number;
  /**
   * Attempts per call (the SDK's standard retry mode: 3). A failure without an answer (a refused, reset or stale
   * keep-alive connection), and an answer `retryable` calls transient, is tried again, after the SDK's full-jitter
   * pause, while the call's time lasts; the last failure or answer is what the caller gets.
   */
  maxAttempts?: number;
  /** Which answers are transient (default: 429 and 5xx, as the SDK's standard mode). */
  retryable?: (answer: SignedAnswer) => boolean;
  /** Fixed credentials (local servers); the default chain (the function's role on AWS) otherwise. */
  credentials?: AwsCredentialIdentity | undefined;
  /** The most of the answer that is read (default 64 KiB); a longer answer is an error, never a cut JSON text. */
  maxResponseBytes?: number;
}

/** node:crypto as the signer's hash (the SDK's own node hash package is a separate dependency). */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const credentials = defaultProvider();
const signers = new Map<string, SignatureV4>();

const signerFor = (service: string, region: string, own?: AwsCredentialIdentity): SignatureV4 => {
  const key = `${service}/${region}/${own?.accessKeyId ?? ''}`;
  let signer = signers.get(key);
  if (!signer) {
    signer = new SignatureV4({ service, region, credentials: own ?? credentials, sha256: NodeSha256, applyChecksum: true, uriEscapePath: true });
    signers.set(key, signer);
  }
  return signer;
};

export interface SignedAnswer {
  status: number;
  body: string;
}

const transient = (answer: SignedAnswer): boolean => answer.status === 429 || answer.status >= 500;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends the request, retried as the SDK's standard mode would (see `maxAttempts`); answers the status and
 * (bounded) body text. Throws on network failure or timeout of the last attempt. Every caller's request is safe
 * to repeat, as with the SDK: reads, conditional or counted writes the SDK would retry too, an invalidation with
 * a fixed caller reference, a worker invoke whose job runs at most once whatever the deliveries.
 */
export async function signedAwsRequest(request: SignedRequest): Promise<SignedAnswer> {
  const deadline = Date.now() + request.timeoutMs;
  const maxAttempts = request.maxAttempts ?? 3;
  const retryable = request.retryable ?? transient;
  for (let attempt = 1; ; attempt += 1) {
    // Full jitter on the SDK's base delay (100 ms, doubling), never past the call's bound.
    const pause = Math.random() * 100 * 2 ** (attempt - 1);
    const canRetry = (): boolean => attempt < maxAttempts && Date.now() + pause < deadline;
    let answer: SignedAnswer;
    try {
      answer = await signedAttempt(request, Math.max(1, deadline - Date.now()));
    } catch (error) {
      if (!canRetry()) throw error;
      await sleep(pause);
      continue;
    }
    if (!retryable(answer) || !canRetry()) return answer;
    await sleep(pause);
  }
}

async function signedAttempt(request: SignedRequest, timeoutMs: number): Promise<SignedAnswer> {
  const url = new URL(request.path, request.endpoint);
  const signed = await signerFor(request.service, request.region, request.credentials).sign({
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port === '' ? {} : { port: Number(url.port) }),
    path: url.pathname,
    query: {},
    headers: { ...request.headers, host: url.host },
    body: request.body,
  });
  const { host: _host, ...headers } = signed.headers;
  // An SSM parameter is at most 8 KB, a DynamoDB answer 1 MB: past the limit the rest is not ours to keep.
  const limit = request.maxResponseBytes ?? 64 * 1024;
  const answer = await httpExchange({
    url,
    method: request.method,
    headers,
    body: Buffer.from(request.body),
    signal: AbortSignal.timeout(timeoutMs),
    maxBytes: () => limit,
  });
  return { status: answer.status, body: answer.body.toString('utf8') };
}
