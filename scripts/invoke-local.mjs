// `npm run invoke [-- events/<file>.json]`: runs the real handler once with `serverless invoke local` and a
// sample API Gateway event, against a local S3 server and DynamoDB, and prints the response.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_LOCAL_API_KEY,
  ROOT,
  SERVERLESS_BIN,
  freePort,
  ignoredLocally,
  loadDotEnv,
  localEnvironment,
  localS3Directory,
  onFreePort,
  portFromEnv,
  runningNpmStart,
  startLocalDynamo,
  startLocalS3,
} from './local-env.mjs';
import { configProblem } from './check-config.mjs';
import { runCredentials } from './local-gate.mjs';

// invoke local never exits after a handler load error: bound it.
const TIMEOUT_MS = 90_000;
/** The port `npm start` serves local S3 on: images stored here are then served at the same URL by `npm start`. */
const NPM_START_S3_PORT = 4569;

const envFile = loadDotEnv();
const ignored = ignoredLocally();
if (ignored.length > 0) console.warn(`WARNING: the local run sets ${ignored.join(', ')} itself; the values given for them are ignored.`);
const eventPath = process.argv[2] ?? 'events/generate-image.json';
const apiKey = process.env.LOCAL_API_KEY || DEFAULT_LOCAL_API_KEY;
const credentials = runCredentials();

// A bad value stops here with one line naming it (invoke local would print the handler's stack instead).
const problem = await configProblem(
  localEnvironment({ s3Endpoint: 'http://127.0.0.1:4569', dynamoEndpoint: 'http://127.0.0.1:4570', apiKey }),
);
if (problem) {
  console.error(`npm run invoke: ${problem}${envFile ? ` (settings from ${envFile} and the environment)` : ''}`);
  process.exit(1);
}

const isFree = (port) =>
  new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

// A running `npm start` on the same files serves what this run stores: its port is then left to it.
const s3Directory = localS3Directory();
const npmStart = await runningNpmStart(s3Directory);
const npmStartPort = npmStart ? Number(new URL(npmStart.s3Endpoint).port) : undefined;
const asked = portFromEnv('npm run invoke', 'S3_PORT', undefined);
const s3Port =
  asked !== undefined && asked !== npmStartPort
    ? asked
    : npmStart === undefined && (await isFree(NPM_START_S3_PORT))
      ? NPM_START_S3_PORT
      : await freePort();
const { server: s3, endpoint } = await onFreePort('npm run invoke', 'S3_PORT', s3Port, () =>
  startLocalS3({ port: s3Port, credentials, directory: s3Directory }),
);
// In memory: `npm start` may hold .local/dynamodb open.
const dynamo = await startLocalDynamo({ port: await freePort(), credentials });
// Its own build directory: `npm start` may be running from .esbuild/local, which this must not touch. A stale build
// from an interrupted run would be loaded again (TOOLCHAIN.md), so it starts empty.
const BUILD_DIR = '.esbuild/invoke';
await rm(`${ROOT}${BUILD_DIR}`, { recursive: true, force: true });

// The sample events carry the default local key; with LOCAL_API_KEY set, they are sent with that key instead
// (the unauthorized sample keeps its wrong key).
const work = await mkdtemp(join(tmpdir(), 'dia-invoke-'));
const event = JSON.parse(await readFile(eventPath, 'utf8'));
if (event.headers?.authorization === `Bearer ${DEFAULT_LOCAL_API_KEY}`) event.headers.authorization = `Bearer ${apiKey}`;
const eventFile = join(work, 'event.json');
await writeFile(eventFile, JSON.stringify(event));

const child = spawn(
  process.execPath,
  [SERVERLESS_BIN, 'invoke', 'local', '--function', 'generateImage', '--stage', 'local', '--path', eventFile],
  {
    cwd: ROOT,
    env: {
      ...localEnvironment({ s3Endpoint: endpoint, dynamoEndpoint: dynamo.endpoint, apiKey, credentials }),
      ESBUILD_WORK_FOLDER: BUILD_DIR,
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let output = '';
child.stdout.setEncoding('utf8');
child.stdout.on('data', (text) => {
  output += text;
  process.stdout.write(text);
});
const timer = setTimeout(() => {
  console.error(`invoke local did not finish within ${TIMEOUT_MS / 1000} s; stopping it`);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}, TIMEOUT_MS);
const code = await new Promise((resolve) => child.on('exit', (exitCode, signal) => resolve(signal ? 1 : (exitCode ?? 1))));
clearTimeout(timer);
await Promise.all([s3.close(), dynamo.close(), rm(work, { recursive: true, force: true })]);

// The URL of a stored image: its S3 server stops with this command, so say where and when it serves.
const url = /\\"url\\":\\"([^"\\]+)\\"/.exec(output)?.[1];
if (url) {
  const served = npmStart ? url.replace(endpoint, npmStart.s3Endpoint) : undefined;
  console.log(
    served
      ? `\nImage URL: ${served}\nServed now by the running \`npm start\` (the same local S3 files, in ${s3Directory}).`
      : s3Port === NPM_START_S3_PORT && !process.env.LOCAL_S3_DIR
        ? `\nImage URL: ${url}\nIt is served while \`npm start\` runs (same local S3 files in .local/s3, same port ${s3Port}).`
        : `\nImage URL: ${url}\nIt does not serve now: this run's local S3 server (port ${s3Port}) has stopped. The file is in ${s3Directory}.`,
  );
}
if (envFile) console.log(`Settings from ${envFile} and the environment.`);
process.exit(code);
