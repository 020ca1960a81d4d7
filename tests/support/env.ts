import { createHash } from 'node:crypto';

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export const TEST_API_KEY = 'test-key-0123456789abcdef0123456789abcdef';
export const OTHER_API_KEY = 'other-key-fedcba9876543210fedcba98765432';

/** A complete, valid environment; tests override what they exercise. */
export const baseEnv = (overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  IMAGE_BUCKET: 'test-images',
  PUBLIC_BASE_URL: 'https://cdn.example.test',
  IMAGE_PROVIDER: 'offline',
  IMAGE_MODEL: 'gpt-image-2',
  API_KEY_HASHES: `web-app:${sha256Hex(TEST_API_KEY)},mobile:${sha256Hex(OTHER_API_KEY)}`,
  AWS_REGION: 'us-east-1',
  ...overrides,
});
