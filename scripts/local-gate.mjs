// The gates in front of the local stack's S3, DynamoDB and Lambda servers. s3rver, dynalite and serverless-offline's
// invoke port check no signature and answer browsers' CORS requests, so a web page the developer visits could
// otherwise read private records or queue a job on the developer's provider key. Each gate lets through what the
// deployed service would: requests signed (AWS Signature Version 4) with this run's own secret, and, for S3 only,
// anonymous GET/HEAD of the public prefix as CloudFront serves it, and browser-form uploads (POST) that carry a
// policy signed with this run's secret, checked as S3 checks them.
//
// Signatures are checked by signing the same request again with the AWS SDK's own signer (@smithy/signature-v4),
// not by a second implementation of SigV4.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { SignatureV4, getSigningKey } from '@smithy/signature-v4';

/** AWS accepts a signed request up to 15 minutes either side of its clock. */
const MAX_CLOCK_SKEW_MS = 15 * 60_000;
/** The largest body a gate buffers to hash it: DynamoDB's request limit is 16 MB, Lambda's payload 6 MB. */
export const MAX_SIGNED_BODY_BYTES = 16 * 1024 * 1024;

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

/**
 * Credentials for one local run: s3rver only knows the access key id `S3RVER`, and checks no V4 signature; the
 * gates check it against this secret, new on every run unless LOCAL_AWS_SECRET_ACCESS_KEY sets one (to call the
 * local ports with the AWS CLI).
 */
export const runCredentials = (env = process.env) => ({
  accessKeyId: 'S3RVER',
  secretAccessKey: env.LOCAL_AWS_SECRET_ACCESS_KEY || randomBytes(24).toString('base64url'),
});

const sha256 = Hash.bind(null, 'sha256');

/**
 * Whether `req` carries a valid SigV4 Authorization header made with `credentials`. `body` is the request body when
 * the signature covers it (no `x-amz-content-sha256` header), else undefined. Query-string (presigned) signatures
 * are not accepted: nothing in the service presigns.
 */
