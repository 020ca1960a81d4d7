/**
 * API keys issued by the operator (`npm run keys`) and kept in the state table: the key's format, its hash, and
 * what its record says about a caller. Pure code.
 *
 * A key is `dia_<8 id characters>_<32 secret characters><6 checksum characters>` (base62). The id with its prefix
 * (`dia_Ab3dE6gH`) is shown in lists and logs; the secret is shown once, at creation, and only its SHA-256 is kept.
 * The checksum (CRC-32 of the rest, as GitHub's tokens carry one: https://github.blog/engineering/platform-security/
 * behind-githubs-new-authentication-token-formats/) lets a mistyped or invented key be refused without a read of
 * the table: a flood of random keys costs nothing but the check.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_PREFIX = 'dia_';
const ID_LENGTH = 8;
const SECRET_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const KEY_PATTERN = /^dia_([0-9A-Za-z]{8})_([0-9A-Za-z]{38})$/;

/** `count` base62 characters from `bytes` (rejection sampling: no character is likelier than another). */
function base62(count: number, random: (size: number) => Buffer): string {
  let out = '';
  while (out.length < count) {
    for (const byte of random(count * 2)) {
      if (byte < 248 && out.length < count) out += BASE62[byte % 62];
    }
  }
  return out;
}

function checksumOf(body: string): string {
  let value = crc32(body);
  let out = '';
  for (let index = 0; index < CHECKSUM_LENGTH; index += 1) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/** A new key: the key itself (shown once), the prefix it is known by, and the hash that is stored. */
export function newApiKey(random: (size: number) => Buffer = randomBytes): { key: string; prefix: string; hash: string } {
  const body = `${KEY_PREFIX}${base62(ID_LENGTH, random)}_${base62(SECRET_LENGTH, random)}`;
  const key = `${body}${checksumOf(body)}`;
  return { key, prefix: key.slice(0, KEY_PREFIX.length + ID_LENGTH), hash: apiKeyHash(key) };
}

/** The key's prefix when it is a well-formed issued key (its checksum holds), else undefined. */
export function issuedKeyPrefix(key: string): string | undefined {
  const match = KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const body = key.slice(0, key.length - CHECKSUM_LENGTH);
  return checksumOf(body) === key.slice(-CHECKSUM_LENGTH) ? key.slice(0, KEY_PREFIX.length + ID_LENGTH) : undefined;
}

export const apiKeyHash = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** A key as the table keeps it. Limits left out take the deployment's defaults. */
export interface ApiKeyRecord {
  hash: string;
  prefix: string;
  name: string;
  state: 'active' | 'revoked';
  createdAt: number;
  expiresAt?: number | undefined;
  revokedAt?: number | undefined;
  /** The models this key may use (absent: every model the deployment allows). */
  allowedModels?: string[] | undefined;
  dailyImages?: number | undefined;
  dailySpendMicroUsd?: number | undefined;
  /**
   * The key's own Standard Webhooks secret (`whsec_` + base64 of 32 bytes), shown once with the key: its images'
   * events are signed with it, so one caller's receiver cannot be sent events signed for another.
   */
  webhookSecret?: string | undefined;
}

export const newWebhookSecret = (random: (size: number) => Buffer = randomBytes): string => `whsec_${random(32).toString('base64')}`;

/** Whether `key` is the one whose SHA-256 is `hash`, compared in constant time. */
export function keyMatches(key: string, hash: string): boolean {
  const expected = Buffer.from(hash, 'hex');
  const actual = createHash('sha256').update(key, 'utf8').digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** The issued key's prefix an owner (`api-key:dia_...`) names, or undefined for any other caller. */
export const issuedPrefixOf = (owner: string): string | undefined => /^api-key:(dia_[0-9A-Za-z]{8})$/.exec(owner)?.[1];

/** Where a key stands now: usable, or why not. */
export function keyStanding(record: ApiKeyRecord, now: number): 'active' | 'revoked' | 'expired' {
  if (record.state === 'revoked') return 'revoked';
  if (record.expiresAt !== undefined && now >= record.expiresAt) return 'expired';
  return 'active';
}
