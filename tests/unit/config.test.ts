import { describe, expect, it } from '@jest/globals';
import { ConfigError, parseConfig } from '../../lib/config.js';
import { baseEnv } from '../support/env.js';
import { familyOf } from '../../lib/domain/models.js';

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
    expect(config.provider).toEqual({ kind: 'offline', delayMs: 0 });
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
    const direct = parseConfig(baseEnv({ IMAGE_PROVIDER: 'openai', OPENAI_API_KEY: 'sk-test', STATE_TABLE: 'state' }));
    expect(direct.provider).toMatchObject({ kind: 'live', openai: { apiKey: 'sk-test', apiKeyParameter: undefined } });
    const viaSsm = parseConfig(baseEnv({ IMAGE_PROVIDER: 'openai', OPENAI_API_KEY_PARAMETER: '/dia/dev/openai', STATE_TABLE: 'state' }));
    expect(viaSsm.provider).toMatchObject({ kind: 'live', openai: { apiKey: undefined, apiKeyParameter: '/dia/dev/openai' } });
  });

  it('QUOTAS=off turns off the daily limits only: a state table still keeps resources and idempotency', () => {
    const live = { IMAGE_PROVIDER: 'live', OPENAI_API_KEY: 'sk-test' };
    expect(parseConfig(baseEnv({ ...live, STATE_TABLE: 'state' })).state).toMatchObject({ table: 'state', quotas: true });
    const off = parseConfig(baseEnv({ ...live, STATE_TABLE: 'state', QUOTAS: 'off' }));
    expect(off.state).toMatchObject({ table: 'state', quotas: false });
    expect(off.jobs).toBeDefined();
    expect(parseConfig(baseEnv({ ...live, QUOTAS: 'off' })).state).toBeUndefined();
    expect(() => parseConfig(baseEnv(live))).toThrow(/STATE_TABLE/);
  });

  it('configures each provider the models name, and only those', () => {
    const config = parseConfig(
      baseEnv({
        IMAGE_PROVIDER: 'live',
        IMAGE_MODEL: 'bedrock/stability.stable-image-core-v1:1',
        IMAGE_MODELS: 'bedrock/stability.stable-image-core-v1:1,google/gemini-3-pro-image,azure/images-prod',
        BEDROCK_REGION: 'us-west-2',
        GEMINI_API_KEY_PARAMETER: '/dia/gemini',
        AZURE_OPENAI_ENDPOINT: 'https://example-resource.openai.azure.com',
        AZURE_OPENAI_API_KEY: 'azure-key',
        AZURE_OPENAI_DEPLOYMENTS: 'images-prod=gpt-image-2',
        STATE_TABLE: 'state',
      }),
    );
    expect(config.provider).toMatchObject({
      kind: 'live',
      openai: undefined,
      bedrock: { region: 'us-west-2', endpoint: undefined },
      google: { apiKey: undefined, apiKeyParameter: '/dia/gemini' },
      azure: { apiKey: 'azure-key', baseUrl: 'https://example-resource.openai.azure.com' },
    });
    // No OpenAI key: no moderation pre-check, the providers' own filters decide (docs/limits.md).
    expect(config.moderation.mode).toBe('off');
  });

  it('needs the model of every Azure deployment, a wired OpenAI one, and gives Azure deployments no webp', () => {
    const env = {
      IMAGE_PROVIDER: 'live',
      IMAGE_MODEL: 'azure/images-prod',
      AZURE_OPENAI_ENDPOINT: 'https://r.openai.azure.com',
      AZURE_OPENAI_API_KEY: 'k',
      STATE_TABLE: 's',
    };
    expect(() => parseConfig(baseEnv(env))).toThrow(/AZURE_OPENAI_DEPLOYMENTS/);
    expect(() => parseConfig(baseEnv({ ...env, AZURE_OPENAI_DEPLOYMENTS: 'images-prod=dall-e-3' }))).toThrow(/AZURE_OPENAI_DEPLOYMENTS/);
    const config = parseConfig(baseEnv({ ...env, AZURE_OPENAI_DEPLOYMENTS: 'images-prod=gpt-image-2' }));
    expect(config.provider).toMatchObject({ azure: { deployments: new Map([['images-prod', 'gpt-image-2']]) } });
    expect(familyOf('azure/images-prod')?.formats).toEqual(['png', 'jpeg']);
    expect(familyOf('gpt-image-2')?.formats).toEqual(['png', 'jpeg', 'webp']);
  });

  it('puts Bedrock in us-west-2 (where the Stability models run) unless BEDROCK_REGION says otherwise, whatever AWS_REGION', () => {
    const env = {
      IMAGE_PROVIDER: 'live',
      IMAGE_MODEL: 'bedrock/stability.stable-image-core-v1:1',
      AWS_REGION: 'us-east-1',
      STATE_TABLE: 'state',
    };
    const config = parseConfig(baseEnv(env));
    expect(config.provider).toMatchObject({ bedrock: { region: 'us-west-2' } });
    expect(parseConfig(baseEnv({ ...env, BEDROCK_REGION: 'eu-west-1' })).provider).toMatchObject({ bedrock: { region: 'eu-west-1' } });
  });

  it.each([
    [{ IMAGE_BUCKET: undefined }, 'IMAGE_BUCKET'],
    [{ PUBLIC_BASE_URL: 'cdn.example.test' }, 'PUBLIC_BASE_URL'],
    [{ PUBLIC_BASE_URL: 'ftp://cdn.example.test' }, 'PUBLIC_BASE_URL'],
    [{ S3_ENDPOINT: 'not a url' }, 'S3_ENDPOINT'],
    [{ IMAGE_PROVIDER: 'midjourney' }, 'IMAGE_PROVIDER'],
    [{ IMAGE_PROVIDER: 'openai' }, 'OPENAI_API_KEY'],
    [{ IMAGE_MODEL: 'gpt-image-2', IMAGE_MODELS: 'openai/gpt-image-2-2026-04-21' }, 'IMAGE_MODEL'],
    [{ IMAGE_MODELS: 'gpt-image-2,dall-e-3' }, 'IMAGE_MODELS'],
    // Without IMAGE_MODELS, the variable that was set is the one named.
    [{ IMAGE_MODEL: 'dall-e-3' }, 'IMAGE_MODEL'],
    [{ IMAGE_MODELS: 'gpt-image-2,google/gemini-2.5-flash-image' }, 'IMAGE_MODELS'],
    [{ IMAGE_MODELS: 'gpt-image-2,openai/gpt-image-2' }, 'IMAGE_MODELS'],
    [
      { IMAGE_PROVIDER: 'live', OPENAI_API_KEY: 'sk', STATE_TABLE: 's', IMAGE_MODELS: 'gpt-image-2,google/gemini-3-pro-image' },
      'GEMINI_API_KEY',
    ],
    [{ IMAGE_PROVIDER: 'live', OPENAI_API_KEY: 'sk', STATE_TABLE: 's', IMAGE_MODELS: 'gpt-image-2,azure/images' }, 'AZURE_OPENAI_API_KEY'],
    [{ IMAGE_PROVIDER: 'live', AZURE_OPENAI_API_KEY: 'k', STATE_TABLE: 's', IMAGE_MODEL: 'azure/images' }, 'AZURE_OPENAI_ENDPOINT'],
    [
      { IMAGE_PROVIDER: 'live', STATE_TABLE: 's', IMAGE_MODEL: 'bedrock/stability.sd3-5-large-v1:0', MODERATION: 'fail-closed' },
      'MODERATION',
    ],
    [
      { IMAGE_PROVIDER: 'live', STATE_TABLE: 's', IMAGE_MODEL: 'bedrock/stability.sd3-5-large-v1:0', BEDROCK_ENDPOINT: 'nope' },
      'BEDROCK_ENDPOINT',
    ],
    [{ IMAGE_MODELS: 'gpt-image-2,stable-diffusion' }, 'IMAGE_MODELS'],
    [{ API_KEY_HASHES: undefined }, 'API_KEY_HASHES'],
    [{ API_KEY_HASHES: 'web-app:abc' }, 'API_KEY_HASHES'],
    [{ MAX_BODY_BYTES: '16k' }, 'MAX_BODY_BYTES'],
    [{ PROMPT_MAX_CHARS: '0' }, 'PROMPT_MAX_CHARS'],
    [{ PROMPT_TEMPLATE: 'no placeholder' }, 'PROMPT_TEMPLATE'],
    [{ RECORD_PREFIX: 'images/private/' }, 'RECORD_PREFIX'],
    [{ IMAGE_PREFIX: '/images' }, 'IMAGE_PREFIX'],
    [{ IMAGE_PROVIDER: 'openai', OPENAI_API_KEY: 'k' }, 'STATE_TABLE'],
    [{ QUOTAS: 'maybe' }, 'QUOTAS'],
    [{ STATE_TABLE: 't', PRINCIPAL_LIMITS: '{"a": 5}' }, 'PRINCIPAL_LIMITS'],
    [{ STATE_TABLE: 't', PRINCIPAL_LIMITS: 'not json' }, 'PRINCIPAL_LIMITS'],
    [{ STATE_TABLE: 't', PRINCIPAL_LIMITS: '{"a": {"dailyImagez": 5}}' }, 'PRINCIPAL_LIMITS'],
    [{ STATE_TABLE: 't', DAILY_SPEND_LIMIT_USD: '5 dollars' }, 'DAILY_SPEND_LIMIT_USD'],
    [{ MODERATION: 'strict' }, 'MODERATION'],
    [{ MODERATION: 'fail-closed' }, 'MODERATION'],
    [{ JWT_ISSUER: 'https://issuer.example.test' }, 'JWT_AUDIENCE'],
    [{ JWT_ISSUER: 'https://issuer.example.test', JWT_AUDIENCE: 'api', JWT_ALGORITHMS: 'HS256' }, 'JWT_ALGORITHMS'],
    // The keys that sign callers in are fetched over https only (plain http on loopback, for local stand-ins).
    [
      { JWT_ISSUER: 'https://issuer.example.test', JWT_AUDIENCE: 'api', JWT_JWKS_URL: 'http://issuer.example.test/jwks.json' },
      'JWT_JWKS_URL',
    ],
    [{ JWT_ISSUER: 'http://issuer.example.test', JWT_AUDIENCE: 'api' }, 'JWT_ISSUER'],
    [{ WORKER_FUNCTION_NAME: 'durable-image-api-dev-runImageJob' }, 'WORKER_FUNCTION_NAME'],
    [{ STATE_TABLE: 't', WORKER_FUNCTION_NAME: 'bad name!' }, 'WORKER_FUNCTION_NAME'],
    [{ STATE_TABLE: 't', DEFAULT_WAIT_SECONDS: '-1' }, 'DEFAULT_WAIT_SECONDS'],
    [{ STATE_TABLE: 't', LAMBDA_ENDPOINT: 'localhost:3002' }, 'LAMBDA_ENDPOINT'],
    [{ WEBHOOK_SECRET: 'hunter2' }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_SECRET: `whsec_${Buffer.alloc(8).toString('base64')}` }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_ALLOW_LOOPBACK: 'yes' }, 'WEBHOOK_ALLOW_LOOPBACK'],
    [{ WEBHOOK_MAX_SECONDS: '0' }, 'WEBHOOK_MAX_SECONDS'],
    [{ OFFLINE_DELAY_MS: 'slow' }, 'OFFLINE_DELAY_MS'],
    [{ CLOUDFRONT_DISTRIBUTION_ID: 'arn:aws:cloudfront::1:distribution/E1' }, 'CLOUDFRONT_DISTRIBUTION_ID'],
    [{ S3_SECRET_ACCESS_KEY: 'secret' }, 'S3_ACCESS_KEY_ID'],
    [{ S3_ACCESS_KEY_ID: 'key', S3_ENDPOINT: 'https://acct.r2.cloudflarestorage.com' }, 'S3_SECRET_ACCESS_KEY'],
    [{ S3_ACCESS_KEY_ID: 'key', S3_SECRET_ACCESS_KEY: 'secret' }, 'S3_ACCESS_KEY_ID'],
  ])('refuses %j naming %s', (overrides, variable) => {
    const error = errorOf(baseEnv(overrides));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
  });

  it('parses jobs and webhooks: inline without a worker, the default wait from the gateway limit', () => {
    const inline = parseConfig(baseEnv({ STATE_TABLE: 't' }));
    expect(inline.jobs).toEqual({
      workerFunctionName: undefined,
      lambdaEndpoint: undefined,
      defaultWaitMs: 29_000,
      webhookReserveMs: 60_000,
    });
    expect(parseConfig(baseEnv()).jobs).toBeUndefined();
    const worker = parseConfig(
      baseEnv({
        STATE_TABLE: 't',
        WORKER_FUNCTION_NAME: 'durable-image-api-dev-runImageJob',
        DEFAULT_WAIT_SECONDS: '10',
        WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
        OFFLINE_DELAY_MS: '40000',
      }),
    );
    expect(worker.jobs).toMatchObject({ workerFunctionName: 'durable-image-api-dev-runImageJob', defaultWaitMs: 10_000 });
    expect(worker.webhooks).toMatchObject({ allowLoopback: false, maxDeliveryMs: 60_000, secretParameter: undefined });
    expect(worker.provider).toEqual({ kind: 'offline', delayMs: 40_000 });
  });

  it('parses quotas, per-principal overrides, moderation and JWT settings', () => {
    const config = parseConfig(
      baseEnv({
        IMAGE_PROVIDER: 'openai',
        OPENAI_API_KEY: 'k',
        STATE_TABLE: 'state',
        DAILY_IMAGE_LIMIT: '20',
        DAILY_SPEND_LIMIT_USD: '2.5',
        GLOBAL_DAILY_SPEND_LIMIT_USD: '100',
        PRINCIPAL_LIMITS:
          '{"web-app": {"dailyImages": 500}, "trial": {"dailyImages": 1, "dailySpendUsd": 0.05}, "jwt:user-9": {"dailyImages": 3}}',
        JWT_ISSUER: 'https://issuer.example.test/',
        JWT_AUDIENCE: 'image-api',
        API_KEY_HASHES: undefined,
      }),
    );
    expect(config.state).toMatchObject({
      table: 'state',
      defaultLimits: { dailyImages: 20, dailySpendMicroUsd: 2_500_000 },
      globalDailySpendMicroUsd: 100_000_000,
      idempotencyTtlSeconds: 86_400,
    });
    // Keyed by principal kind and name; a bare name is an API key's.
    expect([...(config.state?.principalLimits ?? [])]).toEqual([
      ['api-key:web-app', { dailyImages: 500, dailySpendMicroUsd: 2_500_000 }],
      ['api-key:trial', { dailyImages: 1, dailySpendMicroUsd: 50_000 }],
      ['jwt:user-9', { dailyImages: 3, dailySpendMicroUsd: 2_500_000 }],
    ]);
    expect(config.moderation).toEqual({ mode: 'fail-closed', model: 'omni-moderation-latest' });
    expect(config.jwt).toEqual({
      issuer: 'https://issuer.example.test/',
      audience: 'image-api',
      jwksUrl: 'https://issuer.example.test/.well-known/jwks.json',
      algorithms: ['RS256', 'ES256'],
      clockSkewSeconds: 30,
      jwksMaxStaleMs: 21_600_000,
    });
    expect(config.apiKeys).toEqual([]);
  });

  it('turns quotas and moderation off for the offline provider unless asked', () => {
    const config = parseConfig(baseEnv());
    expect(config.state).toBeUndefined();
    expect(config.moderation.mode).toBe('off');
  });

  it('never echoes an API key hash entry in its error', () => {
    const error = errorOf(baseEnv({ API_KEY_HASHES: 'web-app:deadbeef' }));
    expect(error.message).not.toContain('deadbeef');
  });
});
