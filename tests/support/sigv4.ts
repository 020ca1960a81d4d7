import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * An independent check of an AWS Signature Version 4 request, written from the AWS documentation ("Create a
 * signed AWS API request"), so tests can tell a correctly signed request from a merely well-formed one.
 */
export function verifySigV4(options: {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  accessKeyId: string;
  secretAccessKey: string;
}): { service: string; region: string } {
  const authorization = String(options.headers['authorization'] ?? '');
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  if (!match) throw new Error(`not a SigV4 Authorization header: ${authorization.slice(0, 40)}`);
  const [, keyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  if (keyId !== options.accessKeyId) throw new Error('wrong access key id');
  const amzDate = String(options.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date as string)) throw new Error('x-amz-date does not match the credential scope');
  const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
  const hmac = (key: string | Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
  const [path, query = ''] = options.path.split('?');
  const canonicalUri = (path as string)
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
  const names = (signedHeaders as string).split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) throw new Error('host and x-amz-date must be signed');
  const canonicalHeaders = names
    .map(
      (name) =>
        `${name}:${String(options.headers[name] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonicalRequest = [options.method, canonicalUri, query, canonicalHeaders, signedHeaders, sha(options.body)].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${options.secretAccessKey}`, date as string), region as string), service as string), 'aws4_request');
  if (hmac(key, stringToSign).toString('hex') !== signature) throw new Error('signature does not match');
  return { service: service as string, region: region as string };
}