export async function verifySignature(req, body, credentials, now = Date.now()) {
  const match = AUTHORIZATION.exec(req.headers.authorization ?? '');
  if (!match) return false;
  const [, accessKeyId, day, region, service, signedHeaderList, signature] = match;
  if (accessKeyId !== credentials.accessKeyId) return false;
  const amzDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(req.headers['x-amz-date'] ?? '');
  if (!amzDate || `${amzDate[1]}${amzDate[2]}${amzDate[3]}` !== day) return false;
  const signingDate = new Date(Date.UTC(+amzDate[1], +amzDate[2] - 1, +amzDate[3], +amzDate[4], +amzDate[5], +amzDate[6]));
  if (Math.abs(now - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) return false;

  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) return false;
  const headers = {};
  for (const name of signedHeaders) {
    const value = req.headers[name];
    if (value === undefined) return false;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const url = new URL(req.url ?? '/', 'http://local');
  const query = {};
  for (const [key, value] of url.searchParams) {
    const seen = query[key];
    query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  // S3 signs its path as sent; every other service escapes it once more (the SDK's `uriEscapePath`).
  const isS3 = service === 's3';
  const signer = new SignatureV4({ credentials, region, service, sha256, uriEscapePath: !isS3, applyChecksum: isS3 });
  const rawPath = (req.url ?? '/').split('?')[0];
  const resigned = await signer.sign(
    { method: req.method, protocol: 'http:', hostname: '127.0.0.1', path: rawPath, query, headers, body },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expected = AUTHORIZATION.exec(resigned.headers.authorization)?.[6];
  return expected !== undefined && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}

const refuse = (res, status, contentType, body) => {
  res.writeHead(status, { 'content-type': contentType, connection: 'close' }).end(body);
};
const s3Denied = (res) =>
  refuse(
    res,
    403,
    'application/xml',
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
  );
const awsDenied = (res, message) =>
  refuse(res, 403, 'application/x-amz-json-1.0', JSON.stringify({ __type: 'com.amazon.coral.service#AccessDeniedException', message }));

/** Reads a body of at most `limit` bytes; undefined when it is longer. */
async function readBody(req, limit) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Where an inner server listens: a Unix socket path (npm start's servers, in a directory only this user may enter,
 * so nothing but the gates reaches them) or a loopback port (test stand-ins).
 *
 * @param {number | string} target
 */
export const innerAddress = (target) => (typeof target === 'string' ? { socketPath: target } : { host: '127.0.0.1', port: target });

function forward(req, res, targetPort, body) {
  const upstream = httpRequest({ ...innerAddress(targetPort), method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => res.destroy());
  if (body === undefined) req.pipe(upstream);
  else upstream.end(body);
}

/**
 * Whether the S3 key path `pathname` (as received, escaped) is under `/<bucket>/<prefix>` once decoded, with no
 * dot segments: `images/..%2Frecords%2Fx` is not under `images/`.
 */
export function isPublicPath(pathname, bucket, prefix) {
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return false;
  }
  if (!decoded.startsWith(`/${bucket}/${prefix}`) || decoded.includes('\\')) return false;
  return !decoded.split('/').some((segment) => segment === '.' || segment === '..');
}

async function listen(server, port) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

/** The largest form upload the gate reads: the service's uploads (8 MiB) and the form's fields. */
export const MAX_FORM_UPLOAD_BYTES = 8 * 1024 * 1024 + 64 * 1024;

/**
 * Whether a browser-form POST (an S3 presigned POST) is one S3 would take: its policy signed with `credentials`
 * (SigV4: the policy's HMAC with the day's signing key, derived by the AWS SDK's own function), not expired, and
 * every field and the file within its conditions (exact values, `starts-with`, `content-length-range`), with no
 * field the policy does not name. s3rver stores any POST without checking; this is what stands for S3 locally.
 * Returns why not, or undefined when it passes.
 */
export async function postPolicyProblem(form, bucket, credentials, now = Date.now()) {
  // Read as S3 reads a form: the file is the last field ("The file or text content must be the last field in the
  // form", S3's POST Object reference), and a field name (matched in any case) is given once. A field after the
  // file, or a name twice, is refused: s3rver would read them otherwise than this check (it takes the last `key`
  // before the file, case-sensitively), and the checked values would not be the stored ones.
  const entries = [...form.entries()];
  const fileAt = entries.findIndex(([name]) => name === 'file');
  if (fileAt !== entries.length - 1) return 'the file is not the last field';
  const names = entries.map(([name]) => name.toLowerCase());
  if (new Set(names).size !== names.length) return 'a field given twice';
  const field = (name) => {
    for (const [key, value] of entries) if (key.toLowerCase() === name.toLowerCase() && typeof value === 'string') return value;
    return undefined;
  };
  const policyText = field('Policy');
  const credential = /^([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request$/.exec(field('X-Amz-Credential') ?? '');
  const signature = field('X-Amz-Signature') ?? '';
  const file = form.get('file');
  if (!policyText || !credential || field('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' || typeof file === 'string' || !file) return 'unsigned';
  const [, accessKeyId, day, region] = credential;
  if (accessKeyId !== credentials.accessKeyId || !/^[0-9a-f]{64}$/.test(signature)) return 'wrong credentials';
  const key = await getSigningKey(sha256, credentials, day, region, 's3');
  const expected = createHmac('sha256', key).update(policyText).digest('hex');
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) return 'bad signature';
  let policy;
  try {
    policy = JSON.parse(Buffer.from(policyText, 'base64').toString('utf8'));
  } catch {
    return 'unreadable policy';
  }
  if (!(Date.parse(policy.expiration) > now)) return 'expired';
  const values = {
    bucket,
    ...Object.fromEntries(
      [...form.entries()].filter(([, value]) => typeof value === 'string').map(([name, value]) => [name.toLowerCase(), value]),
    ),
  };
  const named = new Set(['policy', 'x-amz-signature', 'file']);
  for (const condition of policy.conditions ?? []) {
    if (Array.isArray(condition) && condition[0] === 'content-length-range') {
      if (file.size < condition[1] || file.size > condition[2]) return 'size out of range';
      continue;
    }
    const [operator, name, value] = Array.isArray(condition)
      ? [condition[0], String(condition[1]).replace(/^\$/, '').toLowerCase(), condition[2]]
      : ['eq', Object.keys(condition)[0].toLowerCase(), Object.values(condition)[0]];
    named.add(name);
    const actual = values[name] ?? '';
    if (operator === 'eq' ? actual !== value : operator === 'starts-with' ? !actual.startsWith(value) : true) return `condition on ${name}`;
  }
  const extra = [...form.keys()].map((name) => name.toLowerCase()).find((name) => !named.has(name) && !name.startsWith('x-ignore-'));
  return extra === undefined ? undefined : `field ${extra} not in the policy`;
}

/**
 * The S3 gate: signed calls (the service's own) pass to s3rver; an anonymous request may only GET or HEAD an
 * object under the public prefix, with no query string (CloudFront forwards none). No CORS preflight is answered:
 * a GET of an image and the upload form's POST are simple requests, and only the API port answers a web page's
 * preflight. Everything else is 403 AccessDenied with no CORS headers.
 */
export async function startS3Gate({ port, targetPort, bucket, publicPrefix, credentials, now = Date.now }) {
  const gate = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://local');
      if (req.headers.authorization !== undefined) {
        // The signature covers x-amz-content-sha256 (which the SDK always sends to S3), not the streamed body.
        if (req.headers['x-amz-content-sha256'] === undefined || !(await verifySignature(req, undefined, credentials))) {
          req.resume();
          return s3Denied(res);
        }
        return forward(req, res, targetPort);
      }
      // A browser-form upload (POST /uploads' signed form) to the bucket itself.
      if (req.method === 'POST' && /^\/[^/]+\/?$/.test(url.pathname) && url.search === '') {
        const type = req.headers['content-type'] ?? '';
        const body = type.startsWith('multipart/form-data') ? await readBody(req, MAX_FORM_UPLOAD_BYTES) : undefined;
        if (body === undefined) {
          req.resume();
          return s3Denied(res);
        }
        const form = await new Response(body, { headers: { 'content-type': type } }).formData().catch(() => undefined);
        if (
          !form ||
          (await postPolicyProblem(form, bucket, credentials, now())) !== undefined ||
          url.pathname.replace(/\/$/, '') !== `/${bucket}`
        ) {
          return s3Denied(res);
        }
        // s3rver gets a form built again from the checked entries alone, in their order: what it stores is what
        // was checked, whatever else the original bytes held.
        const checked = new FormData();
        for (const [name, value] of form.entries()) checked.append(name, value);
        const rebuilt = new Response(checked);
        const rebuiltBody = Buffer.from(await rebuilt.arrayBuffer());
        req.headers['content-type'] = rebuilt.headers.get('content-type') ?? type;
        req.headers['content-length'] = String(rebuiltBody.length);
        delete req.headers['transfer-encoding'];
        return forward(req, res, targetPort, rebuiltBody);
      }
      const anonymous = ['GET', 'HEAD'].includes(req.method ?? '') && url.search === '' && isPublicPath(url.pathname, bucket, publicPrefix);
      if (!anonymous) {
        req.resume();
        return s3Denied(res);
      }
      forward(req, res, targetPort);
    } catch {
      res.destroy();
    }
  });
  return listen(gate, port);
}

/**
 * The gate of a port only the stack's own functions call (DynamoDB, the Lambda invoke API): no request from a
 * browser (anything with an Origin header, any CORS preflight), and only requests signed with this run's secret.
 * `handle(req, res, body)` serves what passes; by default it forwards to `targetPort`.
 *
 * @param {{ port: number, targetPort: number | string, credentials: { accessKeyId: string, secretAccessKey: string },
 *   handle?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, body: Buffer) => unknown }} options
 */
export async function startPrivateGate({
  port,
  targetPort,
  credentials,
  handle = (req, res, body) => forward(req, res, targetPort, body),
}) {
  const gate = createServer(async (req, res) => {
    try {
      if (req.method === 'OPTIONS' || req.headers.origin !== undefined) {
        req.resume();
        return awsDenied(res, 'This local port takes no requests from web pages.');
      }
      const body = await readBody(req, MAX_SIGNED_BODY_BYTES);
      if (body === undefined) return awsDenied(res, 'Request body too large.');
      // The signature covers x-amz-content-sha256 when it is sent (newer SDKs do): the body must match it.
      const declared = req.headers['x-amz-content-sha256'];
      const bodyMatches = declared === undefined || declared === createHash('sha256').update(body).digest('hex');
      if (!bodyMatches || !(await verifySignature(req, body, credentials)))
        return awsDenied(res, "The request is not signed with this local run's credentials.");
      await handle(req, res, body);
    } catch {
      res.destroy();
    }
  });
  return listen(gate, port);
}

/**
 * Serves the Lambda invoke API like Lambda does for asynchronous invocations: `X-Amz-Invocation-Type: Event` is
 * answered 202 at once and the function runs afterwards; a function error is retried after `retryDelaysMs` (Lambda
 * retries an asynchronous event twice, about 1 and 2 minutes later), then dropped with one log line.
 * serverless-offline itself runs an Event invocation without catching its error, which ends the whole process.
 */
export function asyncInvoke({ targetPort, retryDelaysMs = [60_000, 120_000], log = (line) => console.warn(line) }) {
  const timers = new Set();
  const invokeOnce = (req, body) =>
    new Promise((resolve) => {
      const headers = { ...req.headers, 'x-amz-invocation-type': 'RequestResponse', 'content-length': String(body.length) };
      delete headers.authorization;
      const upstream = httpRequest({ ...innerAddress(targetPort), method: 'POST', path: req.url, headers }, (answer) => {
        const chunks = [];
        answer.on('data', (chunk) => chunks.push(chunk));
        answer.on('end', () => {
          const failed =
            (answer.statusCode ?? 500) >= 300 ||
            answer.headers['x-amz-function-error'] !== undefined ||
            /"errorMessage"/.test(Buffer.concat(chunks).toString('utf8'));
          resolve(failed ? Buffer.concat(chunks).toString('utf8').slice(0, 300) : undefined);
        });
        answer.on('error', () => resolve('connection lost'));
      });
      upstream.on('error', (error) => resolve(error.message));
      upstream.end(body);
    });
  const run = async (req, body, attempt) => {
    const failure = await invokeOnce(req, body);
    if (failure === undefined) return;
    const name = decodeURIComponent(/\/functions\/([^/]+)\//.exec(req.url ?? '')?.[1] ?? 'function');
    const delay = retryDelaysMs[attempt];
    if (delay === undefined) {
      log(`local Lambda: ${name} failed on its last attempt; the event is dropped, as Lambda drops it: ${failure}`);
      return;
    }
    log(`local Lambda: ${name} failed; retrying the event in ${Math.round(delay / 1000)} s, as Lambda would: ${failure}`);
    const timer = setTimeout(() => {
      timers.delete(timer);
      void run(req, body, attempt + 1);
    }, delay);
    timer.unref();
    timers.add(timer);
  };
  return {
    handle(req, res, body) {
      if (req.headers['x-amz-invocation-type'] !== 'Event') return forward(req, res, targetPort, body);
      res.writeHead(202, { 'content-type': 'application/json', 'x-amzn-requestid': randomBytes(16).toString('hex') }).end();
      void run(req, body, 0);
    },
    stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
