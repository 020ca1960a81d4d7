import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { apiKeyHash, issuedKeyPrefix, keyStanding, newApiKey, type ApiKeyRecord } from '../../../lib/domain/api-keys.js';

describe('issued API keys', () => {
  it('makes keys of the documented shape whose prefix is what lists show, and whose hash is what is stored', () => {
    const { key, prefix, hash } = newApiKey();
    expect(key).toMatch(/^dia_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}$/);
    expect(prefix).toBe(key.slice(0, 12));
    expect(hash).toBe(apiKeyHash(key));
    expect(issuedKeyPrefix(key)).toBe(prefix);
    expect(new Set(Array.from({ length: 200 }, () => newApiKey().key)).size).toBe(200);
  });

  it('refuses, without any read, a key whose checksum does not hold: one character changed anywhere, or invented', () => {
    const { key } = newApiKey();
    for (let index = 4; index < key.length; index += 1) {
      if (key[index] === '_') continue;
      const changed = `${key.slice(0, index)}${key[index] === 'a' ? 'b' : 'a'}${key.slice(index + 1)}`;
      expect(issuedKeyPrefix(changed)).toBeUndefined();
    }
    const invented = Array.from(
      { length: 1000 },
      () => `dia_${randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 8)}_${'A'.repeat(38)}`,
    );
    expect(invented.filter((candidate) => issuedKeyPrefix(candidate) !== undefined)).toEqual([]);
    expect(issuedKeyPrefix('sk-proj-abc')).toBeUndefined();
    expect(issuedKeyPrefix(`${key} `)).toBeUndefined();
  });

  it('says whether a record lets its key in: active, revoked, or expired from its expiry on', () => {
    const record: ApiKeyRecord = { hash: 'a'.repeat(64), prefix: 'dia_x', name: 'n', state: 'active', createdAt: 0, expiresAt: 1_000 };
    expect(keyStanding(record, 999)).toBe('active');
    expect(keyStanding(record, 1_000)).toBe('expired');
    expect(keyStanding({ ...record, state: 'revoked' }, 0)).toBe('revoked');
  });
});
