// Starts `scripts/start-local.mjs` (what `npm start` runs) as a child on free ports, for the end-to-end tests,
// the load test and the benchmarks. Bounded start-up wait; stop() is Ctrl-C to the whole process group.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort } from './local-env.mjs';

/**
 * A port was free when chosen, but another process (a parallel test binding port 0) may take it before the stack
 * binds it: `npm start` then stops with its one-line "already in use" message, and the stack starts again on other
 * ports, at most this many times.
 */
const PORT_ATTEMPTS = 3;

/** Four distinct ports that were free a moment ago. */
async function freePorts() {
  const chosen = new Set();
  while (chosen.size < 4) chosen.add(await freePort());
  const [api, s3, lambda, dynamo] = [...chosen];
  return { api, s3, lambda, dynamo };
}

/**
 * `dotEnv`: the text of the `.env` file the stack reads (none by default, so a developer's .env never leaks in).
 * `dir`: where its S3 files and DynamoDB data live (kept after stop(), to start again on the same state); by default
 * a new temporary directory, removed by stop(). `whileStarting(ports)`: runs once the process is spawned, before it
 * is ready (to see what an early caller gets).
 *
 * @param {{ env?: Record<string, string>, apiKey?: string, readyTimeoutMs?: number, dotEnv?: string, dir?: string,
 *   whileStarting?: (ports: { api: number, s3: number, lambda: number, dynamo: number }) => Promise<void> }} [options]
 */
export async function startStackProcess(options = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(await freePorts(), options);
    } catch (error) {
      if (!(error instanceof PortTaken) || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

class PortTaken extends Error {}

async function startOnce(ports, { env = {}, apiKey = 'stack-test-key', readyTimeoutMs = 120_000, dotEnv = '', dir, whileStarting } = {}) {
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
      if (child.exitCode !== null && /is already in use/.test(output)) throw new PortTaken(output);
      throw new Error(`local stack did not start within ${readyTimeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await early;
  return {
    ports,
    /** The start-local process (its children: serverless-offline, in a process group of its own, and the worker). */
    pid: child.pid,
    /** Its local S3 files (LOCAL_S3_DIR). */
    s3Directory: join(s3Dir, 's3'),
    apiKey,
    apiUrl: `http://127.0.0.1:${ports.api}/images`,
    s3Endpoint: `http://127.0.0.1:${ports.s3}`,
    readyMs: Date.now() - startedAt,
    output: () => output,
    /**
     * Ctrl-C (start-local then stops serverless-offline's own process group too), then waits for the process to
     * exit and removes its files (unless `dir` was given). Bounded: after 20 s the group is killed.
     */
    async stop() {
      kill('SIGINT');
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
      const timer = setTimeout(() => kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      if (!keepDir) await rm(s3Dir, { recursive: true, force: true });
    },
    kill,
  };
}
