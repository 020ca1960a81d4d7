import { signedAwsRequest } from './aws-signed-request.js';

/** How long a fetched secret is reused before SSM is asked again (picks up a rotated key within this time). */
const SECRET_MAX_AGE_MS = 15 * 60_000;
const READ_TIMEOUT_MS = 3_000;

/** A secret could not be read: nothing was sent to the provider it is for. */
export class SecretUnavailableError extends Error {
  constructor(
    readonly parameterName: string,
    readonly ssmStatus: number | undefined,
    readonly ssmError: string,
  ) {
    super(`SSM parameter ${parameterName} could not be read (${ssmStatus ?? 'no answer'} ${ssmError})`);
    this.name = 'SecretUnavailableError';
  }
}

/**
 * Reads an SSM SecureString (decrypted) with one signed `GetParameter` call and keeps it for 15 minutes: the first
 * request of a container pays one SSM call, the rest reuse the value, and concurrent first requests share one call.
 * Nothing is read until the secret is first needed, so a cold start makes no network call.
 *
 * One signed request (the S3 client's signer and credentials, see aws-signed-request.ts) instead of Powertools'
 * SSM provider and the SSM client: those were 90 KB of the API bundle, the largest single item of its cold start
 * (red team's attribution), for this one call.
 */
export function ssmSecret(
  parameterName: string,
  region: string,
  options: { endpoint?: string; now?: () => number } = {},
): () => Promise<string> {
  const now = options.now ?? Date.now;
  const endpoint = options.endpoint ?? `https://ssm.${region}.amazonaws.com`;
  let cached: { value: string; at: number } | undefined;
  let reading: Promise<string> | undefined;

  const read = async (): Promise<string> => {
    let answer: { status: number; body: string };
    try {
      answer = await signedAwsRequest({
        service: 'ssm',
        region,
        endpoint,
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.GetParameter' },
        body: JSON.stringify({ Name: parameterName, WithDecryption: true }),
        timeoutMs: READ_TIMEOUT_MS,
      });
    } catch (error) {
      throw new SecretUnavailableError(parameterName, undefined, error instanceof Error ? error.name : 'unknown');
    }
    let document: { Parameter?: { Value?: unknown }; __type?: unknown } = {};
    try {
      document = JSON.parse(answer.body) as typeof document;
    } catch {
      // judged below by status and shape
    }
    const value = document.Parameter?.Value;
    if (answer.status !== 200 || typeof value !== 'string' || value === '') {
      // `__type` is AWS's error name (ParameterNotFound, AccessDeniedException): safe to log, never the value.
      const type = typeof document.__type === 'string' ? document.__type.replace(/^.*#/, '').slice(0, 64) : 'empty or not a string';
      throw new SecretUnavailableError(parameterName, answer.status, type);
    }
    cached = { value, at: now() };
    return value;
  };

  return async () => {
    if (cached && now() - cached.at < SECRET_MAX_AGE_MS) return cached.value;
    reading ??= read().finally(() => {
      reading = undefined;
    });
    return reading;
  };
}
