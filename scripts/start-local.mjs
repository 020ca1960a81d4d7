// `npm start`: the whole service on this machine with no AWS account and no OpenAI key.
// Starts a local S3 server (s3rver) with the bucket, then the HTTP API (serverless-offline, stage `local`),
// prints a ready-to-paste curl, and stops both on Ctrl-C.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import {
  DEFAULT_LOCAL_API_KEY,
  LOCAL_WORKER_FUNCTION,
  ROOT,
  SERVERLESS_BIN,
  ignoredLocally,
  loadDotEnv,
  localEnvironment,
  localS3Directory,
  npmStartNote,
  onFreePort,
  portFromEnv,
  privateSocketDirectory,
  startLocalDynamo,
  startLocalS3,
} from './local-env.mjs';
import { configProblem } from './check-config.mjs';
import { asyncInvoke, innerAddress, runCredentials, startPrivateGate } from './local-gate.mjs';

// Whether the shell itself has the key (then a printed curl may use $LOCAL_API_KEY), before .env adds to it.
const keyInShell = Boolean(process.env.LOCAL_API_KEY);
const envFile = loadDotEnv();
const ignored = ignoredLocally();

const port = portFromEnv('npm start', 'PORT', 3000);
const s3Port = portFromEnv('npm start', 'S3_PORT', 4569);
const lambdaPort = portFromEnv('npm start', 'LAMBDA_PORT', 3002);
const dynamoPort = portFromEnv('npm start', 'DYNAMODB_PORT', 4570);
const apiKey = process.env.LOCAL_API_KEY || DEFAULT_LOCAL_API_KEY;
// Jobs, quotas and idempotency records are kept here between runs, as the images are in .local/s3.
const stateDir = process.env.LOCAL_STATE_DIR || `${ROOT}.local/dynamodb`;
// This run's AWS secret: the local S3, DynamoDB and Lambda ports take only calls signed with it.
const credentials = runCredentials();
const READY_TIMEOUT_MS = 120_000;
const OFFLINE_STOP_TIMEOUT_MS = 10_000;
const startedAt = Date.now();

// A bad value (DAILY_IMAGE_LIMIT=fifty in .env) stops here with one line naming it, before anything starts.
const problem = await configProblem(
  localEnvironment({ s3Endpoint: `http://127.0.0.1:${s3Port}`, dynamoEndpoint: `http://127.0.0.1:${dynamoPort}`, apiKey }),
);
if (problem) {
  console.error(`npm start: ${problem}${envFile ? ` (settings from ${envFile} and the environment)` : ''}`);
  process.exit(1);
}

// One `npm start` per state directory: a second one's DynamoDB would find the database locked and die with a stack.
const stateLock = `${stateDir}/npm-start.pid`;
await mkdir(stateDir, { recursive: true });
const holder = Number(await readFile(stateLock, 'utf8').catch(() => '0'));
const holderAlive = (() => {
  if (!holder || holder === process.pid) return false;
  try {
    process.kill(holder, 0);
    return true;
  } catch {
    return false; // stale: that process is gone
  }
})();
if (holderAlive) {
  console.error(
    `npm start: the local state in ${stateDir} is in use by another npm start (process ${holder}); stop it, or choose another with LOCAL_STATE_DIR=<dir>`,
  );
  process.exit(1);
}
await writeFile(stateLock, String(process.pid));

