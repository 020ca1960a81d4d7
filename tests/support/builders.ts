import type { ImageJob } from '../../lib/domain/image-job.js';

/**
 * An image job as admission writes it (queued, a low gpt-image-2 square for the caller `api-key:web-app`); a test
 * names only what it is about in `overrides`.
 */
export const imageJob = (overrides: Partial<ImageJob> = {}): ImageJob => ({
  id: 'AAAAAAAAAAAAAAAAAAAAAA',
  owner: 'api-key:web-app',
  principalId: 'web-app',
  principalKind: 'api-key',
  status: 'queued',
  model: 'gpt-image-2',
  size: '1024x1024',
  quality: 'low',
  format: undefined,
  prompt: 'a red fox',
  providerPrompt: 'Draw: "a red fox"',
  requestId: 'req-1',
  createdAt: Date.parse('2026-11-25T10:00:00Z'),
  ...overrides,
});
