import { DEFAULT_CONSTRAINTS, DEFAULT_PROMPT_TEMPLATE, templateProblem } from './domain/prompt-policy.js';
import { familyOf, isWiredOpenAIModel, parseModelName, type ProviderName } from './domain/models.js';
import { usdToMicroUsd } from './domain/pricing.js';

/**
 * The service's whole configuration, parsed once from the environment at cold start and frozen. A wrong value
 * fails the cold start with the variable's name in the message (as Powertools' envUtils do), instead of failing
 * one request at a time later.
 */
export interface Config {
  imageBucket: string;
  /** Without a trailing slash; the URL of an image is `${publicBaseUrl}/${key}`. */
  publicBaseUrl: string;
  s3Endpoint: string | undefined;
  /** The AWS SDKs' service-specific endpoint variable for SSM (a local stand-in in tests). */
  ssmEndpoint: string | undefined;
  /**
   * Credentials for an S3-compatible store that is not AWS (Cloudflare R2), used for the image store only: the
   * function's own AWS credentials keep serving DynamoDB, SSM and Lambda. Undefined = the default chain.
   */
  s3Credentials: { accessKeyId: string; secretAccessKey: string | undefined; secretAccessKeyParameter: string | undefined } | undefined;
  awsRegion: string;
  imagePrefix: string;
  recordPrefix: string;
  provider: ProviderConfig;
  imageModel: string;
  imageModels: readonly string[];
  apiKeys: readonly ApiKeyEntry[];
  jwt: JwtConfig | undefined;
  limits: Limits;
  /**
   * DynamoDB state (image resources, idempotency, and quotas unless QUOTAS=off); undefined without STATE_TABLE,
   * which real providers need unless QUOTAS=off.
   */
  state: StateConfig | undefined;
  moderation: ModerationConfig;
  prompt: { template: string; constraints: string };
  /** Image resources and their worker; undefined without a state table (then POST /images answers synchronously). */
  jobs: JobsConfig | undefined;
  webhooks: WebhookConfig;
  /** CloudFront distribution to invalidate a deleted image in; unset = no invalidation (local, or a custom CDN). */
  cdnDistributionId: string | undefined;
  /** CloudWatch metrics (EMF lines); POWERTOOLS_METRICS_DISABLED=true turns them off. */
  metricsEnabled: boolean;
}

export interface JobsConfig {
  /** The worker function, invoked asynchronously; unset = jobs run inline in the API function (invoke local). */
  workerFunctionName: string | undefined;
  /** A local Lambda endpoint (serverless-offline's invoke port). */
  lambdaEndpoint: string | undefined;
  /** How long `POST /images` waits without `Prefer` (capped by what the gateway allows). */
  defaultWaitMs: number;
  /** Time the worker keeps back from the provider for delivering the webhook. */
  webhookReserveMs: number;
}

export interface WebhookConfig {
  /** Standard Webhooks signing secret (`whsec_` + base64), or the SSM parameter holding it. */
  secret: string | undefined;
  secretParameter: string | undefined;
  /** Allow http: and loopback receivers (local development and tests only). */
  allowLoopback: boolean;
  /** How long one event is retried at most. */
  maxDeliveryMs: number;
}

export type ProviderConfig =
  /** `delayMs`: the offline generator takes this long (OFFLINE_DELAY_MS), to see 202 and polling locally. */
  | { kind: 'offline'; delayMs: number }
  | {
      /** Real providers, chosen per model by its name (`openai/...`, `azure/...`, `bedrock/...`, `google/...`). */
      kind: 'live';
      /** Also present without OpenAI models when an OpenAI key is given: moderation uses it. */
      openai: SecretEndpoint | undefined;
      azure: AzureEndpoint | undefined;
      bedrock: { region: string; endpoint: string | undefined } | undefined;
      google: SecretEndpoint | undefined;
      /** Retries of a failed generation (OpenAI and Azure; each one counted against the spend limits). */
      maxRetries: number;
    };

/** A provider reached with an API key (or the SSM parameter holding it) at a base URL (undefined: its default). */
export interface SecretEndpoint {
  apiKey: string | undefined;
  apiKeyParameter: string | undefined;
  baseUrl: string | undefined;
}

export interface AzureEndpoint extends SecretEndpoint {
  /** Deployment name -> the OpenAI model it runs (AZURE_OPENAI_DEPLOYMENTS); its capabilities and prices follow. */
  deployments: ReadonlyMap<string, string>;
}

