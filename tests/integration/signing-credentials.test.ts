import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { C2paSigner } from '../../lib/adapters/c2pa/c2pa-signer.js';
import { readC2pa } from '../support/c2pa-reader.js';
import { TEST_C2PA_SIGNER } from '../support/env.js';
import { fixture } from '../support/fixtures.js';

/**
 * docs/deploy.md tells an operator how to make the key and certificate the worker signs Content Credentials with.
 * These are its exact lines, run with openssl, and the result signs an image that the CAI's reader validates and
 * attributes to the organisation the certificate names.
 */

const docs = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8');
const script = /<!-- c2pa-signer:start -->\n```bash\n([\s\S]*?)```\n<!-- c2pa-signer:end -->/.exec(docs)?.[1];
const directory = mkdtempSync(join(tmpdir(), 'c2pa-signer-'));

beforeAll(() => {
  expect(script).toBeDefined();
  execFileSync('bash', ['-euo', 'pipefail', '-c', script as string], { cwd: directory, stdio: 'pipe' });
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe("docs/deploy.md's Content Credentials key and certificate", () => {
  it('signs an image that the CAI’s reader validates, naming the certificate’s organisation', async () => {
    const pem = readFileSync(join(directory, 'c2pa-signer.pem'), 'utf8');
    // One SecureString of the standard tier holds at most 4 KB.
    expect(Buffer.byteLength(pem)).toBeLessThan(4096);
    const signer = new C2paSigner({ credentials: async () => pem, generator: { name: 'durable-image-api', version: '0.1.0' } });
    const signed = await signer.sign(fixture('small.jpg'), 'image/jpeg', { model: 'gpt-image-2', generatedAt: new Date(), inputs: [] });
    const report = await readC2pa(signed, 'image/jpeg');
    expect(report.validationState).toBe('Valid');
    // A private CA is on no trust list: the one thing a reader has to say about it.
    expect(report.failures).toEqual(['signingCredential.untrusted']);
    expect(report.active['signature_info']).toMatchObject({ alg: 'Es256', issuer: 'Example Images', common_name: 'durable-image-api' });
  });

  it('signs with a rotated key as soon as the parameter reads the new one (no restart)', async () => {
    let current = TEST_C2PA_SIGNER;
    const signer = new C2paSigner({ credentials: async () => current, generator: { name: 'durable-image-api', version: '0.1.0' } });
    const issuer = async (): Promise<unknown> => {
      const signed = await signer.sign(fixture('small.png'), 'image/png', { model: 'gpt-image-2', generatedAt: new Date(), inputs: [] });
      return (await readC2pa(signed, 'image/png')).active['signature_info']['issuer'];
    };
    expect(await issuer()).toBe('C2PA Test Signing Cert');
    current = readFileSync(join(directory, 'c2pa-signer.pem'), 'utf8');
    expect(await issuer()).toBe('Example Images');
  });
});