const s3Directory = localS3Directory();
const { server: s3, endpoint } = await onFreePort('npm start', 'S3_PORT', s3Port, () =>
  startLocalS3({ port: s3Port, credentials, directory: s3Directory }),
);
// For `npm run invoke`, which stores into the same files: the endpoint that serves them while this runs.
await writeFile(npmStartNote(s3Directory), JSON.stringify({ pid: process.pid, s3Endpoint: endpoint }), { mode: 0o600 });
const dynamo = await onFreePort('npm start', 'DYNAMODB_PORT', dynamoPort, () =>
  startLocalDynamo({ port: dynamoPort, credentials, directory: stateDir }),
);
const env = localEnvironment({ s3Endpoint: endpoint, dynamoEndpoint: dynamo.endpoint, apiKey, credentials });
// For `npm run keys` / `npm run usage` too: this run's local table and the credentials its gate takes (the file is
// this user's only, and the secret dies with the run).
await writeFile(
  npmStartNote(s3Directory),
  JSON.stringify({ pid: process.pid, s3Endpoint: endpoint, dynamoEndpoint: dynamo.endpoint, table: env.STATE_TABLE, credentials }),
  { mode: 0o600 },
);
// serverless-offline listens on Unix sockets in a directory only this user may enter (hapi takes a socket path as
// its port): its API behind the front door on PORT (see below), its Lambda invoke API behind a gate on LAMBDA_PORT
// that takes only this run's signed calls and runs Event invocations as Lambda does (local-gate.mjs). No TCP port
// of theirs exists for a web page or another local user to find.
const sockets = await privateSocketDirectory();
const offlinePort = sockets.socket('offline-http');
// The /v1 function URL (streamed, as on AWS): scripts/function-url.mjs on its own socket, behind the same front door.
const functionUrlSocket = sockets.socket('v1-function-url');
const V1_FUNCTION = `${ROOT}.esbuild/local/.build/functions/openai-compatible/local-handler.js`;
/** serverless.yml's `openaiCompatible` timeout. */
const V1_TIMEOUT_S = 300;
const offlineLambdaPort = sockets.socket('offline-lambda');
env.PORT = offlinePort;
env.LAMBDA_PORT = offlineLambdaPort;
const invoker = asyncInvoke({ targetPort: offlineLambdaPort });
const lambdaGate = await onFreePort('npm start', 'LAMBDA_PORT', lambdaPort, () =>
  startPrivateGate({ port: lambdaPort, targetPort: offlineLambdaPort, credentials, handle: invoker.handle }),
);
// Jobs run as in AWS: the API invokes the worker asynchronously, here through serverless-offline's invoke port.
// LOCAL_WORKER=off runs them inline in the API function instead (the single-function mode of `invoke local`).
const useWorker = process.env.LOCAL_WORKER !== 'off';
env.WORKER_FUNCTION_NAME = useWorker ? LOCAL_WORKER_FUNCTION : '';
env.LAMBDA_ENDPOINT = useWorker ? `http://127.0.0.1:${lambdaPort}` : '';

// Until serverless-offline says it is ready, the front door answers 503 with Retry-After (a browser or script that
// comes early retries; a 502 would read as a broken service).
let ready = false;
const STARTING_RETRY_AFTER_S = 2;
const starting = (res) =>
  res
    .writeHead(503, { 'content-type': 'application/json', 'retry-after': String(STARTING_RETRY_AFTER_S) })
    .end(
      JSON.stringify({ error: { code: 'service_starting', message: 'The local API is starting; retry in a moment.', requestId: 'local' } }),
    );

/**
 * The front door on PORT, in front of serverless-offline: it passes everything through, except that it gives a
 * body sent without Content-Type an explicit `application/octet-stream`. serverless-offline would otherwise
 * invent `application/json` for it, where API Gateway passes no Content-Type and the API answers 415.
 */
