// `npm start`'s stand-in for the /v1 Lambda function URL (InvokeMode RESPONSE_STREAM), run as a child process:
// node scripts/function-url.mjs <built handler file> <socket path> <timeout seconds>
//
// serverless-offline calls every handler as a buffered one (event, context, callback), so it cannot serve a streamed
// answer; this loads the /v1 function's own build (serverless-esbuild's, from .esbuild/local) the way Lambda's
// runtime does for a streaming function (lambda-streaming.mjs: `awslambda` defined first, the handler called with a
// response stream) and speaks HTTP as a function URL does
// (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html): the request as a payload-2.0 event (a body
// that is not text base64-encoded), at most 6 MB of request (413 past it), the prelude's status and headers, then the
// body as the handler writes it. It listens on a socket in npm start's private directory, behind the front door.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { PRELUDE_CONTENT_TYPE, installAwsLambda, responseStream } from './lambda-streaming.mjs';

const [handlerFile, socketPath, timeoutSeconds = '300'] = process.argv.slice(2);
const TIMEOUT_MS = Number(timeoutSeconds) * 1000;
/** A function URL's request payload limit (Lambda's synchronous invocation: 6 MB). */
const MAX_REQUEST_BYTES = 6 * 1024 * 1024;
const DELIMITER = Buffer.alloc(8);
/** What a function URL passes as text; any other body arrives base64-encoded (isBase64Encoded). */
const TEXT = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+json)/i;

installAwsLambda();
const { handler } = await import(pathToFileURL(handlerFile).href);

function eventOf(req, body) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(',') : String(value);
  const query = Object.fromEntries(url.searchParams.entries());
  const text = TEXT.test(headers['content-type'] ?? '');
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(body.length > 0
      ? { body: text ? body.toString('utf8') : body.toString('base64'), isBase64Encoded: !text }
      : { isBase64Encoded: false }),
  };
}

/** The sink that turns the handler's stream into the HTTP answer: the prelude first, then the body as written. */
function answerTo(res) {
  let streamType;
  let head = Buffer.alloc(0);
  let headSent = false;
  const sendHead = (statusCode, headers) => {
    headSent = true;
    res.writeHead(statusCode, headers);
  };
  return {
    begin(contentType) {
      streamType = contentType;
      if (contentType !== PRELUDE_CONTENT_TYPE) sendHead(200, { 'content-type': contentType });
    },
    write(chunk) {
      if (headSent) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const at = head.indexOf(DELIMITER);
      if (at < 0) return;
      const prelude = JSON.parse(head.subarray(0, at).toString('utf8'));
      const headers = { ...prelude.headers };
      if (prelude.cookies?.length) headers['set-cookie'] = prelude.cookies;
      sendHead(prelude.statusCode ?? 200, headers);
      const rest = head.subarray(at + DELIMITER.length);
      if (rest.length > 0) res.write(rest);
    },
    end() {
      if (!headSent) sendHead(200, { 'content-type': streamType ?? 'application/octet-stream' });
      res.end();
    },
    get headSent() {
      return headSent;
    },
  };
}

const server = createServer(async (req, res) => {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) {
      res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Request Too Long' }));
      return;
    }
    chunks.push(chunk);
  }
  const started = Date.now();
  const requestId = randomUUID();
  const context = {
    awsRequestId: requestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'openaiCompatible',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'openaiCompatible'}`,
    memoryLimitInMB: '256',
    logGroupName: '/aws/lambda/local',
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, started + TIMEOUT_MS - Date.now()),
  };
  const answer = answerTo(res);
  // As Lambda does at the function's timeout: the answer is cut where it stands.
  const timer = setTimeout(() => res.destroy(), TIMEOUT_MS);
  try {
    await handler(eventOf(req, Buffer.concat(chunks)), responseStream(answer), context);
  } catch (error) {
    console.error(JSON.stringify({ level: 'ERROR', message: 'function URL invocation failed', error: String(error) }));
    if (!answer.headSent)
      res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Internal Server Error' }));
    else res.destroy();
  } finally {
    clearTimeout(timer);
  }
});
server.listen(socketPath, () => console.log('function URL ready'));
process.on('SIGTERM', () => process.exit(0));
