import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startStackProcess } from '../../scripts/stack-process.mjs';
import { ROOT } from '../support/processes.js';

/**
 * The operator's side on `npm start`: `npm run keys` issues and revokes keys in the local table, `npm run usage`
 * reads the day back, with no deploy and no HTTP surface for admin.
 */

const run = promisify(execFile);
/** The revocation bound of this stack (API_KEY_CACHE_SECONDS): short, so the test can measure it. */
const BOUND_S = 2;
let stack: Awaited<ReturnType<typeof startStackProcess>>;

beforeAll(async () => {
  stack = await startStackProcess({ env: { API_KEY_CACHE_SECONDS: String(BOUND_S) } });
}, 150_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

/** `npm run <script> -- args` against this stack's local table (its LOCAL_S3_DIR names its note). */
async function npmRun(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [`${ROOT}scripts/${script}.mjs`, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOCAL_S3_DIR: stack.s3Directory, STATE_TABLE: '' },
    timeout: 60_000,
  });
  return stdout;
}

const generate = (key: string) =>
  fetch(`http://127.0.0.1:${stack.ports.api}/images`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a lighthouse at dawn' }),
  });

describe('npm run keys and npm run usage on npm start', () => {
  it('issues a key limited to 2 images a day, revokes it within the bound, and reports its day beside the others', async () => {
    // Act: create (the key is printed once), use it to its limit, revoke it.
    const created = JSON.parse(await npmRun('keys', 'create', '--name', 'partner', '--daily-images', '2', '--json')) as {
      key: string;
      prefix: string;
    };
    expect(created.key).toMatch(/^dia_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}$/);
    const statuses = [];
    for (let round = 0; round < 3; round += 1) statuses.push((await generate(created.key)).status);
    expect(statuses).toEqual([201, 201, 429]);
    expect((await generate(stack.apiKey)).status).toBe(201); // another caller, beside it
    const revokedAt = Date.now();
    expect(await npmRun('keys', 'revoke', created.prefix)).toContain(`Revoked ${created.prefix}`);
    // Measured: how long until the next call is refused (every 100 ms), within the stated bound.
    let refusedAfterMs: number | undefined;
    while (Date.now() - revokedAt < (BOUND_S + 2) * 1000) {
      const answer = await fetch(`http://127.0.0.1:${stack.ports.api}/usage`, { headers: { authorization: `Bearer ${created.key}` } });
      if (answer.status === 401) {
        refusedAfterMs = Date.now() - revokedAt;
        expect(((await answer.json()) as { error: { message: string } }).error.message).toContain('revoked');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    console.log(`revocation took effect after ${refusedAfterMs} ms (bound ${BOUND_S * 1000} ms)`);
    expect(refusedAfterMs).toBeLessThanOrEqual(BOUND_S * 1000 + 500);
    // Assess: the listing and the day's usage.
    const keys = JSON.parse(await npmRun('keys', 'list', '--json')) as { prefix: string; name: string; state: string }[];
    expect(keys).toContainEqual(expect.objectContaining({ prefix: created.prefix, name: 'partner', state: 'revoked' }));
    const day = JSON.parse(await npmRun('usage', '--json')) as {
      callers: { caller: string; name: string; images: number; spendMicroUsd: number }[];
      byModel: { caller: string; model: string; images: number }[];
    };
    expect(day.callers).toContainEqual(expect.objectContaining({ caller: `api-key:${created.prefix}`, name: 'partner', images: 2 }));
    expect(day.callers).toContainEqual(expect.objectContaining({ caller: 'api-key:local', images: 1 }));
    expect(day.byModel).toContainEqual(expect.objectContaining({ caller: `api-key:${created.prefix}`, model: 'gpt-image-2', images: 2 }));
    const table = await npmRun('usage');
    expect(table).toMatch(new RegExp(`api-key:${created.prefix}\\s+partner\\s+2\\s`));
  }, 90_000);

  it("passes the deploy workflow's smoke check against npm start, spending nothing, and revokes its key", async () => {
    const before = JSON.parse(await npmRun('usage', '--json')) as { callers: { images: number }[] };
    const output = await npmRun('smoke', '--api', `http://127.0.0.1:${stack.ports.api}`);
    expect(output).toContain('smoke check passed');
    expect(output).toMatch(/ok {4}POST \/images refused by validation/);
    const keys = JSON.parse(await npmRun('keys', 'list', '--json')) as { name: string; state: string }[];
    expect(keys.filter((key) => key.name === 'deploy-smoke-check').map((key) => key.state)).toEqual(['revoked']);
    const after = JSON.parse(await npmRun('usage', '--json')) as { callers: { images: number }[] };
    const images = (day: { callers: { images: number }[] }) => day.callers.reduce((sum, caller) => sum + caller.images, 0);
    expect(images(after)).toBe(images(before));
  }, 60_000);

  it('fails the smoke check, naming the step, when the stage does not answer', async () => {
    const failure = await npmRun('smoke', '--api', 'http://127.0.0.1:9', '--timeout', '2000').catch(
      (error: { stderr: string; stdout: string; code: number }) => error,
    );
    expect(failure).toMatchObject({ code: 1, stderr: expect.stringContaining('the deployed stage failed: GET / (the Generate page)') });
  }, 60_000);

  it('refuses bad input with one line and no stack trace', async () => {
    const failure = await npmRun('keys', 'revoke', 'dia_00000000').catch((error: { stderr: string; code: number }) => error);
    expect(failure).toMatchObject({ code: 1, stderr: expect.stringContaining('no key with prefix dia_00000000') });
    const badLimit = await npmRun('keys', 'create', '--name', 'x', '--daily-images', 'lots').catch((error: { stderr: string }) => error);
    expect(badLimit).toMatchObject({ stderr: expect.stringContaining('--daily-images must be a whole number') });
  }, 60_000);
});
