// Starts `scripts/start-local.mjs` (what `npm start` runs) as a child on free ports, for the end-to-end tests,
// the load test and the benchmarks. Bounded start-up wait; stop() is Ctrl-C to the whole process group.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort } from './local-env.mjs';

/**
 * `dotEnv`: the text of the `.env` file the stack reads (none by default, so a developer's .env never leaks in).
 * `dir`: where its S3 files and DynamoDB data live (kept after stop(), to start again on the same state); by default
 * a new temporary directory, removed by stop(). `whileStarting(ports)`: runs once the process is spawned, before it
 * is ready (to see what an early caller gets).
 *
 * @param {{ env?: Record<string, string>, apiKey?: string, readyTimeoutMs?: number, dotEnv?: string, dir?: string,
 *   whileStarting?: (ports: { api: number, s3: number, lambda: number, dynamo: number }) => Promise<void> }} [options]
 */
export async function startStackProcess({
  env = {},
  apiKey = 'stack-test-key',
  readyTimeoutMs = 120_000,
  dotEnv = '',
  dir,
  whileStarting,
} = {}) {
  const ports = { api: await freePort(), s3: await freePort(), lambda: await freePort(), dynamo: await freePort() };
  const keepDir = dir !== undefined;
  const s3Dir = dir ?? (await mkdtemp(join(tmpdir(), 'dia-stack-')));
  const envFile = join(s3Dir, 'dot.env');
  await writeFile(envFile, dotEnv);
  const child = spawn(process.execPath, ['scripts/start-local.mjs'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(ports.api),
      S3_PORT: String(ports.s3),
      LAMBDA_PORT: String(ports.lambda),
      DYNAMODB_PORT: String(ports.dynamo),
      LOCAL_S3_DIR: join(s3Dir, 's3'),
      LOCAL_STATE_DIR: join(s3Dir, 'dynamodb'),
      LOCAL_API_KEY: apiKey,
      ENV_FILE: envFile,
      ...env,
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const kill = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const startedAt = Date.now();
  const early = whileStarting?.(ports);
  while (!output.includes('Ctrl-C stops everything')) {
    if (child.exitCode !== null || Date.now() - startedAt > readyTimeoutMs) {
      kill('SIGKILL');
      if (!keepDir) await rm(s3Dir, { recursive: true, force: true });
      throw new Error(`local stack did not start within ${readyTimeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await early;
  return {
    ports,
    apiKey,
    apiUrl: `http://127.0.0.1:${ports.api}/images`,
    s3Endpoint: `http://127.0.0.1:${ports.s3}`,
    readyMs: Date.now() - startedAt,
    output: () => output,
    /** Ctrl-C, then waits for the process to exit and removes its files (unless `dir` was given). */
    async stop() {
      kill('SIGINT');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
      if (!keepDir) await rm(s3Dir, { recursive: true, force: true });
    },
    kill,
  };
}
