// `npm run invoke [-- events/<file>.json]`: runs the real handler once with `serverless invoke local` and a
// sample API Gateway event, against a local S3 server, and prints the response.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import {
  DEFAULT_LOCAL_API_KEY,
  ROOT,
  SERVERLESS_BIN,
  freePort,
  localEnvironment,
  startLocalDynamo,
  startLocalS3,
} from './local-env.mjs';

// invoke local never exits after a handler load error: bound it.
const TIMEOUT_MS = 90_000;
const eventPath = process.argv[2] ?? 'events/generate-image.json';
const apiKey = process.env.LOCAL_API_KEY || DEFAULT_LOCAL_API_KEY;

const { server: s3, endpoint } = await startLocalS3({
  port: Number(process.env.S3_PORT ?? (await freePort())),
  ...(process.env.LOCAL_S3_DIR ? { directory: process.env.LOCAL_S3_DIR } : {}),
});
const dynamo = await startLocalDynamo({ port: await freePort() });
await rm(`${ROOT}.esbuild`, { recursive: true, force: true });

const child = spawn(
  process.execPath,
  [SERVERLESS_BIN, 'invoke', 'local', '--function', 'generateImage', '--stage', 'local', '--path', eventPath],
  { cwd: ROOT, env: localEnvironment({ s3Endpoint: endpoint, dynamoEndpoint: dynamo.endpoint, apiKey }), detached: true, stdio: 'inherit' },
);
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
await Promise.all([s3.close(), dynamo.close()]);
process.exit(code);
