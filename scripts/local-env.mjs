// Shared by `npm start` and `npm run invoke`: the local S3 server and the environment of the `local` stage.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { startPrivateGate, startS3Gate } from './local-gate.mjs';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SERVERLESS_BIN = fileURLToPath(new URL('../node_modules/serverless/bin/serverless.js', import.meta.url));
export const DEFAULT_LOCAL_API_KEY = 'local-dev-key';

/**
 * Reads `.env` (or the file named by ENV_FILE) into process.env with Node's own parser; variables already set in
 * the environment win, as with `node --env-file`. Returns the file read, if any.
 */
export function loadDotEnv() {
  const file = process.env.ENV_FILE || `${ROOT}.env`;
  if (!existsSync(file)) {
    if (process.env.ENV_FILE) throw new Error(`ENV_FILE=${process.env.ENV_FILE} does not exist`);
    return undefined;
  }
  process.loadEnvFile(file);
  return file;
}

/**
 * Variables the local run sets itself (its own S3, DynamoDB, key and worker), so a value for them in `.env` or the
 * environment is not used; the local run says so when one is set. CLOUDFRONT_DISTRIBUTION_ID has no local meaning.
 */
export const LOCAL_OWNED_VARIABLES = [
  'IMAGE_BUCKET',
  'S3_ENDPOINT',
  'PUBLIC_BASE_URL',
  'STATE_TABLE',
  'DYNAMODB_ENDPOINT',
  'WORKER_FUNCTION_NAME',
  'LAMBDA_ENDPOINT',
  'CLOUDFRONT_DISTRIBUTION_ID',
];

/** The variables of LOCAL_OWNED_VARIABLES that are set, i.e. ignored by this local run. */
export const ignoredLocally = (env = process.env) => LOCAL_OWNED_VARIABLES.filter((name) => (env[name] ?? '') !== '');
export const LOCAL_BUCKET = 'local-images';

/**
 * The credentials of runs that pass none (the benchmarks, which sign with these). `npm start` and `npm run invoke`
 * use a new secret on each run (local-gate.mjs `runCredentials`), so that nothing outside the run can sign.
 */
export const FIXED_CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

// Like the CloudFront response headers policy in serverless.yml: browsers may draw the images into a canvas.
const LOCAL_CORS = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>
<AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>`;

/**
 * The port a variable names (PORT, S3_PORT, ...), or `fallback` when it is unset; anything but a port number stops
 * the command with one line naming the variable (`S3_PORT=41001x` would otherwise surface as a bad URL elsewhere).
 */
export function portFromEnv(command, name, fallback, env = process.env) {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 1 && port <= 65_535)) {
    console.error(`${command}: ${name} must be a port number from 1 to 65535, got "${value}"`);
    process.exit(1);
  }
  return port;
}

/** The local S3 files' directory of this run (LOCAL_S3_DIR, by default .local/s3). */
export const localS3Directory = (env = process.env) => env.LOCAL_S3_DIR || `${ROOT}.local/s3`;

/**
 * Where `npm start` says, while it runs, which local S3 endpoint serves the files of `s3Directory`: `npm run invoke`
 * stores into the same files, and then names the URL `npm start` serves them at.
 */
export const npmStartNote = (s3Directory) => `${s3Directory}.npm-start.json`;

/** What npmStartNote says, when the `npm start` that wrote it still runs. */
export async function runningNpmStart(s3Directory) {
  try {
    const note = JSON.parse(await readFile(npmStartNote(s3Directory), 'utf8'));
    process.kill(note.pid, 0);
    return note;
  } catch {
    return undefined; // none, or its process is gone
  }
}

/** A port that was free a moment ago (for tests and parallel runs). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Runs `start` (a server's start-up); a port already taken ends the command with one line naming the variable
 * that chooses it, instead of a raw EADDRINUSE stack.
 */
export async function onFreePort(command, variable, port, start) {
  try {
    return await start();
  } catch (error) {
    if (error?.code !== 'EADDRINUSE') throw error;
    console.error(`${command}: port ${port} is already in use (is \`npm start\` running?); choose another with ${variable}=<port>`);
    process.exit(1);
  }
}

/**
 * A directory only this user may enter (mkdtemp makes it 0700), for the Unix sockets the inner servers (s3rver,
 * dynalite, serverless-offline's two servers) listen on: no TCP port of theirs exists for a web page or another
 * local user to find; the gates, on the printed ports, are the only way in. In the system's temporary directory,
 * not the repository, because a socket path may have at most 107 bytes. `remove()` deletes it.
 */
