import { describe, expect, it } from '@jest/globals';
import { requestDeadline } from '../../../lib/domain/deadline.js';
import { imageKey, newImageId, publicUrl, recordKey } from '../../../lib/domain/object-keys.js';

describe('object keys', () => {
  it('puts images and records under their prefixes by UTC date', () => {
    const at = new Date('2026-01-02T23:59:59Z');
    expect(imageKey('images/', 'abc', at, 'png')).toBe('images/2026/01/02/abc.png');
    expect(recordKey('records/', 'abc', at)).toBe('records/2026/01/02/abc.json');
  });

  it('makes unguessable url-safe ids that do not repeat', () => {
    const ids = new Set(Array.from({ length: 1000 }, newImageId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('builds the permanent URL from the base and the key', () => {
    expect(publicUrl('https://cdn.example.com', 'images/2026/01/02/a-b_c.png')).toBe('https://cdn.example.com/images/2026/01/02/a-b_c.png');
  });
});

describe('requestDeadline', () => {
  const now = 1_000_000;

  it('ends at the gateway limit counted from when the gateway received the request', () => {
    expect(requestDeadline({ now, lambdaRemainingMs: 120_000, gatewayReceivedAt: now - 2_000, gatewayTimeoutMs: 29_000 })).toBe(
      now + 27_000,
    );
  });

  it('ends with the Lambda when that comes first', () => {
    expect(requestDeadline({ now, lambdaRemainingMs: 5_000, gatewayReceivedAt: now, gatewayTimeoutMs: 29_000 })).toBe(now + 5_000);
  });

  it('ignores the stale timestamp of a replayed sample event', () => {
    expect(requestDeadline({ now, lambdaRemainingMs: 60_000, gatewayReceivedAt: 1, gatewayTimeoutMs: 29_000 })).toBe(now + 29_000);
  });
});