const frontDoor = createHttpServer((req, res) => {
  if (!ready) {
    req.resume();
    starting(res);
    return;
  }
  const headers = { ...req.headers };
  const hasBody = Number(headers['content-length'] ?? 0) > 0 || headers['transfer-encoding'] !== undefined;
  if (hasBody && headers['content-type'] === undefined) headers['content-type'] = 'application/octet-stream';
  // /v1 is its own function on AWS (a function URL that streams); everything else is the HTTP API's.
  const target = req.url?.startsWith('/v1/') ? functionUrlSocket : offlinePort;
  const forward = httpRequest({ ...innerAddress(target), method: req.method, path: req.url, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  forward.on('error', () => {
    if (!res.headersSent) starting(res);
    else res.destroy();
  });
  req.pipe(forward);
});
await onFreePort(
  'npm start',
  'PORT',
  port,
  () =>
    new Promise((resolve, reject) => {
      frontDoor.once('error', reject);
      frontDoor.listen(port, '127.0.0.1', resolve);
    }),
);

// A stale build from an interrupted run would be served instead of the current code.
await rm(`${ROOT}.esbuild/local`, { recursive: true, force: true });

// Detached: serverless-offline gets its own process group, so stopping it stops every child it started.
const offline = spawn(process.execPath, [SERVERLESS_BIN, 'offline', 'start', '--stage', 'local'], {
  cwd: ROOT,
  env,
  detached: true,
  stdio: ['ignore', 'pipe', 'pipe'],
});

/** The /v1 function URL's process, started once serverless-offline has built the functions. */
let functionUrl;
function startFunctionUrl() {
  functionUrl = spawn(process.execPath, [`${ROOT}scripts/function-url.mjs`, V1_FUNCTION, functionUrlSocket, String(V1_TIMEOUT_S)], {
    cwd: ROOT,
    env: { ...env, POWERTOOLS_SERVICE_NAME: 'durable-image-api', AWS_LAMBDA_FUNCTION_NAME: 'openaiCompatible' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  functionUrl.on('exit', (code) => {
    if (!stopping) {
      console.error(`npm start: the /v1 function URL stopped (exit ${code}); stopping`);
      void stop(1);
    }
  });
  functionUrl.stderr.pipe(process.stderr);
  return new Promise((resolve) => {
    functionUrl.stdout.setEncoding('utf8');
    let started = false;
    functionUrl.stdout.on('data', (text) => {
      if (!started && text.includes('function URL ready')) {
        started = true;
        resolve();
      } else process.stdout.write(text);
    });
  });
}

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  const signalOffline = (signal) => {
    try {
      process.kill(-offline.pid, signal);
    } catch {
      // already gone
    }
  };
  // Wait for serverless-offline to exit: its API and Lambda ports are closed only then, and a caller that sees
  // this process gone (a test, a script restarting the stack) must find every port free. Bounded: after 10 s the
  // group is killed.
  const offlineGone =
    offline.exitCode !== null || offline.signalCode !== null ? Promise.resolve() : new Promise((resolve) => offline.once('exit', resolve));
  signalOffline('SIGTERM');
  functionUrl?.kill('SIGTERM');
  const functionUrlGone =
    !functionUrl || functionUrl.exitCode !== null || functionUrl.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => functionUrl.once('exit', resolve));
  const killTimer = setTimeout(() => signalOffline('SIGKILL'), OFFLINE_STOP_TIMEOUT_MS);
  frontDoor.closeAllConnections();
  invoker.stop();
  lambdaGate.closeAllConnections();
  await Promise.all([
    offlineGone,
    functionUrlGone,
    s3.close().catch(() => undefined),
    new Promise((resolve) => frontDoor.close(resolve)),
    new Promise((resolve) => lambdaGate.close(resolve)),
  ]);
  // After serverless-offline: a worker still writing would otherwise meet a closed database.
  await dynamo.close();
  await Promise.all([rm(stateLock, { force: true }), rm(npmStartNote(s3Directory), { force: true }), sockets.remove()]);
  clearTimeout(killTimer);
  // Children of serverless-offline (worker runtimes) share its group; make sure none outlives it.
  signalOffline('SIGKILL');
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
process.on('SIGHUP', () => void stop(0));
// `npm start` runs this under npm and a shell; a signal to npm alone (kill -TERM <npm's pid>, a supervisor) does not
// always reach this process, which would then keep every port and the state lock. When the process that started
// it is gone (this process is handed to init or a subreaper), it stops as on Ctrl-C.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop(0);
}, 500).unref();
offline.on('exit', (code) => void stop(code ?? 1));

const readyTimer = setTimeout(() => {
  console.error(`serverless-offline did not become ready within ${READY_TIMEOUT_MS / 1000} s`);
  void stop(1);
}, READY_TIMEOUT_MS);

// serverless-offline's own start-up lines name its internal ports ("Server ready: http://127.0.0.1:<internal>", a
// route box): a newcomer would use the wrong address. Its standard output is held back until it is ready, and
// shown only if it stops before; after that, no line naming an internal port is passed on.
let announced = false;
let held = '';
const internalAddress = new RegExp(`(127\\.0\\.0\\.1|localhost):${sockets.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
const relay = (stream, target, { holdUntilReady }) => {
  stream.setEncoding('utf8');
  let partial = '';
  stream.on('data', (text) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!announced && /Server ready:/.test(line)) {
        announced = true;
        held = '';
        // The functions are built now: the /v1 function URL can load its own.
        void startFunctionUrl().then(() => {
          ready = true;
          clearTimeout(readyTimer);
          announce();
        });
      } else if (!announced && holdUntilReady) {
        held += `${line}\n`;
      } else if (!internalAddress.test(line)) {
        target.write(`${line}\n`);
      }
    }
  });
};
relay(offline.stdout, process.stdout, { holdUntilReady: true });
relay(offline.stderr, process.stderr, { holdUntilReady: false });
offline.on('exit', () => {
  if (!announced && held) process.stderr.write(held);
});

function announce() {
  // `openai` means `live`: each model goes to the provider its name says.
  const live = env.IMAGE_PROVIDER === 'live' || env.IMAGE_PROVIDER === 'openai';
  const provider = live ? `live (${env.IMAGE_MODELS || env.IMAGE_MODEL || 'gpt-image-2'})` : 'offline (no key needed)';
  const ownKey = apiKey !== DEFAULT_LOCAL_API_KEY;
  // Double quotes, so that the shell expands $LOCAL_API_KEY (single quotes never would: every call a 401).
  const authorization = ownKey ? '"Authorization: Bearer $LOCAL_API_KEY"' : `'Authorization: Bearer ${apiKey}'`;
  const keyLine = !ownKey
    ? `${apiKey}  (the default local key; set LOCAL_API_KEY to change it)`
    : keyInShell
      ? 'from LOCAL_API_KEY'
      : `from LOCAL_API_KEY in ${envFile}: export it in this shell to use the curls below`;
  if (ignored.length > 0) {
    console.warn(`\nWARNING: the local run sets ${ignored.join(', ')} itself; the values given for them are ignored.`);
  }
  console.log(`
durable-image-api is running locally (ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s)
  page         http://127.0.0.1:${port}/  (the Generate page)
  API          http://127.0.0.1:${port}/images  (POST, GET; GET/DELETE /images/<id>; contract at /openapi.json)
  OpenAI SDKs  base URL http://127.0.0.1:${port}/v1  (images.generate, stream too; models.list; the same key)
  quotas       ${env.DAILY_IMAGE_LIMIT || 50} images/day per caller (local DynamoDB; jobs and quotas kept in ${process.env.LOCAL_STATE_DIR || '.local/dynamodb'})
  image store  ${endpoint}/${env.IMAGE_BUCKET}/images/...  (local S3, files in ${process.env.LOCAL_S3_DIR ?? '.local/s3'})
  provider     ${provider}${env.OFFLINE_DELAY_MS ? ` (takes ${env.OFFLINE_DELAY_MS} ms per image)` : ''}
  worker       ${useWorker ? `${LOCAL_WORKER_FUNCTION} (asynchronous invoke on port ${lambdaPort})` : 'none: jobs run inline in the API function (LOCAL_WORKER=off)'}
  API key      ${keyLine}
  settings     ${envFile ? `${envFile} and the environment` : 'the environment (no .env file)'}

Try it (waits for the image: 201 with its permanent URL):
  curl -sS -X POST http://127.0.0.1:${port}/images \\
    -H ${authorization} \\
    -H 'Content-Type: application/json' \\
    -d '{"prompt":"a lighthouse on a cliff at dawn, watercolour"}'

Or answer at once (202 + Location) and poll, as for slow generations (OFFLINE_DELAY_MS=40000 npm start shows it):
  curl -sS -i -X POST http://127.0.0.1:${port}/images -H 'Prefer: respond-async' \\
    -H ${authorization} -H 'Content-Type: application/json' -d '{"prompt":"a red fox"}'
  curl -sS http://127.0.0.1:${port}/images/<id> -H ${authorization}

Open the "url" of the answer in a browser to see the image. Ctrl-C stops everything.
`);
}
