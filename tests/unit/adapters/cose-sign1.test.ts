import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { decode, encode } from 'cborg';
import {
  SigningCredentialsError,
  parseSigningCredentials,
  reserveSizeFor,
  signCose,
  type CoseCredentials,
  type SigningAlg,
} from '../../../lib/adapters/c2pa/cose-sign1.js';
import { CLAIM_GENERATOR } from '../../../lib/domain/image-job.js';
import { TEST_C2PA_CHAIN, TEST_C2PA_SIGNER } from '../../support/env.js';

/**
 * The COSE_Sign1 handed to c2pa-rs (RFC 9052), decoded with cborg's decoder and its signature checked with Node's
 * crypto, for each algorithm the key's type selects. c2pa-rs's own acceptance of it is tested end to end
 * (generate-image.test.ts, with the CAI's reader).
 */

const CHAIN = [Buffer.from('leaf certificate DER'), Buffer.from('intermediate DER')];
const PAYLOAD = new Uint8Array(encode({ claim: 'the claim CBOR' }));

const keys: [SigningAlg, number, string | null, KeyObject, KeyObject][] = (
  [
    ['es256', -7, 'sha256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['es384', -35, 'sha384', generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['es512', -36, 'sha512', generateKeyPairSync('ec', { namedCurve: 'P-521' })],
    ['ps256', -37, 'sha256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ed25519', -8, null, generateKeyPairSync('ed25519')],
  ] as const
).map(([alg, id, hash, pair]) => [alg, id, hash, pair.privateKey, pair.publicKey]);

describe('the C2PA claim signature (COSE_Sign1)', () => {
  it.each(keys)(
    '%s: tagged 18, alg %i and x5chain protected, payload detached, exactly the reserved size, verifiable',
    (alg, id, hash, key, publicKey) => {
      const credentials: CoseCredentials = { alg, key, chain: CHAIN };
      const size = reserveSizeFor(credentials);
      const cose = signCose(credentials, PAYLOAD, size);
      expect(cose.length).toBe(size);
      // 0xd2: major type 6 (a tag), value 18 (COSE_Sign1); then the four-element array.
      expect(cose[0]).toBe(0xd2);
      const [protectedBytes, unprotected, payload, signature] = decode(cose.subarray(1), { useMaps: true }) as [
        Uint8Array,
        Map<string, Uint8Array>,
        null,
        Uint8Array,
      ];
      const header = decode(protectedBytes, { useMaps: true }) as Map<number, unknown>;
      expect(header.get(1)).toBe(id);
      expect((header.get(33) as Uint8Array[]).map((der) => Buffer.from(der).toString())).toEqual(CHAIN.map(String));
      expect(payload).toBeNull();
      expect([...unprotected.keys()]).toEqual(['pad']);
      const toBeSigned = encode(['Signature1', protectedBytes, new Uint8Array(0), PAYLOAD]);
      const options = alg.startsWith('es')
        ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
        : alg === 'ps256'
          ? { key: publicKey, padding: 6, saltLength: 32 }
          : { key: publicKey };
      expect(verify(hash, toBeSigned, options, signature)).toBe(true);
      // Another payload does not verify against it.
      expect(verify(hash, encode(['Signature1', protectedBytes, new Uint8Array(0), new Uint8Array([1])]), options, signature)).toBe(false);
    },
  );

  it('puts a single certificate as one byte string, not an array', () => {
    const [, , , key] = keys[0] as (typeof keys)[0];
    const cose = signCose({ alg: 'es256', key, chain: [Buffer.from('only')] }, PAYLOAD, 2100);
    const [protectedBytes] = decode(cose.subarray(1), { useMaps: true }) as [Uint8Array];
    expect(Buffer.from((decode(protectedBytes, { useMaps: true }) as Map<number, Uint8Array>).get(33) as Uint8Array).toString()).toBe(
      'only',
    );
  });

  it('refuses a size too small for the signature rather than handing c2pa-rs a box it cannot fill', () => {
    const [, , , key] = keys[0] as (typeof keys)[0];
    expect(() => signCose({ alg: 'es256', key, chain: CHAIN }, PAYLOAD, 40)).toThrow(SigningCredentialsError);
  });
});

describe('the signing credentials (one PEM text: the key, then the chain)', () => {
  it('reads the C2PA test key and its two certificates as ES256, also with \\n for line breaks (an environment variable)', () => {
    for (const text of [TEST_C2PA_SIGNER, TEST_C2PA_SIGNER.trim().replaceAll('\n', '\\n')]) {
      const credentials = parseSigningCredentials(text);
      expect(credentials.alg).toBe('es256');
      expect(credentials.chain).toHaveLength(2);
    }
  });

  it.each([
    ['no key', TEST_C2PA_CHAIN, /no private key/],
    ['no certificate', TEST_C2PA_SIGNER.slice(0, TEST_C2PA_SIGNER.indexOf('-----BEGIN CERTIFICATE-----')), /no certificate/],
    [
      'a key that is not the certificate’s',
      `${generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' })}${TEST_C2PA_CHAIN}`,
      /not the first certificate/,
    ],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseSigningCredentials(text)).toThrow(message);
  });

  it("names this service's version as package.json does (the manifests' claim generator)", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
    expect(CLAIM_GENERATOR).toEqual({ name: pkg.name, version: pkg.version });
  });
});
