import { describe, expect, it } from '@jest/globals';
import { imageJob } from '../../support/builders.js';
import { decodeCursor, encodeCursor, listKey, parsePrefer, toResource, waitPlan, type ImageJob } from '../../../lib/domain/image-job.js';

const job = (overrides: Partial<ImageJob> = {}): ImageJob =>
  imageJob({ prompt: 'a secret prompt', providerPrompt: 'hardened secret prompt', ...overrides });

describe('parsePrefer (RFC 7240)', () => {
  it.each([
    [undefined, { respondAsync: false, waitSeconds: undefined }],
    ['wait=10', { respondAsync: false, waitSeconds: 10 }],
    ['WAIT = "7"', { respondAsync: false, waitSeconds: 7 }],
    ['respond-async', { respondAsync: true, waitSeconds: undefined }],
    ['respond-async, wait=3', { respondAsync: true, waitSeconds: 3 }],
    ['handling=lenient, wait=5; foo=bar', { respondAsync: false, waitSeconds: 5 }],
    ['wait=-1', { respondAsync: false, waitSeconds: undefined }],
    ['wait=abc, respond-async=yes', { respondAsync: false, waitSeconds: undefined }],
    ['wait', { respondAsync: false, waitSeconds: undefined }],
  ])('%s -> %o', (header, expected) => {
    expect(parsePrefer(header)).toEqual(expected);
  });
});

describe('waitPlan', () => {
  it('caps a requested wait at what the gateway leaves and says so', () => {
    expect(waitPlan({ respondAsync: false, waitSeconds: 60 }, 28_000, 25_500)).toEqual({ waitMs: 25_500, applied: 'wait=25' });
  });
  it('honours a short wait, respond-async, and the default', () => {
    expect(waitPlan({ respondAsync: false, waitSeconds: 2 }, 28_000, 25_500)).toEqual({ waitMs: 2_000, applied: 'wait=2' });
    expect(waitPlan({ respondAsync: true, waitSeconds: undefined }, 28_000, 25_500)).toEqual({ waitMs: 0, applied: 'respond-async' });
    expect(waitPlan({ respondAsync: false, waitSeconds: undefined }, 10_000, 25_500)).toEqual({ waitMs: 10_000, applied: undefined });
    expect(waitPlan({ respondAsync: false, waitSeconds: undefined }, 10_000, -5)).toEqual({ waitMs: 0, applied: undefined });
  });
});

describe('cursors', () => {
  it('round-trips a position and refuses anything else', () => {
    const position = { id: 'AAAAAAAAAAAAAAAAAAAAAA', listKey: listKey(Date.parse('2026-11-25T10:00:00Z'), 'AAAAAAAAAAAAAAAAAAAAAA') };
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
    for (const bad of [
      '',
      'not base64!',
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('["x"]').toString('base64url'),
      'A'.repeat(600),
    ]) {
      expect(decodeCursor(bad)).toBeUndefined();
    }
    expect(decodeCursor(Buffer.from(JSON.stringify(['../x', position.listKey])).toString('base64url'))).toBeUndefined();
  });
});

describe('toResource', () => {
  it('never shows prompts, owners, claims or the private record key', () => {
    const shown = JSON.stringify(
      toResource(
        job({
          status: 'succeeded',
          claim: 'claim-1',
          completedAt: Date.parse('2026-11-25T10:00:09Z'),
          result: {
            id: 'AAAAAAAAAAAAAAAAAAAAAA',
            url: 'https://cdn.example.test/images/a.png',
            key: 'images/a.png',
            recordKey: 'records/a.json',
            contentType: 'image/png',
            bytes: 10,
            sha256: 'f'.repeat(64),
            width: 1,
            height: 1,
            model: 'gpt-image-2',
          },
        }),
        Date.now(),
      ),
    );
    for (const secret of ['secret prompt', 'web-app', 'claim-1', 'records/']) expect(shown).not.toContain(secret);
    expect(JSON.parse(shown)).toMatchObject({
      status: 'succeeded',
      url: 'https://cdn.example.test/images/a.png',
      completedAt: '2026-11-25T10:00:09.000Z',
    });
  });

  it('shows stored previews in index order until they expire a day after the image was created, never their keys', () => {
    const createdAt = Date.parse('2026-11-25T10:00:00Z');
    const previewImages = [
      { index: 1, url: 'https://cdn.example.test/images/previews/b-1.png', key: 'images/previews/b-1.png' },
      { index: 0, url: 'https://cdn.example.test/images/previews/b-0.png', key: 'images/previews/b-0.png' },
    ];
    const running = job({ status: 'running', leaseUntil: createdAt + 600_000, previewImages });
    expect(toResource(running, createdAt + 5_000)?.previews).toEqual([
      { index: 0, url: 'https://cdn.example.test/images/previews/b-0.png' },
      { index: 1, url: 'https://cdn.example.test/images/previews/b-1.png' },
    ]);
    const failed = job({ status: 'failed', error: { code: 'bad_provider_response', message: 'x' }, previewImages });
    expect(toResource(failed, createdAt + 86_400_000 - 1)?.previews).toHaveLength(2);
    expect(toResource(failed, createdAt + 86_400_000)).not.toHaveProperty('previews');
    expect(toResource(job(), createdAt)).not.toHaveProperty('previews');
  });

  it('shows a running job past its lease as failed (interrupted), and hides a deleted one', () => {
    const now = Date.parse('2026-11-25T10:10:00Z');
    expect(toResource(job({ status: 'running', leaseUntil: now - 1 }), now)).toMatchObject({
      status: 'failed',
      error: { code: 'generation_interrupted' },
    });
    expect(toResource(job({ status: 'running', leaseUntil: now + 1 }), now)).toMatchObject({ status: 'running' });
    expect(toResource(job({ status: 'deleted' }), now)).toBeUndefined();
  });
});