export async function privateSocketDirectory() {
  const path = await mkdtemp(join(tmpdir(), 'durable-image-api-'));
  return { path, socket: (name) => join(path, `${name}.sock`), remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Starts s3rver with the image bucket (objects persist in .local/s3 between runs) behind a gate that makes it
 * behave like the deployed bucket and CloudFront (scripts/local-gate.mjs): calls signed with `credentials` (the
 * service's own) pass; an anonymous request may only GET or HEAD the public prefix (`images/`), as CloudFront
 * serves it; anything else, such as a private record with its prompt, is 403 AccessDenied. s3rver alone serves
 * every object to anyone.
 *
 * `server.close()` stops both.
 */
export async function startLocalS3({ port, directory = `${ROOT}.local/s3`, publicPrefix = 'images/', credentials = FIXED_CREDENTIALS }) {
  await mkdir(directory, { recursive: true });
  const sockets = await privateSocketDirectory();
  // s3rver on a Unix socket: only the gate below reaches it.
  const s3rver = new S3rver({
    port: sockets.socket('s3'),
    silent: true,
    directory,
    configureBuckets: [{ name: LOCAL_BUCKET, configs: [LOCAL_CORS] }],
  });
  let gate;
  try {
    await s3rver.run();
    gate = await startS3Gate({ port, targetPort: sockets.socket('s3'), bucket: LOCAL_BUCKET, publicPrefix, credentials });
  } catch (error) {
    await s3rver.close().catch(() => undefined);
    await sockets.remove();
    throw error;
  }
  const server = {
    close: async () => {
      gate.closeAllConnections?.();
      await new Promise((resolve) => gate.close(() => resolve(undefined)));
      await s3rver.close();
      await sockets.remove();
    },
  };
  return { server, endpoint: `http://127.0.0.1:${gate.address().port}` };
}

export const LOCAL_TABLE = 'local-state';

/** The state table as serverless.yml defines it (key `pk`, owner index); TTL is not emulated by dynalite. */
export async function createStateTable(client, name) {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'owner', AttributeType: 'S' },
        { AttributeName: 'listKey', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byOwner',
          KeySchema: [
            { AttributeName: 'owner', KeyType: 'HASH' },
            { AttributeName: 'listKey', KeyType: 'RANGE' },
          ],
          Projection: {
            ProjectionType: 'INCLUDE',
            NonKeyAttributes: ['status', 'model', 'createdAt', 'completedAt', 'result', 'error', 'leaseUntil'],
          },
        },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  // A table is usable once ACTIVE: a write right after CreateTable can meet ResourceNotFoundException (dynalite
  // answered 117 of 300 such writes so, even with createTableMs: 0).
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: name });
}

/** The worker function's name under serverless-offline (`<service>-<stage>-<function>`). */
export const LOCAL_WORKER_FUNCTION = 'durable-image-api-local-runImageJob';

/**
 * dynalite (DynamoDB on loopback) with the state table, behind a gate that takes only calls signed with
 * `credentials` and none from a web page. With `directory`, its data (jobs, quotas, idempotency records) is kept
 * there between runs, like the images in .local/s3; without, it is in memory.
 */
export async function startLocalDynamo({ port, directory, credentials = FIXED_CREDENTIALS }) {
  if (directory) await mkdir(directory, { recursive: true });
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(directory ? { path: directory } : {}) });
  // dynalite on a Unix socket: only the gate below reaches it.
  const sockets = await privateSocketDirectory();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(sockets.socket('dynamodb'), resolve);
  });
  let gate;
  try {
    gate = await startPrivateGate({ port, targetPort: sockets.socket('dynamodb'), credentials });
  } catch (error) {
    await new Promise((resolve) => server.close(() => resolve()));
    await sockets.remove();
    throw error;
  }
  const endpoint = `http://127.0.0.1:${gate.address().port}`;
  // A copy: the SDK writes into the credentials object it is given.
  const client = new DynamoDBClient({ region: 'us-east-1', endpoint, credentials: { ...credentials } });
  try {
    await client.send(new DescribeTableCommand({ TableName: LOCAL_TABLE }));
  } catch (error) {
    if (error?.name !== 'ResourceNotFoundException') throw error;
    await createStateTable(client, LOCAL_TABLE);
  }
  client.destroy();
  return {
    server,
    endpoint,
    close: async () => {
      gate.closeAllConnections?.();
      await new Promise((resolve) => gate.close(() => resolve()));
      await new Promise((resolve) => server.close(() => resolve()));
      await sockets.remove();
    },
  };
}

/**
 * The C2PA test signing key and certificate chain (FOR TESTING ONLY: the C2PA test CA's, from the CAI's c2pa-js;
 * tests/fixtures/README.md), on one line with \n for its line breaks, as the local stage's environment carries it.
 */
export const TEST_C2PA_SIGNER_FILE = `${ROOT}tests/fixtures/c2pa-test-signer.pem`;
export const TEST_C2PA_SIGNER = () => readFileSync(TEST_C2PA_SIGNER_FILE, 'utf8').trim().replaceAll('\n', '\\n');

/** Environment of the `local` stage (serverless.yml `custom.runtimeEnvironment.local` reads these). */
export function localEnvironment({ s3Endpoint, dynamoEndpoint, apiKey, credentials = FIXED_CREDENTIALS, base = process.env }) {
  const useOpenAI = Boolean(base.OPENAI_API_KEY);
  return {
    ...base,
    IMAGE_BUCKET: LOCAL_BUCKET,
    S3_ENDPOINT: s3Endpoint,
    // s3rver serves objects to anonymous GETs at path-style URLs, standing in for CloudFront.
    PUBLIC_BASE_URL: `${s3Endpoint}/${LOCAL_BUCKET}`,
    IMAGE_PROVIDER: base.IMAGE_PROVIDER ?? (useOpenAI ? 'openai' : 'offline'),
    // The local key, and any other callers the developer lists (API_KEY_HASHES in .env), to try what one caller
    // may not do with another's images.
    API_KEY_HASHES: [`local:${createHash('sha256').update(apiKey).digest('hex')}`, base.API_KEY_HASHES].filter(Boolean).join(','),
    STATE_TABLE: LOCAL_TABLE,
    DYNAMODB_ENDPOINT: dynamoEndpoint,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: base.AWS_REGION ?? 'us-east-1',
    // Images are signed locally as deployed (CONTENT_CREDENTIALS=sign), with the test certificate unless one is given.
    ...(base.C2PA_SIGNER || base.C2PA_SIGNER_PARAMETER ? {} : { C2PA_SIGNER: TEST_C2PA_SIGNER() }),
  };
}