export interface JwtConfig {
  issuer: string;
  audience: string;
  jwksUrl: string;
  algorithms: readonly string[];
  clockSkewSeconds: number;
  /** How long the last good key set is used while the issuer's JWKS cannot be fetched. */
  jwksMaxStaleMs: number;
}

export interface QuotaLimits {
  dailyImages: number;
  dailySpendMicroUsd: number;
}

export interface StateConfig {
  table: string;
  /** Daily limits and spend caps (QUOTAS, on by default); off keeps the table for resources and idempotency. */
  quotas: boolean;
  endpoint: string | undefined;
  defaultLimits: QuotaLimits;
  /**
   * Overrides by principal key (`api-key:<name>`, `jwt:<sub>`), in a Map: a caller's name is data, never a
   * property lookup (`constructor` or `__proto__` must not find Object.prototype's members).
   */
  principalLimits: ReadonlyMap<string, QuotaLimits>;
  globalDailySpendMicroUsd: number;
  idempotencyTtlSeconds: number;
  /** The function's name (AWS_LAMBDA_FUNCTION_NAME), which prefixes idempotency keys as Powertools did. */
  idempotencyKeyPrefix: string;
}

export interface ModerationConfig {
  mode: 'off' | 'fail-closed' | 'fail-open';
  model: string;
}

export interface ApiKeyEntry {
  principal: string;
  /** sha256 of the key, 32 bytes. */
  sha256: Buffer;
}

export interface Limits {
  maxBodyBytes: number;
  maxPromptChars: number;
  maxImageBytes: number;
  /** API Gateway's integration timeout (HTTP API: 30 s max) less a margin: after it the caller gets a 503 anyway. */
  gatewayTimeoutMs: number;
  /** Time kept back from the provider for verifying, hashing and the two PutObjects. */
  uploadReserveMs: number;
  /** Below this much time left, the provider is not called at all (a call that cannot finish is money lost). */
  minProviderTimeMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const optional = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
};

const required = (env: Env, name: string): string => {
  const value = optional(env, name);
  if (value === undefined) throw new ConfigError(name, 'is required but not set');
  return value;
};

const integer = (env: Env, name: string, fallback: number, min: number, max: number): number => {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
};

