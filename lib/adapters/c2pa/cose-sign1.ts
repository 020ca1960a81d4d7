import { createPrivateKey, sign as cryptoSign, X509Certificate, type KeyObject } from 'node:crypto';
import { Tagged, encode } from 'cborg';

/**
 * A C2PA claim signature: a COSE_Sign1 (RFC 9052) with a detached payload, the signing certificate chain in the
 * protected header (`x5chain`, label 33), padded to exactly the size c2pa-rs reserved for it.
 *
 * Why here and not a COSE library: c2pa-wasm's JS signer is a "direct COSE" signer (`wasm_signer.rs`:
 * `direct_cose_handling` true, no certificates), so it must hand back the whole COSE_Sign1, and c2pa-rs places it
 * into a box of `reserveSize` bytes without padding it (it pads only the COSE it builds itself, `pad_cose_sig` in
 * c2pa-rs `crypto/cose/sign.rs`). Looked at: @auth0/cose 1.0.2 and cose-kit 1.7.1 (bring a WebCrypto polyfill, pkijs
 * and jose 4 into the worker, attach the payload and cannot pad), @ldclabs/cose-ts 1.5.0 (its own noble crypto in
 * place of Node's, no padding). The CBOR is cborg's; the signature is Node's crypto; this file only arranges them.
 */

/** C2PA's signing algorithms this service signs with (the key's type decides). */
export type SigningAlg = 'es256' | 'es384' | 'es512' | 'ps256' | 'ed25519';

/** COSE algorithm ids (IANA COSE Algorithms registry) and the hash each signs with. */
const COSE_ALG: Record<SigningAlg, { id: number; hash: string | null }> = {
  es256: { id: -7, hash: 'sha256' },
  es384: { id: -35, hash: 'sha384' },
  es512: { id: -36, hash: 'sha512' },
  ps256: { id: -37, hash: 'sha256' },
  ed25519: { id: -8, hash: null },
};

const COSE_SIGN1_TAG = 18;
const HEADER_ALG = 1;
const HEADER_X5CHAIN = 33;

export interface CoseCredentials {
  alg: SigningAlg;
  key: KeyObject;
  /** DER certificates: the signing certificate first, then the intermediates (not the root). */
  chain: Buffer[];
}

/** A clear refusal of a key or chain that cannot sign C2PA claims (the image is then stored unsigned). */
export class SigningCredentialsError extends Error {
  override name = 'SigningCredentialsError';
}

/**
 * The key and certificate chain from one PEM text (a private key block, then the signing certificate, then any
 * intermediates), as kept in one SSM SecureString. The algorithm follows from the key; the key must be the
 * certificate's.
 */
export function parseSigningCredentials(pem: string): CoseCredentials {
  const text = pem.replace(/\\n/g, '\n');
  const keyBlock = /-----BEGIN (?:EC |RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:EC |RSA )?PRIVATE KEY-----/.exec(text)?.[0];
  if (!keyBlock) throw new SigningCredentialsError('no private key block in the signing credentials');
  const certificates = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (certificates.length === 0) throw new SigningCredentialsError('no certificate in the signing credentials');
  const key = createPrivateKey(keyBlock);
  const chain = certificates.map((block) => new X509Certificate(block));
  const leaf = chain[0] as X509Certificate;
  if (!leaf.checkPrivateKey(key)) throw new SigningCredentialsError('the private key is not the first certificate’s');
  return { alg: algorithmOf(key), key, chain: chain.map((certificate) => certificate.raw) };
}

function algorithmOf(key: KeyObject): SigningAlg {
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return 'ed25519';
  if (type === 'rsa' || type === 'rsa-pss') return 'ps256';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'es256';
    if (curve === 'secp384r1') return 'es384';
    if (curve === 'secp521r1') return 'es512';
  }
  throw new SigningCredentialsError(`a ${type ?? 'unknown'} key cannot sign C2PA claims (EC P-256/384/521, Ed25519 or RSA)`);
}

/** Room for the COSE structure around the chain and the signature: headers, the signature (<= 512 B) and padding. */
export const reserveSizeFor = (credentials: CoseCredentials): number => credentials.chain.reduce((sum, der) => sum + der.length, 0) + 2048;

/** Signs `payload` (the claim's CBOR) and returns the tagged COSE_Sign1, exactly `size` bytes long. */
export function signCose(credentials: CoseCredentials, payload: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const { id, hash } = COSE_ALG[credentials.alg];
  const chain = credentials.chain.map((der) => new Uint8Array(der));
  const protectedHeader = encode(
    new Map<number, unknown>([
      [HEADER_ALG, id],
      [HEADER_X5CHAIN, chain.length === 1 ? chain[0] : chain],
    ]),
  );
  // Sig_structure (RFC 9052 section 4.4): the context, the protected header, no external data, the payload.
  const toBeSigned = encode(['Signature1', protectedHeader, new Uint8Array(0), payload]);
  const signature = cryptoSign(hash, toBeSigned, {
    key: credentials.key,
    // COSE's ECDSA signatures are r||s (RFC 9053 section 2.1), not DER; PS256 is RSASSA-PSS with a salt of the hash's length.
    ...(credentials.alg.startsWith('es') ? { dsaEncoding: 'ieee-p1363' as const } : {}),
    ...(credentials.alg === 'ps256' ? { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 } : {}),
  });
  const sign1 = (padding: number): Uint8Array =>
    encode(new Tagged(COSE_SIGN1_TAG, [protectedHeader, new Map([['pad', new Uint8Array(padding)]]), null, new Uint8Array(signature)]));
  // The byte string's length prefix grows at 24 and 256 bytes, so the first guess may overshoot by a byte or two.
  let padding = Math.max(0, size - sign1(0).length);
  let cose = sign1(padding);
  while (cose.length > size && padding > 0) cose = sign1(--padding);
  if (cose.length !== size) throw new SigningCredentialsError(`the signature does not fit the ${size} bytes reserved for it`);
  return new Uint8Array(cose);
}
