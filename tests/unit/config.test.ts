import { describe, expect, it } from '@jest/globals';
import { ConfigError, parseConfig } from '../../lib/config.js';
import { baseEnv } from '../support/env.js';

const errorOf = (env: Record<string, string | undefined>): ConfigError => {
  try {
    parseConfig(env);
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

describe('parseConfig', () => {
  it('parses a minimal environment with safe defaults', () => {
    // Act
    const config = parseConfig(baseEnv({ PUBLIC_BASE_URL: 'https://cdn.example.test/' }));
    // Assess
    expect(config.publicBaseUrl).toBe('https://cdn.example.test');
    expect(config.provider).toEqual({ kind: 'offline' });
    expect(config.imageModels).toEqual(['gpt-image-2']);
    expect(config.apiKeys.map((entry) => entry.principal)).toEqual(['web-app', 'mobile']);
    expect(config.limits).toEqual({
      maxBodyBytes: 16_384,
      maxPromptChars: 4000,
      maxImageBytes: 20 * 1024 * 1024,
      gatewayTimeoutMs: 29_000,
      uploadReserveMs: 3_000,
      minProviderTimeMs: 2_000,
    });
    expect(config.imagePrefix).toBe('images/');
    expect(config.recordPrefix).toBe('records/');
    expect(Object.isFrozen(config) && Object.isFrozen(config.limits)).toBe(true);
  });

  it('configures OpenAI with a key or an SSM parameter name', () => {
    const direct = parseConfig(baseEnv({ IMAGE_PROVIDER: 'openai', OPENAI_API_KEY: 'sk-test' }));
    expect(direct.provider).toMatchObject({ kind: 'openai', apiKey: 'sk-test', apiKeyParameter: undefined });
    const viaSsm = parseConfig(baseEnv({ IMAGE_PROVIDER: 'openai', OPENAI_API_KEY_PARAMETER: '/dia/dev/openai' }));
    expect(viaSsm.provider).toMatchObject({ kind: 'openai', apiKey: undefined, apiKeyParameter: '/dia/dev/openai' });
  });

  it.each([
    [{ IMAGE_BUCKET: undefined }, 'IMAGE_BUCKET'],
    [{ PUBLIC_BASE_URL: 'cdn.example.test' }, 'PUBLIC_BASE_URL'],
    [{ PUBLIC_BASE_URL: 'ftp://cdn.example.test' }, 'PUBLIC_BASE_URL'],
    [{ S3_ENDPOINT: 'not a url' }, 'S3_ENDPOINT'],
    [{ IMAGE_PROVIDER: 'midjourney' }, 'IMAGE_PROVIDER'],
    [{ IMAGE_PROVIDER: 'openai' }, 'OPENAI_API_KEY'],
    [{ IMAGE_MODEL: 'gpt-image-2', IMAGE_MODELS: 'dall-e-3' }, 'IMAGE_MODEL'],
    [{ IMAGE_MODELS: 'gpt-image-2,stable-diffusion' }, 'IMAGE_MODELS'],
    [{ API_KEY_HASHES: undefined }, 'API_KEY_HASHES'],
    [{ API_KEY_HASHES: 'web-app:abc' }, 'API_KEY_HASHES'],
    [{ MAX_BODY_BYTES: '16k' }, 'MAX_BODY_BYTES'],
    [{ PROMPT_MAX_CHARS: '0' }, 'PROMPT_MAX_CHARS'],
    [{ PROMPT_TEMPLATE: 'no placeholder' }, 'PROMPT_TEMPLATE'],
    [{ RECORD_PREFIX: 'images/private/' }, 'RECORD_PREFIX'],
    [{ IMAGE_PREFIX: '/images' }, 'IMAGE_PREFIX'],
  ])('refuses %j naming %s', (overrides, variable) => {
    const error = errorOf(baseEnv(overrides));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
  });

  it('never echoes an API key hash entry in its error', () => {
    const error = errorOf(baseEnv({ API_KEY_HASHES: 'web-app:deadbeef' }));
    expect(error.message).not.toContain('deadbeef');
  });
});