const httpUrl = (env: Env, name: string, value: string): string => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, `must be an absolute http(s) URL, got "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(name, `must be an http(s) URL, got "${value}"`);
  }
  return value.replace(/\/+$/, '');
};

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * An https URL, or http on loopback only (local stand-ins): what signs callers in (the JWT issuer's keys) must not
 * be readable or replaceable on the way.
 */
const httpsUrl = (env: Env, name: string, value: string): string => {
  const url = new URL(httpUrl(env, name, value));
  if (url.protocol !== 'https:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new ConfigError(name, `must be an https URL (plain http only on loopback), got "${value}"`);
  }
  return value.replace(/\/+$/, '');
};

const prefix = (env: Env, name: string, fallback: string): string => {
  const value = optional(env, name) ?? fallback;
  if (!/^[a-z0-9][a-z0-9-_/]*\/$/i.test(value) || value.includes('//')) {
    throw new ConfigError(name, `must be a key prefix like "images/", got "${value}"`);
  }
  return value;
};

function parseApiKeys(env: Env, jwtEnabled: boolean): ApiKeyEntry[] {
  const name = 'API_KEY_HASHES';
  const raw = optional(env, name);
  if (raw === undefined) {
    if (jwtEnabled) return [];
    throw new ConfigError(name, 'is required (or JWT_ISSUER for JWT auth): nobody could call the API');
  }
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry, index) => {
      const match = /^([A-Za-z0-9._@-]{1,64}):([0-9a-f]{64})$/i.exec(entry);
      // The entry itself is not echoed: it is a hash of a secret, and logs are not the place for it.
      if (!match) throw new ConfigError(name, `entry ${index + 1} must be "principal:<64 hex chars of sha256>"`);
      return { principal: match[1] as string, sha256: Buffer.from(match[2] as string, 'hex') };
    });
  if (entries.length === 0 && !jwtEnabled) throw new ConfigError(name, 'must list at least one principal:sha256 entry');
  return entries;
}

function parseModels(env: Env): { imageModel: string; imageModels: string[] } {
  const imageModel = optional(env, 'IMAGE_MODEL') ?? 'gpt-image-2';
  const listed = optional(env, 'IMAGE_MODELS');
  const imageModels = listed === undefined ? [imageModel] : listed.split(',').map((m) => m.trim()).filter(Boolean);
  // Without IMAGE_MODELS the list is IMAGE_MODEL alone: a problem with it is named by the variable that was set.
  const source = listed === undefined ? 'IMAGE_MODEL' : 'IMAGE_MODELS';
  const seen = new Set<string>();
  for (const model of imageModels) {
    // Model names end up in S3 metadata, which must be US-ASCII.
    if (!/^[A-Za-z0-9._:/-]{1,100}$/.test(model)) {
      throw new ConfigError(source, `has an invalid model name "${model}"`);
    }
    if (!familyOf(model)) {
      throw new ConfigError(
        source,
        `has "${model}", which is not a wired model (openai/gpt-image-2, azure/<deployment>, ` +
          'bedrock/stability.stable-image-core-v1:1, bedrock/stability.stable-image-ultra-v1:1, bedrock/stability.sd3-5-large-v1:0, ' +
          'google/gemini-3.1-flash-image, google/gemini-3-pro-image; docs/providers.md)',
      );
    }
    const canonical = parseModelName(model)?.canonical ?? model;
    if (seen.has(canonical)) throw new ConfigError('IMAGE_MODELS', `names "${model}" twice`);
    seen.add(canonical);
  }
  const defaultCanonical = parseModelName(imageModel)?.canonical;
  const listedDefault = imageModels.find((model) => parseModelName(model)?.canonical === defaultCanonical);
  if (listedDefault === undefined) {
    throw new ConfigError('IMAGE_MODEL', `"${imageModel}" must also be listed in IMAGE_MODELS`);
  }
  return { imageModel: listedDefault, imageModels };
}

/** An API key given directly or as an SSM parameter, and an optional base URL; undefined when neither key is set. */
function secretEndpoint(env: Env, keyName: string, urlName: string): SecretEndpoint | undefined {
  const apiKey = optional(env, keyName);
  const apiKeyParameter = optional(env, `${keyName}_PARAMETER`);
  if (apiKey === undefined && apiKeyParameter === undefined) return undefined;
  const baseUrlRaw = optional(env, urlName);
  return {
    apiKey,
    apiKeyParameter: apiKey === undefined ? apiKeyParameter : undefined,
    baseUrl: baseUrlRaw === undefined ? undefined : httpUrl(env, urlName, baseUrlRaw),
  };
}

/**
 * AZURE_OPENAI_DEPLOYMENTS: `deployment=model` pairs, comma-separated (`images-prod=gpt-image-2`). A deployment's
 * name says nothing about its model, and sizes, qualities, formats and prices follow the model: every azure/
 * model listed in IMAGE_MODELS must be here, running a wired OpenAI model.
 */
function parseAzureDeployments(env: Env, models: readonly string[]): ReadonlyMap<string, string> {
  const raw = optional(env, 'AZURE_OPENAI_DEPLOYMENTS') ?? '';
  const deployments = new Map<string, string>();
  for (const entry of raw.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const [name = '', model = '', ...rest] = entry.split('=').map((part) => part.trim());
    if (name === '' || rest.length > 0 || !isWiredOpenAIModel(model)) {
      throw new ConfigError('AZURE_OPENAI_DEPLOYMENTS', `must be deployment=model pairs with a wired OpenAI model (e.g. "images-prod=gpt-image-2"), got "${entry}"`);
    }
    deployments.set(name, model);
  }
  for (const model of models) {
    const ref = parseModelName(model);
    if (ref?.provider === 'azure' && !deployments.has(ref.id)) {
      throw new ConfigError('AZURE_OPENAI_DEPLOYMENTS', `must say which model the deployment "${ref.id}" runs (e.g. "${ref.id}=gpt-image-2")`);
    }
  }
  return deployments;
}

function parseProvider(env: Env, models: readonly string[]): ProviderConfig {
  const kind = optional(env, 'IMAGE_PROVIDER') ?? 'offline';
  if (kind === 'offline') return { kind, delayMs: integer(env, 'OFFLINE_DELAY_MS', 0, 0, 600_000) };
  // "openai" is what this setting said before other providers existed; it means the same now.
  if (kind !== 'live' && kind !== 'openai') {
    throw new ConfigError('IMAGE_PROVIDER', `must be "live" (the providers named by IMAGE_MODELS) or "offline", got "${kind}"`);
  }
  const used = new Set<ProviderName>(models.map((model) => parseModelName(model)?.provider ?? 'openai'));
  const need = <T>(provider: ProviderName, value: T | undefined, variable: string, what: string): T | undefined => {
    if (used.has(provider) && value === undefined) {
      throw new ConfigError(variable, `${what} is required for the ${provider}/ models in IMAGE_MODELS`);
    }
    return value;
  };
  // OpenAI's key also serves moderation, so it is read whenever it is given; Azure and Gemini only when models
  // of theirs are listed (a deployment may name their SSM parameters without using them).
  const openai = need('openai', secretEndpoint(env, 'OPENAI_API_KEY', 'OPENAI_BASE_URL'), 'OPENAI_API_KEY', 'OPENAI_API_KEY or OPENAI_API_KEY_PARAMETER');
  let azure = used.has('azure') ? secretEndpoint(env, 'AZURE_OPENAI_API_KEY', 'AZURE_OPENAI_ENDPOINT') : undefined;
  if (azure !== undefined && azure.baseUrl === undefined) {
    throw new ConfigError('AZURE_OPENAI_ENDPOINT', 'is required for azure/ models (https://<resource>.openai.azure.com)');
  }
  azure = need('azure', azure, 'AZURE_OPENAI_API_KEY', 'AZURE_OPENAI_API_KEY or AZURE_OPENAI_API_KEY_PARAMETER');
  const azureDeployments = azure ? parseAzureDeployments(env, models) : undefined;
  const google = need(
    'google',
    used.has('google') ? secretEndpoint(env, 'GEMINI_API_KEY', 'GEMINI_BASE_URL') : undefined,
    'GEMINI_API_KEY',
    'GEMINI_API_KEY or GEMINI_API_KEY_PARAMETER',
  );
  const bedrockEndpoint = optional(env, 'BEDROCK_ENDPOINT');
  const bedrock = used.has('bedrock')
    ? {
        // Bedrock's image models live in a few regions only (us-west-2 for every wired Stability model), not
        // necessarily the function's: the default is theirs, as in serverless.yml, never AWS_REGION.
        region: optional(env, 'BEDROCK_REGION') ?? 'us-west-2',
        endpoint: bedrockEndpoint === undefined ? undefined : httpUrl(env, 'BEDROCK_ENDPOINT', bedrockEndpoint),
      }
    : undefined;
  return {
    kind: 'live',
    openai,
    azure: azure && azureDeployments ? { ...azure, deployments: azureDeployments } : undefined,
    bedrock,
    google,
    maxRetries: integer(env, 'PROVIDER_MAX_RETRIES', 2, 0, 5),
  };
}

const usd = (env: Env, name: string, fallback: number): number => {
  const raw = optional(env, name);
  if (raw === undefined) return usdToMicroUsd(fallback);
  if (!/^\d+(\.\d{1,6})?$/.test(raw)) throw new ConfigError(name, `must be an amount in USD like "5" or "12.50", got "${raw}"`);
  return usdToMicroUsd(Number(raw));
};

function parseJwt(env: Env): JwtConfig | undefined {
  const issuer = optional(env, 'JWT_ISSUER');
  if (issuer === undefined) return undefined;
  httpUrl(env, 'JWT_ISSUER', issuer);
  const jwksRaw = optional(env, 'JWT_JWKS_URL') ?? `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
  const algorithms = (optional(env, 'JWT_ALGORITHMS') ?? 'RS256,ES256').split(',').map((a) => a.trim());
  for (const algorithm of algorithms) {
    // Asymmetric algorithms only: a shared secret would have to live in every verifier, and 'none' is never ok.
    if (!/^(RS|PS|ES)(256|384|512)$|^EdDSA$/.test(algorithm)) {
      throw new ConfigError('JWT_ALGORITHMS', `has "${algorithm}"; allowed: RS*, PS*, ES*, EdDSA`);
    }
  }
  return {
    issuer,
    audience: required(env, 'JWT_AUDIENCE'),
    jwksUrl: httpsUrl(env, optional(env, 'JWT_JWKS_URL') === undefined ? 'JWT_ISSUER' : 'JWT_JWKS_URL', jwksRaw),
    algorithms,
    clockSkewSeconds: integer(env, 'JWT_CLOCK_SKEW_SECONDS', 30, 0, 300),
    jwksMaxStaleMs: integer(env, 'JWT_JWKS_MAX_STALE_SECONDS', 6 * 3_600, 0, 7 * 86_400) * 1000,
  };
}

