import { AppError } from '../errors.js';
import { issuedKeyPrefix, keyMatches, keyStanding, type ApiKeyRecord } from '../domain/api-keys.js';
import type { ApiKeyStore, Principal } from '../ports.js';

export interface IssuedKeysDeps {
  keys: ApiKeyStore;
  now: () => number;
  /** How long a key's record (or its absence) is trusted: the bound on how late a revocation takes effect. */
  cacheMs: number;
  /** Records held per function instance; the oldest goes first past it. */
  maxEntries?: number | undefined;
}

/** What authenticating an issued key found: the caller, or why the key does not let it in. */
export type KeyVerdict = { principal: Principal } | { refused: 'unknown' | 'revoked' | 'expired'; at?: number };

interface Cached {
  read: Promise<ApiKeyRecord | undefined>;
  until: number;
}

const DEFAULT_MAX_ENTRIES = 10_000;

/**
 * Authenticates a key the operator issued (`npm run keys`): a key whose format or checksum does not hold is refused
 * with no read at all; any other is looked up by its prefix (what the lookup found, a record or nothing, is kept for
 * `cacheMs` in this function instance, concurrent requests sharing one read) and its SHA-256 compared with the
 * record's in constant time. So a revoked key stops working
 * within `cacheMs` on every warm instance, and a flood of well-formed unknown keys costs at most one read per key
 * per `cacheMs` (and a bounded map). Undefined: not an issued key's format (the caller's other checks decide).
 */
export const makeIssuedKeyLookup = (deps: IssuedKeysDeps) => {
  const cache = new Map<string, Cached>();
  const maxEntries = deps.maxEntries ?? DEFAULT_MAX_ENTRIES;

  const recordOf = (prefix: string): Promise<ApiKeyRecord | undefined> => {
    const now = deps.now();
    const held = cache.get(prefix);
    if (held && held.until > now) return held.read;
    cache.delete(prefix);
    const read = deps.keys.get(prefix);
    cache.set(prefix, { read, until: now + deps.cacheMs });
    // A failed read is not remembered: the next request tries again.
    read.catch(() => cache.delete(prefix));
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
    return read;
  };

  return async (key: string): Promise<KeyVerdict | undefined> => {
    const prefix = issuedKeyPrefix(key);
    if (prefix === undefined) return undefined;
    let record: ApiKeyRecord | undefined;
    try {
      record = await recordOf(prefix);
    } catch (error) {
      throw new AppError('auth_unavailable', 'API keys cannot be checked right now. Retry shortly.', { cause: error });
    }
    if (!record || !keyMatches(key, record.hash)) return { refused: 'unknown' };
    const standing = keyStanding(record, deps.now());
    if (standing === 'revoked') return { refused: 'revoked', ...(record.revokedAt === undefined ? {} : { at: record.revokedAt }) };
    if (standing === 'expired') return { refused: 'expired', ...(record.expiresAt === undefined ? {} : { at: record.expiresAt }) };
    return {
      principal: {
        id: record.prefix,
        kind: 'api-key',
        limits: { dailyImages: record.dailyImages, dailySpendMicroUsd: record.dailySpendMicroUsd },
        ...(record.allowedModels ? { allowedModels: record.allowedModels } : {}),
        ...(record.webhookSecret ? { webhookSecret: record.webhookSecret } : {}),
      },
    };
  };
};
