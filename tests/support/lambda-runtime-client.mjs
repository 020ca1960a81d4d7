// A stand-in for Lambda's Node.js runtime interface client (aws-lambda-ric), to run an unpacked function zip the way
// Lambda does, against a stand-in of the Lambda Runtime API. aws-lambda-ric itself (npm 4.0.2) compiles libcurl and
// its native addon from source in its install scripts (tried here on 2026-12-07: still compiling libcurl after two
// minutes, on a CI budget of 15 for everything); this follows its documented rules instead
// (aws-lambda-nodejs-runtime-interface-client, src/UserFunction.js;
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
// - the handler string `_HANDLER` is `<path>/<module>.<export>`; the module is resolved under LAMBDA_TASK_ROOT as
//   `<module>.js`, `.mjs` or `.cjs`; a `.js` file is an ES module when the nearest package.json says "type": "module";
// - a module that cannot be loaded is `Runtime.ImportModuleError`, a missing export `Runtime.HandlerNotFound`, both
//   posted to `/runtime/init/error` before any invocation, and the process exits;
// - each invocation is `GET /runtime/invocation/next` (the event, with its request id, deadline and ARN in headers),
//   then `POST /runtime/invocation/<id>/response` with the handler's result, or `/error` with the error;
// - a handler marked by `awslambda.streamifyResponse` (lambda-streaming.mjs) is called with a response stream whose
//   bytes go to `/response` as they are written (`Lambda-Runtime-Function-Response-Mode: streaming`, chunked), an
//   error after the first byte as the trailers `Lambda-Runtime-Function-Error-Type` and `-Error-Body`.
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { installAwsLambda, isStreaming, responseStream } from '../../scripts/lambda-streaming.mjs';

const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
const taskRoot = process.env.LAMBDA_TASK_ROOT;
const handlerString = process.env._HANDLER ?? '';

const errorBody = (type, error) =>
  JSON.stringify({
    errorType: type,
    errorMessage: error instanceof Error ? error.message : String(error),
    trace: error instanceof Error ? (error.stack ?? '').split('\n') : [],
  });

/** The nearest package.json's "type", from the module's directory up to the task root. */
function packageType(file) {
  for (let dir = dirname(file); dir.startsWith(taskRoot); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')).type;
    if (dir === taskRoot) break;
  }
  return undefined;
}

async function loadHandler() {
  const dot = handlerString.lastIndexOf('.');
  if (dot <= 0) throw Object.assign(new Error(`Bad handler ${handlerString}`), { lambdaType: 'Runtime.MalformedHandlerName' });
  const modulePath = resolve(taskRoot, handlerString.slice(0, dot));
  const exportName = handlerString.slice(dot + 1);
  const file = ['.js', '.mjs', '.cjs'].map((extension) => `${modulePath}${extension}`).find((candidate) => existsSync(candidate));
  if (!file) throw Object.assign(new Error(`Cannot find module '${modulePath}'`), { lambdaType: 'Runtime.ImportModuleError' });
  let loaded;
  try {
    // ES modules load with import(); a .js file is one only under "type": "module" (otherwise CommonJS, which
    // import() also loads, as the client does through require()).
    loaded = await import(pathToFileURL(file).href);
    if (file.endsWith('.js') && packageType(file) !== 'module' && loaded.default) loaded = loaded.default;
  } catch (error) {
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { lambdaType: 'Runtime.ImportModuleError' });
  }
  const handler = loaded[exportName];
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${handlerString} is undefined or not exported`), { lambdaType: 'Runtime.HandlerNotFound' });
  }
  return handler;
}

/** Runs a streaming handler: its stream's bytes are the `/response` request's body, sent as they come. */
async function invokeStreaming(requestId, event, context) {
  let post;
  const posted = new Promise((resolve, reject) => {
    post = { resolve, reject };
  });
  let outgoing;
  const stream = responseStream({
    begin(contentType) {
      outgoing = request(`${api}/invocation/${requestId}/response`, {
        method: 'POST',
        headers: {
          'Lambda-Runtime-Function-Response-Mode': 'streaming',
          'Transfer-Encoding': 'chunked',
          'Content-Type': contentType,
          Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
        },
      });
      outgoing.on('response', (res) => res.resume().on('end', post.resolve));
      outgoing.on('error', post.reject);
    },
    write: (chunk) => outgoing.write(chunk),
    end: () => outgoing.end(),
  });
  try {
    await handler(event, stream, context);
  } catch (error) {
    const type = error instanceof Error ? error.name : 'Error';
    if (!outgoing) throw error;
    outgoing.addTrailers({
      'Lambda-Runtime-Function-Error-Type': type,
      'Lambda-Runtime-Function-Error-Body': Buffer.from(errorBody(type, error)).toString('base64'),
    });
    outgoing.end();
  }
  if (!outgoing) stream.end();
  await posted;
}

let handler;
try {
  installAwsLambda();
  handler = await loadHandler();
} catch (error) {
  await fetch(`${api}/init/error`, {
    method: 'POST',
    headers: { 'Lambda-Runtime-Function-Error-Type': error.lambdaType ?? 'Runtime.Unknown' },
    body: errorBody(error.lambdaType ?? 'Runtime.Unknown', error),
  });
  process.exit(1);
}

for (;;) {
  const next = await fetch(`${api}/invocation/next`);
  if (next.status !== 200) break; // the stand-in has no more events
  const requestId = next.headers.get('lambda-runtime-aws-request-id');
  const deadline = Number(next.headers.get('lambda-runtime-deadline-ms'));
  const event = await next.json();
  const context = {
    awsRequestId: requestId,
    invokedFunctionArn: next.headers.get('lambda-runtime-invoked-function-arn'),
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '256',
    logGroupName: `/aws/lambda/${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    logStreamName: 'stand-in',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
  try {
    if (isStreaming(handler)) {
      await invokeStreaming(requestId, event, context);
      continue;
    }
    const result = await handler(event, context);
    await fetch(`${api}/invocation/${requestId}/response`, { method: 'POST', body: JSON.stringify(result ?? null) });
  } catch (error) {
    const type = error instanceof Error ? error.name : 'Error';
    await fetch(`${api}/invocation/${requestId}/error`, {
      method: 'POST',
      headers: { 'Lambda-Runtime-Function-Error-Type': type },
      body: errorBody(type, error),
    });
  }
}