/** One PRINCIPAL_LIMITS entry; a field it leaves out takes the default. */
function parseLimits(name: string, raw: unknown, defaults: QuotaLimits): QuotaLimits {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(name, 'entries must be objects like {"dailyImages": 100, "dailySpendUsd": 10}');
  }
  const entry = raw as Record<string, unknown>;
  const images = entry['dailyImages'];
  const spend = entry['dailySpendUsd'];
  for (const key of Object.keys(entry)) {
    if (key !== 'dailyImages' && key !== 'dailySpendUsd') throw new ConfigError(name, `has an unknown field "${key}"`);
  }
  if (images !== undefined && (!Number.isInteger(images) || (images as number) < 0)) {
    throw new ConfigError(name, 'dailyImages must be a whole number >= 0');
  }
  if (spend !== undefined && (typeof spend !== 'number' || spend < 0)) {
    throw new ConfigError(name, 'dailySpendUsd must be a number >= 0');
  }
  return {
    dailyImages: (images as number | undefined) ?? defaults.dailyImages,
    dailySpendMicroUsd: spend === undefined ? defaults.dailySpendMicroUsd : usdToMicroUsd(spend as number),
  };
}

function parseState(env: Env, provider: ProviderConfig): StateConfig | undefined {
  const quotas = optional(env, 'QUOTAS') ?? 'on';
  if (quotas !== 'on' && quotas !== 'off') throw new ConfigError('QUOTAS', `must be "on" or "off", got "${quotas}"`);
  const table = optional(env, 'STATE_TABLE');
  if (table === undefined) {
    // The offline generator costs nothing: nothing to protect. QUOTAS=off says so for real providers.
    if (provider.kind === 'offline' || quotas === 'off') return undefined;
    throw new ConfigError('STATE_TABLE', 'is required with real providers (quotas and spend caps); QUOTAS=off disables them');
  }
  const endpointRaw = optional(env, 'DYNAMODB_ENDPOINT');
  let overrides: unknown = {};
  const overridesRaw = optional(env, 'PRINCIPAL_LIMITS');
  if (overridesRaw !== undefined) {
    try {
      overrides = JSON.parse(overridesRaw);
    } catch {
      throw new ConfigError('PRINCIPAL_LIMITS', 'must be a JSON object like {"web-app": {"dailyImages": 500}}');
    }
    if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
      throw new ConfigError('PRINCIPAL_LIMITS', 'must be a JSON object like {"web-app": {"dailyImages": 500}}');
    }
  }
  const defaultLimits: QuotaLimits = {
    dailyImages: integer(env, 'DAILY_IMAGE_LIMIT', 50, 0, 1_000_000),
    dailySpendMicroUsd: usd(env, 'DAILY_SPEND_LIMIT_USD', 5),
  };
  const principalLimits = new Map<string, QuotaLimits>();
  for (const [name, limits] of Object.entries(overrides as Record<string, unknown>)) {
    // "jwt:<sub>" or "api-key:<name>"; a bare name is an API key's, as the keys are the ones operators name.
    const key = /^(api-key|jwt):./.test(name) ? name : `api-key:${name}`;
    principalLimits.set(key, parseLimits('PRINCIPAL_LIMITS', limits, defaultLimits));
  }
  return {
    table,
    quotas: quotas === 'on',
    endpoint: endpointRaw === undefined ? undefined : httpUrl(env, 'DYNAMODB_ENDPOINT', endpointRaw),
    defaultLimits,
    principalLimits,
    globalDailySpendMicroUsd: usd(env, 'GLOBAL_DAILY_SPEND_LIMIT_USD', 50),
    idempotencyTtlSeconds: integer(env, 'IDEMPOTENCY_TTL_SECONDS', 86_400, 60, 7 * 86_400),
    // Powertools' prefix for idempotency keys, kept so records stay readable across the switch (set by Lambda).
    idempotencyKeyPrefix: optional(env, 'AWS_LAMBDA_FUNCTION_NAME') ?? '',
  };
}

