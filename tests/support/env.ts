import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export const TEST_API_KEY = 'test-key-0123456789abcdef0123456789abcdef';
export const OTHER_API_KEY = 'other-key-fedcba9876543210fedcba98765432';

/**
 * The C2PA test signing key and certificate chain (FOR TESTING ONLY, from the CAI's c2pa-js; tests/fixtures/README.md):
 * what `npm start` signs with too.
 */
// Read here rather than through scripts/local-env.mjs (TEST_C2PA_SIGNER_FILE): that module loads s3rver and dynalite.
export const TEST_C2PA_SIGNER = readFileSync(new URL('../fixtures/c2pa-test-signer.pem', import.meta.url), 'utf8');
/** Its certificate chain alone (no key). */
export const TEST_C2PA_CHAIN = TEST_C2PA_SIGNER.slice(TEST_C2PA_SIGNER.indexOf('-----BEGIN CERTIFICATE-----'));

/** A complete, valid environment; tests override what they exercise. */
export const baseEnv = (overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  IMAGE_BUCKET: 'test-images',
  PUBLIC_BASE_URL: 'https://cdn.example.test',
  IMAGE_PROVIDER: 'offline',
  IMAGE_MODEL: 'gpt-image-2',
  API_KEY_HASHES: `web-app:${sha256Hex(TEST_API_KEY)},mobile:${sha256Hex(OTHER_API_KEY)}`,
  AWS_REGION: 'us-east-1',
  C2PA_SIGNER: TEST_C2PA_SIGNER,
  ...overrides,
});

/**
 * The environment of a handler on the local test servers: OpenAI through the test server, the local S3 bucket,
 * a DynamoDB table on dynalite; no retries and no moderation unless a test asks.
 */
export const serversEnv = (
  servers: { openaiBaseUrl: string; s3Endpoint: string; bucket: string; dynamoEndpoint: string; table: string },
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> =>
  baseEnv({
    IMAGE_PROVIDER: 'openai',
    OPENAI_API_KEY: 'sk-test-provider',
    OPENAI_BASE_URL: servers.openaiBaseUrl,
    S3_ENDPOINT: servers.s3Endpoint,
    IMAGE_BUCKET: servers.bucket,
    STATE_TABLE: servers.table,
    DYNAMODB_ENDPOINT: servers.dynamoEndpoint,
    PROVIDER_MAX_RETRIES: '0',
    MODERATION: 'off',
    ...overrides,
  });
