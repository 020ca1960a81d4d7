import { DEFAULT_CONSTRAINTS, DEFAULT_PROMPT_TEMPLATE, templateProblem } from './domain/prompt-policy.js';
import { familyOf, isWiredOpenAIModel, parseModelName, type ProviderName } from './domain/models.js';
import { usdToMicroUsd } from './domain/pricing.js';
import { ConfigError, readVariables, type Env, type Values, type VariableName } from './config/variables.js';

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
  /** Fallbacks by the canonical name of the model asked for (`openai/gpt-image-2`), in the order they are tried. */
  fallbacks: ReadonlyMap<string, readonly string[]>;
  /** The circuit breaker of providers that have a fallback: skipped after `failures` unbilled failures in a row. */
  breaker: { failures: number; cooldownMs: number };
  apiKeys: readonly ApiKeyEntry[];
  /** How long an issued key's record is trusted per function instance (API_KEY_CACHE_SECONDS). */
  apiKeyCacheMs: number;
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
  contentCredentials: ContentCredentialsConfig;
}

/** CONTENT_CREDENTIALS: whether stored images' C2PA manifests are read, and signed by this service where they have none. */
export interface ContentCredentialsConfig {
  mode: 'off' | 'verify' | 'sign';
  /** With `sign`: the PEM text of the key and chain, or the SSM SecureString holding it. */
  signer: { pem: string; parameter?: undefined } | { pem?: undefined; parameter: string } | undefined;
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

/** Counts of things other than images a caller may do per UTC day (DAILY_UPLOAD_LIMIT, DAILY_INPUT_REFUSAL_LIMIT). */
export interface ActivityLimits {
  uploads: number;
  inputRefusals: number;
}

export interface StateConfig {
  table: string;
  /** Daily limits and spend caps (QUOTAS, on by default); off keeps the table for resources and idempotency. */
  quotas: boolean;
  endpoint: string | undefined;
  defaultLimits: QuotaLimits;
  activityLimits: ActivityLimits;
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

export { ConfigError };

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * An https URL, or http on loopback only (local stand-ins): what signs callers in (the JWT issuer's keys) must not
 * be readable or replaceable on the way.
 */
function requireHttps(name: VariableName, value: string): string {
  if (new URL(value).protocol !== 'https:' && !LOOPBACK_HOSTS.has(new URL(value).hostname)) {
    throw new ConfigError(name, `must be an https URL (plain http only on loopback), got "${value}"`);
  }
  return value;
}

const required = <T>(name: VariableName, value: T | undefined, why = 'is required but not set'): T => {
  if (value === undefined) throw new ConfigError(name, why);
  return value;
};

function parseApiKeys(raw: string | undefined, jwtEnabled: boolean): ApiKeyEntry[] {
  const name = 'API_KEY_HASHES';
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

function parseModels(values: Values): { imageModel: string; imageModels: string[] } {
  const imageModel = values.IMAGE_MODEL;
  const listed = values.IMAGE_MODELS;
  const imageModels =
    listed === undefined
      ? [imageModel]
      : listed
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean);
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

/**
 * MODEL_FALLBACKS, of the shape its schema checked (lib/config/variables.ts): each key must be a model of
 * IMAGE_MODELS, each fallback a wired model (whose provider must then be configured) other than the key, named once.
 */
function parseFallbacks(
  parsed: Readonly<Record<string, readonly string[]>> | undefined,
  models: readonly string[],
): ReadonlyMap<string, readonly string[]> {
  const fallbacks = new Map<string, readonly string[]>();
  for (const [model, list] of Object.entries(parsed ?? {})) {
    const canonical = parseModelName(model)?.canonical;
    if (!models.some((listed) => parseModelName(listed)?.canonical === canonical) || canonical === undefined) {
      throw new ConfigError('MODEL_FALLBACKS', `has "${model}", which is not in IMAGE_MODELS`);
    }
    const seen = new Set([canonical]);
    for (const fallback of list) {
      if (!familyOf(fallback))
        throw new ConfigError('MODEL_FALLBACKS', `has "${fallback}", which is not a wired model (docs/providers.md)`);
      const name = parseModelName(fallback)?.canonical ?? fallback;
      if (seen.has(name)) throw new ConfigError('MODEL_FALLBACKS', `"${model}" names "${fallback}" twice, or as its own fallback`);
      seen.add(name);
    }
    fallbacks.set(canonical, list);
  }
  return fallbacks;
}

/** An API key given directly or as an SSM parameter, and an optional base URL; undefined when neither key is set. */
function secretEndpoint(
  apiKey: string | undefined,
  apiKeyParameter: string | undefined,
  baseUrl: string | undefined,
): SecretEndpoint | undefined {
  if (apiKey === undefined && apiKeyParameter === undefined) return undefined;
  return { apiKey, apiKeyParameter: apiKey === undefined ? apiKeyParameter : undefined, baseUrl };
}

/**
 * AZURE_OPENAI_DEPLOYMENTS: `deployment=model` pairs, comma-separated (`images-prod=gpt-image-2`). A deployment's
 * name says nothing about its model, and sizes, qualities, formats and prices follow the model: every azure/
 * model listed in IMAGE_MODELS must be here, running a wired OpenAI model.
 */
function parseAzureDeployments(raw: string | undefined, models: readonly string[]): ReadonlyMap<string, string> {
  const deployments = new Map<string, string>();
  for (const entry of (raw ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')) {
    const [name = '', model = '', ...rest] = entry.split('=').map((part) => part.trim());
    if (name === '' || rest.length > 0 || !isWiredOpenAIModel(model)) {
      throw new ConfigError(
        'AZURE_OPENAI_DEPLOYMENTS',
        `must be deployment=model pairs with a wired OpenAI model (e.g. "images-prod=gpt-image-2"), got "${entry}"`,
      );
    }
    deployments.set(name, model);
  }
  for (const model of models) {
    const ref = parseModelName(model);
    if (ref?.provider === 'azure' && !deployments.has(ref.id)) {
      throw new ConfigError(
        'AZURE_OPENAI_DEPLOYMENTS',
        `must say which model the deployment "${ref.id}" runs (e.g. "${ref.id}=gpt-image-2")`,
      );
    }
  }
  return deployments;
}

function parseProvider(values: Values, models: readonly string[]): ProviderConfig {
  if (values.IMAGE_PROVIDER === 'offline') return { kind: 'offline', delayMs: values.OFFLINE_DELAY_MS };
  // "openai" means "live" (each model goes to the provider its name says).
  const used = new Set<ProviderName>(models.map((model) => parseModelName(model)?.provider ?? 'openai'));
  const need = <T>(provider: ProviderName, value: T | undefined, variable: VariableName, what: string): T | undefined => {
    if (used.has(provider) && value === undefined) {
      throw new ConfigError(variable, `${what} is required for the ${provider}/ models in IMAGE_MODELS or MODEL_FALLBACKS`);
    }
    return value;
  };
  // OpenAI's key also serves moderation, so it is read whenever it is given; Azure and Gemini only when models
  // of theirs are listed (a deployment may name their SSM parameters without using them).
  const openai = need(
    'openai',
    secretEndpoint(values.OPENAI_API_KEY, values.OPENAI_API_KEY_PARAMETER, values.OPENAI_BASE_URL),
    'OPENAI_API_KEY',
    'OPENAI_API_KEY or OPENAI_API_KEY_PARAMETER',
  );
  let azure = used.has('azure')
    ? secretEndpoint(values.AZURE_OPENAI_API_KEY, values.AZURE_OPENAI_API_KEY_PARAMETER, values.AZURE_OPENAI_ENDPOINT)
    : undefined;
  if (azure !== undefined && azure.baseUrl === undefined) {
    throw new ConfigError('AZURE_OPENAI_ENDPOINT', 'is required for azure/ models (https://<resource>.openai.azure.com)');
  }
  azure = need('azure', azure, 'AZURE_OPENAI_API_KEY', 'AZURE_OPENAI_API_KEY or AZURE_OPENAI_API_KEY_PARAMETER');
  const azureDeployments = azure ? parseAzureDeployments(values.AZURE_OPENAI_DEPLOYMENTS, models) : undefined;
  const google = need(
    'google',
    used.has('google') ? secretEndpoint(values.GEMINI_API_KEY, values.GEMINI_API_KEY_PARAMETER, values.GEMINI_BASE_URL) : undefined,
    'GEMINI_API_KEY',
    'GEMINI_API_KEY or GEMINI_API_KEY_PARAMETER',
  );
  // Bedrock's image models live in a few regions only (us-west-2 for every wired Stability model), not
  // necessarily the function's: the default is theirs, as in serverless.yml, never AWS_REGION.
  const bedrock = used.has('bedrock') ? { region: values.BEDROCK_REGION, endpoint: values.BEDROCK_ENDPOINT } : undefined;
  return {
    kind: 'live',
    openai,
    azure: azure && azureDeployments ? { ...azure, deployments: azureDeployments } : undefined,
    bedrock,
    google,
    maxRetries: values.PROVIDER_MAX_RETRIES,
  };
}

function parseJwt(values: Values): JwtConfig | undefined {
  const issuer = values.JWT_ISSUER;
  if (issuer === undefined) return undefined;
  const algorithms = values.JWT_ALGORITHMS.split(',').map((a) => a.trim());
  for (const algorithm of algorithms) {
    // Asymmetric algorithms only: a shared secret would have to live in every verifier, and 'none' is never ok.
    if (!/^(RS|PS|ES)(256|384|512)$|^EdDSA$/.test(algorithm)) {
      throw new ConfigError('JWT_ALGORITHMS', `has "${algorithm}"; allowed: RS*, PS*, ES*, EdDSA`);
    }
  }
  return {
    issuer,
    audience: required('JWT_AUDIENCE', values.JWT_AUDIENCE),
    jwksUrl:
      values.JWT_JWKS_URL === undefined
        ? requireHttps('JWT_ISSUER', `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`)
        : requireHttps('JWT_JWKS_URL', values.JWT_JWKS_URL),
    algorithms,
    clockSkewSeconds: values.JWT_CLOCK_SKEW_SECONDS,
    jwksMaxStaleMs: values.JWT_JWKS_MAX_STALE_SECONDS * 1000,
  };
}

/** One PRINCIPAL_LIMITS entry (its shape checked by its schema); a field it leaves out takes the default. */
const limitsOf = (entry: { dailyImages?: number | undefined; dailySpendUsd?: number | undefined }, defaults: QuotaLimits): QuotaLimits => ({
  dailyImages: entry.dailyImages ?? defaults.dailyImages,
  dailySpendMicroUsd: entry.dailySpendUsd === undefined ? defaults.dailySpendMicroUsd : usdToMicroUsd(entry.dailySpendUsd),
});

function parseState(values: Values, provider: ProviderConfig): StateConfig | undefined {
  const table = values.STATE_TABLE;
  if (table === undefined) {
    // The offline generator costs nothing: nothing to protect. QUOTAS=off says so for real providers.
    if (provider.kind === 'offline' || values.QUOTAS === 'off') return undefined;
    throw new ConfigError('STATE_TABLE', 'is required with real providers (quotas and spend caps); QUOTAS=off disables them');
  }
  const defaultLimits: QuotaLimits = { dailyImages: values.DAILY_IMAGE_LIMIT, dailySpendMicroUsd: values.DAILY_SPEND_LIMIT_USD };
  const principalLimits = new Map<string, QuotaLimits>();
  for (const [name, limits] of Object.entries(values.PRINCIPAL_LIMITS ?? {})) {
    // "jwt:<sub>" or "api-key:<name>"; a bare name is an API key's, as the keys are the ones operators name.
    const key = /^(api-key|jwt):./.test(name) ? name : `api-key:${name}`;
    principalLimits.set(key, limitsOf(limits, defaultLimits));
  }
  return {
    table,
    quotas: values.QUOTAS === 'on',
    endpoint: values.DYNAMODB_ENDPOINT,
    defaultLimits,
    activityLimits: { uploads: values.DAILY_UPLOAD_LIMIT, inputRefusals: values.DAILY_INPUT_REFUSAL_LIMIT },
    principalLimits,
    globalDailySpendMicroUsd: values.GLOBAL_DAILY_SPEND_LIMIT_USD,
    idempotencyTtlSeconds: values.IDEMPOTENCY_TTL_SECONDS,
    // Powertools idempotency prefixes its keys with the function's name (set by Lambda).
    idempotencyKeyPrefix: values.AWS_LAMBDA_FUNCTION_NAME ?? '',
  };
}

function parseModeration(values: Values, provider: ProviderConfig): ModerationConfig {
  // On by default wherever there is an OpenAI key to moderate with (it is free); without one (a Bedrock- or
  // Gemini-only deployment) the providers' own safety filters are what refuses (docs/limits.md).
  const canModerate = provider.kind === 'live' && provider.openai !== undefined;
  const mode = values.MODERATION ?? (canModerate ? 'fail-closed' : 'off');
  if (mode !== 'off' && !canModerate) {
    throw new ConfigError(
      'MODERATION',
      'needs real providers and an OpenAI key (OPENAI_API_KEY or OPENAI_API_KEY_PARAMETER): it uses the OpenAI moderations API',
    );
  }
  return { mode, model: values.MODERATION_MODEL };
}

function parseJobs(values: Values, state: StateConfig | undefined, gatewayTimeoutMs: number): JobsConfig | undefined {
  const workerFunctionName = values.WORKER_FUNCTION_NAME;
  if (state === undefined) {
    if (workerFunctionName !== undefined) throw new ConfigError('WORKER_FUNCTION_NAME', 'needs STATE_TABLE (jobs live in the state table)');
    return undefined;
  }
  return {
    workerFunctionName,
    lambdaEndpoint: values.LAMBDA_ENDPOINT,
    defaultWaitMs: (values.DEFAULT_WAIT_SECONDS ?? Math.ceil(gatewayTimeoutMs / 1000)) * 1000,
    webhookReserveMs: values.WEBHOOK_MAX_SECONDS * 1000,
  };
}

function parseWebhooks(values: Values): WebhookConfig {
  const secret = values.WEBHOOK_SECRET;
  if (secret !== undefined) {
    const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64').length;
    // The value is never echoed: it is a secret.
    if (bytes < 24 || bytes > 64) throw new ConfigError('WEBHOOK_SECRET', 'must be "whsec_" + base64 of 24 to 64 random bytes');
  }
  return {
    secret,
    secretParameter: secret === undefined ? values.WEBHOOK_SECRET_PARAMETER : undefined,
    allowLoopback: values.WEBHOOK_ALLOW_LOOPBACK,
    maxDeliveryMs: values.WEBHOOK_MAX_SECONDS * 1000,
  };
}

function parseContentCredentials(values: Values): ContentCredentialsConfig {
  const mode = values.CONTENT_CREDENTIALS;
  const pem = values.C2PA_SIGNER;
  const parameter = values.C2PA_SIGNER_PARAMETER;
  if (mode !== 'sign') return { mode, signer: undefined };
  if (pem !== undefined) {
    // Checked for its shape here, read as a key when the first image is signed; the value is never echoed.
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem) || !pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError('C2PA_SIGNER', 'must be PEM text: a private key, then its certificate (and any intermediates)');
    }
    return { mode, signer: { pem } };
  }
  if (parameter !== undefined) return { mode, signer: { parameter } };
  throw new ConfigError(
    'CONTENT_CREDENTIALS',
    'is sign (the default), which needs C2PA_SIGNER or C2PA_SIGNER_PARAMETER (docs/deploy.md); set CONTENT_CREDENTIALS=verify to store images without this service’s manifest',
  );
}

function parseS3Credentials(values: Values): Config['s3Credentials'] {
  const accessKeyId = values.S3_ACCESS_KEY_ID;
  const secretAccessKey = values.S3_SECRET_ACCESS_KEY;
  const secretAccessKeyParameter = values.S3_SECRET_ACCESS_KEY_PARAMETER;
  const secretGiven = secretAccessKey !== undefined || secretAccessKeyParameter !== undefined;
  if (accessKeyId === undefined && !secretGiven) return undefined;
  if (accessKeyId === undefined) throw new ConfigError('S3_ACCESS_KEY_ID', 'is required with S3_SECRET_ACCESS_KEY(_PARAMETER)');
  if (!secretGiven) throw new ConfigError('S3_SECRET_ACCESS_KEY', 'or S3_SECRET_ACCESS_KEY_PARAMETER is required with S3_ACCESS_KEY_ID');
  if (values.S3_ENDPOINT === undefined) {
    throw new ConfigError('S3_ACCESS_KEY_ID', 'is for an S3-compatible store: set S3_ENDPOINT too (on AWS the function role signs)');
  }
  return { accessKeyId, secretAccessKey, secretAccessKeyParameter: secretAccessKey === undefined ? secretAccessKeyParameter : undefined };
}

/**
 * Parses and validates the environment: every variable through the table of lib/config/variables.ts, then the
 * rules between them. Pure: the same env always gives the same config or the same error.
 */
export function parseConfig(env: Env): Config {
  const values = readVariables(env);
  const template = values.PROMPT_TEMPLATE ?? DEFAULT_PROMPT_TEMPLATE;
  const problem = templateProblem(template);
  if (problem) throw new ConfigError('PROMPT_TEMPLATE', problem);
  const { IMAGE_PREFIX: imagePrefix, RECORD_PREFIX: recordPrefix } = values;
  if (imagePrefix.startsWith(recordPrefix) || recordPrefix.startsWith(imagePrefix)) {
    // The public prefix is what CloudFront serves; records must never be under it.
    throw new ConfigError('RECORD_PREFIX', 'must not overlap IMAGE_PREFIX');
  }
  const limits: Limits = {
    maxBodyBytes: values.MAX_BODY_BYTES,
    maxPromptChars: values.PROMPT_MAX_CHARS,
    maxImageBytes: values.MAX_IMAGE_BYTES,
    gatewayTimeoutMs: values.GATEWAY_TIMEOUT_MS,
    uploadReserveMs: values.UPLOAD_RESERVE_MS,
    minProviderTimeMs: values.MIN_PROVIDER_TIME_MS,
  };
  const models = parseModels(values);
  const fallbacks = parseFallbacks(values.MODEL_FALLBACKS, models.imageModels);
  // A fallback's provider must be configured like a listed model's.
  const provider = parseProvider(values, [...models.imageModels, ...[...fallbacks.values()].flat()]);
  const jwt = parseJwt(values);
  const state = parseState(values, provider);
  return deepFreeze({
    imageBucket: required('IMAGE_BUCKET', values.IMAGE_BUCKET),
    publicBaseUrl: required('PUBLIC_BASE_URL', values.PUBLIC_BASE_URL),
    s3Endpoint: values.S3_ENDPOINT,
    ssmEndpoint: values.AWS_ENDPOINT_URL_SSM,
    s3Credentials: parseS3Credentials(values),
    awsRegion: values.AWS_REGION ?? values.AWS_DEFAULT_REGION ?? 'us-east-1',
    imagePrefix,
    recordPrefix,
    provider,
    ...models,
    fallbacks,
    breaker: { failures: values.PROVIDER_BREAKER_FAILURES, cooldownMs: values.PROVIDER_BREAKER_SECONDS * 1000 },
    apiKeys: parseApiKeys(values.API_KEY_HASHES, jwt !== undefined),
    apiKeyCacheMs: values.API_KEY_CACHE_SECONDS * 1000,
    jwt,
    limits,
    state,
    moderation: parseModeration(values, provider),
    prompt: { template, constraints: values.PROMPT_CONSTRAINTS ?? DEFAULT_CONSTRAINTS },
    jobs: parseJobs(values, state, limits.gatewayTimeoutMs),
    webhooks: parseWebhooks(values),
    cdnDistributionId: values.CLOUDFRONT_DISTRIBUTION_ID,
    // Powertools Metrics' own switch.
    metricsEnabled: !values.POWERTOOLS_METRICS_DISABLED,
    contentCredentials: parseContentCredentials(values),
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