function parseModeration(env: Env, provider: ProviderConfig): ModerationConfig {
  // On by default wherever there is an OpenAI key to moderate with (it is free); without one (a Bedrock- or
  // Gemini-only deployment) the providers' own safety filters are what refuses (docs/limits.md).
  const canModerate = provider.kind === 'live' && provider.openai !== undefined;
  const mode = optional(env, 'MODERATION') ?? (canModerate ? 'fail-closed' : 'off');
  if (mode !== 'off' && mode !== 'fail-closed' && mode !== 'fail-open') {
    throw new ConfigError('MODERATION', `must be "off", "fail-closed" or "fail-open", got "${mode}"`);
  }
  if (mode !== 'off' && !canModerate) {
    throw new ConfigError('MODERATION', 'needs real providers and an OpenAI key (OPENAI_API_KEY or OPENAI_API_KEY_PARAMETER): it uses the OpenAI moderations API');
  }
  return { mode, model: optional(env, 'MODERATION_MODEL') ?? 'omni-moderation-latest' };
}

const flag = (env: Env, name: string): boolean => {
  const raw = optional(env, name) ?? 'false';
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(name, `must be "true" or "false", got "${raw}"`);
  return raw === 'true';
};

function parseJobs(env: Env, state: StateConfig | undefined, gatewayTimeoutMs: number): JobsConfig | undefined {
  const workerFunctionName = optional(env, 'WORKER_FUNCTION_NAME');
  if (state === undefined) {
    if (workerFunctionName !== undefined) throw new ConfigError('WORKER_FUNCTION_NAME', 'needs STATE_TABLE (jobs live in the state table)');
    return undefined;
  }
  if (workerFunctionName !== undefined && !/^[A-Za-z0-9:_.-]{1,170}$/.test(workerFunctionName)) {
    throw new ConfigError('WORKER_FUNCTION_NAME', `must be a Lambda function name or ARN, got "${workerFunctionName}"`);
  }
  const lambdaEndpoint = optional(env, 'LAMBDA_ENDPOINT');
  const defaultWaitSeconds = integer(env, 'DEFAULT_WAIT_SECONDS', Math.ceil(gatewayTimeoutMs / 1000), 0, 900);
  return {
    workerFunctionName,
    lambdaEndpoint: lambdaEndpoint === undefined ? undefined : httpUrl(env, 'LAMBDA_ENDPOINT', lambdaEndpoint),
    defaultWaitMs: defaultWaitSeconds * 1000,
    webhookReserveMs: webhookMaxMs(env),
  };
}

/** WEBHOOK_MAX_SECONDS: all of one event's delivery attempts end within it (and the worker keeps it back). */
const webhookMaxMs = (env: Env): number => integer(env, 'WEBHOOK_MAX_SECONDS', 60, 1, 600) * 1000;

function parseWebhooks(env: Env): WebhookConfig {
  const secret = optional(env, 'WEBHOOK_SECRET');
  if (secret !== undefined) {
    const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
    const bytes = match ? Buffer.from(match[1] as string, 'base64').length : 0;
    // The value is never echoed: it is a secret.
    if (bytes < 24 || bytes > 64) throw new ConfigError('WEBHOOK_SECRET', 'must be "whsec_" + base64 of 24 to 64 random bytes');
  }
  return {
    secret,
    secretParameter: secret === undefined ? optional(env, 'WEBHOOK_SECRET_PARAMETER') : undefined,
    allowLoopback: flag(env, 'WEBHOOK_ALLOW_LOOPBACK'),
    maxDeliveryMs: webhookMaxMs(env),
  };
}

function parseS3Credentials(env: Env): Config['s3Credentials'] {
  const accessKeyId = optional(env, 'S3_ACCESS_KEY_ID');
  const secretAccessKey = optional(env, 'S3_SECRET_ACCESS_KEY');
  const secretAccessKeyParameter = optional(env, 'S3_SECRET_ACCESS_KEY_PARAMETER');
  const secretGiven = secretAccessKey !== undefined || secretAccessKeyParameter !== undefined;
  if (accessKeyId === undefined && !secretGiven) return undefined;
  if (accessKeyId === undefined) throw new ConfigError('S3_ACCESS_KEY_ID', 'is required with S3_SECRET_ACCESS_KEY(_PARAMETER)');
  if (!secretGiven) throw new ConfigError('S3_SECRET_ACCESS_KEY', 'or S3_SECRET_ACCESS_KEY_PARAMETER is required with S3_ACCESS_KEY_ID');
  if (optional(env, 'S3_ENDPOINT') === undefined) {
    throw new ConfigError('S3_ACCESS_KEY_ID', 'is for an S3-compatible store: set S3_ENDPOINT too (on AWS the function role signs)');
  }
  return { accessKeyId, secretAccessKey, secretAccessKeyParameter: secretAccessKey === undefined ? secretAccessKeyParameter : undefined };
}

/** Parses and validates the environment. Pure: the same env always gives the same config or the same error. */
export function parseConfig(env: Env): Config {
  const s3EndpointRaw = optional(env, 'S3_ENDPOINT');
  const ssmEndpointRaw = optional(env, 'AWS_ENDPOINT_URL_SSM');
  const template = optional(env, 'PROMPT_TEMPLATE') ?? DEFAULT_PROMPT_TEMPLATE;
  const problem = templateProblem(template);
  if (problem) throw new ConfigError('PROMPT_TEMPLATE', problem);
  const imagePrefix = prefix(env, 'IMAGE_PREFIX', 'images/');
  const recordPrefix = prefix(env, 'RECORD_PREFIX', 'records/');
  if (imagePrefix.startsWith(recordPrefix) || recordPrefix.startsWith(imagePrefix)) {
    // The public prefix is what CloudFront serves; records must never be under it.
    throw new ConfigError('RECORD_PREFIX', 'must not overlap IMAGE_PREFIX');
  }
  const limits: Limits = {
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 16 * 1024, 256, 1024 * 1024),
    maxPromptChars: integer(env, 'PROMPT_MAX_CHARS', 4000, 1, 32_000),
    maxImageBytes: integer(env, 'MAX_IMAGE_BYTES', 20 * 1024 * 1024, 1024, 50 * 1024 * 1024),
    gatewayTimeoutMs: integer(env, 'GATEWAY_TIMEOUT_MS', 29_000, 1_000, 900_000),
    uploadReserveMs: integer(env, 'UPLOAD_RESERVE_MS', 3_000, 0, 60_000),
    minProviderTimeMs: integer(env, 'MIN_PROVIDER_TIME_MS', 2_000, 0, 60_000),
  };
  const models = parseModels(env);
  const provider = parseProvider(env, models.imageModels);
  const jwt = parseJwt(env);
  const state = parseState(env, provider);
  const cdnDistributionId = optional(env, 'CLOUDFRONT_DISTRIBUTION_ID');
  if (cdnDistributionId !== undefined && !/^[A-Z0-9]{1,32}$/.test(cdnDistributionId)) {
    throw new ConfigError('CLOUDFRONT_DISTRIBUTION_ID', `must be a distribution id like "E2QWRUHAPOMQZL", got "${cdnDistributionId}"`);
  }
  return deepFreeze({
    imageBucket: required(env, 'IMAGE_BUCKET'),
    publicBaseUrl: httpUrl(env, 'PUBLIC_BASE_URL', required(env, 'PUBLIC_BASE_URL')),
    s3Endpoint: s3EndpointRaw === undefined ? undefined : httpUrl(env, 'S3_ENDPOINT', s3EndpointRaw),
    ssmEndpoint: ssmEndpointRaw === undefined ? undefined : httpUrl(env, 'AWS_ENDPOINT_URL_SSM', ssmEndpointRaw),
    s3Credentials: parseS3Credentials(env),
    awsRegion: optional(env, 'AWS_REGION') ?? optional(env, 'AWS_DEFAULT_REGION') ?? 'us-east-1',
    imagePrefix,
    recordPrefix,
    provider,
    ...models,
    apiKeys: parseApiKeys(env, jwt !== undefined),
    jwt,
    limits,
    state,
    moderation: parseModeration(env, provider),
    prompt: { template, constraints: optional(env, 'PROMPT_CONSTRAINTS') ?? DEFAULT_CONSTRAINTS },
    jobs: parseJobs(env, state, limits.gatewayTimeoutMs),
    webhooks: parseWebhooks(env),
    cdnDistributionId,
    // Powertools' name for it, kept from when Powertools Metrics wrote them.
    metricsEnabled: !flag(env, 'POWERTOOLS_METRICS_DISABLED'),
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
