/**
 * Every environment variable the service reads, in one table: how its text is parsed (valibot), its default, its
 * bounds and what it means. lib/config.ts builds the typed Config from the values; docs/configuration.md's table is
 * rendered from this one (`npm run config-docs`; a test fails when they differ) and .env.example is checked
 * against it.
 */
import * as v from 'valibot';
import { usdToMicroUsd } from '../domain/pricing.js';

/** One variable. `fallback` is parsed like a value that was set; `shown` is the docs' default column. */
export interface Variable<T, F extends string | undefined> {
  readonly schema: v.GenericSchema<string, T>;
  readonly fallback: F;
  readonly shown: string;
  readonly doc: string;
}

type Fallback = string | undefined;
const code = (text: string): string => `\`${text}\``;
const got = (issue: { input: unknown }): string => `got "${String(issue.input)}"`;

function variable<T, F extends Fallback>(schema: v.GenericSchema<string, T>, doc: string, fallback: F, shown?: string): Variable<T, F> {
  return { schema, fallback, shown: shown ?? (fallback === undefined ? 'unset' : code(fallback)), doc };
}

/** Free text. */
const text = <F extends Fallback = undefined>(doc: string, fallback?: F, shown?: string) => variable(v.string(), doc, fallback as F, shown);

/** A whole number within [min, max]. */
const wholeNumber = <F extends Fallback = undefined>(min: number, max: number, doc: string, fallback?: F, shown?: string) =>
  variable(
    v.pipe(
      v.string(),
      v.regex(/^\d+$/, (issue) => `must be a whole number, ${got(issue)}`),
      v.transform(Number),
      v.check(
        (value) => value >= min && value <= max,
        (issue) => `must be between ${min} and ${max}, got ${String(issue.input)}`,
      ),
    ),
    doc,
    fallback as F,
    shown,
  );

/** An amount in US dollars, kept in micro-dollars. */
const usd = <F extends Fallback = undefined>(doc: string, fallback?: F) =>
  variable(
    v.pipe(
      v.string(),
      v.regex(/^\d+(\.\d{1,6})?$/, (issue) => `must be an amount in USD like "5" or "12.50", ${got(issue)}`),
      v.transform((value) => usdToMicroUsd(Number(value))),
    ),
    doc,
    fallback as F,
  );

const isHttpUrl = (value: string): boolean => {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
};

/** An absolute http(s) URL, without a trailing slash. */
const httpUrl = <F extends Fallback = undefined>(doc: string, fallback?: F, shown?: string) =>
  variable(
    v.pipe(
      v.string(),
      v.check(isHttpUrl, (issue) => `must be an absolute http(s) URL, ${got(issue)}`),
      v.transform((value) => value.replace(/\/+$/, '')),
    ),
    doc,
    fallback as F,
    shown,
  );

/**
 * A JSON value of a fixed shape (`shape`, a valibot schema of the parsed value). Text that is not JSON, or JSON of
 * another shape, is refused with the path of the first problem, e.g. `at "web-app.dailyImages": must be a whole
 * number >= 0`.
 */
const json = <T, F extends Fallback = undefined>(
  shape: v.GenericSchema<unknown, T>,
  example: string,
  doc: string,
  fallback?: F,
  shown?: string,
) =>
  variable(
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        try {
          return JSON.parse(dataset.value) as unknown;
        } catch {
          addIssue({ message: `must be a JSON object like ${example}` });
          return NEVER;
        }
      }),
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed) return;
        const checked = v.safeParse(shape, dataset.value);
        if (checked.success) return;
        const issue = checked.issues[0];
        const path = v.getDotPath(issue);
        addIssue({ message: `${path ? `at "${path}": ` : ''}${issue.message} (like ${example})` });
      }),
      v.transform((value) => v.parse(shape, value)),
    ),
    doc,
    fallback as F,
    shown,
  );

/** The most fallbacks a model may have: each is one more provider call's wait before the caller hears. */
const MAX_FALLBACKS = 3;

/** MODEL_FALLBACKS' shape: model -> 1 to 3 model names. Which names are wired and listed is checked in lib/config.ts. */
const FALLBACKS_SHAPE = v.record(
  v.string(),
  v.pipe(
    v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9._:/-]{1,100}$/, 'must be a model name')), 'must be a list of model names'),
    v.minLength(1, `must list 1 to ${MAX_FALLBACKS} model names`),
    v.maxLength(MAX_FALLBACKS, `must list 1 to ${MAX_FALLBACKS} model names`),
  ),
  'must be a JSON object',
);

/** PRINCIPAL_LIMITS' shape: principal -> its daily limits, each optional (a field left out takes the default). */
const LIMITS_SHAPE = v.record(
  v.string(),
  v.strictObject(
    {
      dailyImages: v.optional(
        v.pipe(
          v.number('must be a whole number >= 0'),
          v.integer('must be a whole number >= 0'),
          v.minValue(0, 'must be a whole number >= 0'),
        ),
      ),
      dailySpendUsd: v.optional(v.pipe(v.number('must be a number >= 0'), v.minValue(0, 'must be a number >= 0'))),
    },
    'entries must be objects of dailyImages and dailySpendUsd only',
  ),
  'must be a JSON object',
);

/** One of a few words. */
function oneOf<const W extends readonly [string, ...string[]], F extends Fallback = undefined>(
  words: W,
  doc: string,
  fallback?: F,
  shown?: string,
) {
  const listed = words.map((word) => `"${word}"`);
  const expected = listed.length === 1 ? listed[0] : `${listed.slice(0, -1).join(', ')} or ${listed[listed.length - 1]}`;
  return variable(
    v.pipe(
      v.string(),
      v.picklist(words, (issue) => `must be ${expected}, ${got(issue)}`),
    ) as v.GenericSchema<string, W[number]>,
    doc,
    fallback as F,
    shown,
  );
}

/** `true` or `false`. */
const flag = (doc: string) =>
  variable(
    v.pipe(
      v.string(),
      v.picklist(['true', 'false'], (issue) => `must be "true" or "false", ${got(issue)}`),
      v.transform((value) => value === 'true'),
    ),
    doc,
    'false',
  );

/** An S3 key prefix like `images/`. */
const keyPrefix = <F extends string>(doc: string, fallback: F) =>
  variable(
    v.pipe(
      v.string(),
      v.check(
        (value) => /^[a-z0-9][a-z0-9-_/]*\/$/i.test(value) && !value.includes('//'),
        (issue) => `must be a key prefix like "images/", ${got(issue)}`,
      ),
    ),
    doc,
    fallback,
  );

/** A value of a fixed shape; `message` says the shape (the value itself is not echoed when `secret`). */
const shaped = <F extends Fallback = undefined>(
  pattern: RegExp,
  message: string,
  doc: string,
  options: { secret?: boolean; fallback?: F } = {},
) =>
  variable(
    v.pipe(
      v.string(),
      v.regex(pattern, (issue) => (options.secret ? message : `${message}, ${got(issue)}`)),
    ),
    doc,
    options.fallback as F,
  );

export const VARIABLES = {
  IMAGE_BUCKET: text('bucket the images and records go to', undefined, 'required'),
  PUBLIC_BASE_URL: httpUrl(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the docs' text shows how the URL is formed.
    'base of permanent URLs (CloudFront or a custom domain); URL = `${PUBLIC_BASE_URL}/${key}`',
    undefined,
    'required',
  ),
  S3_ENDPOINT: httpUrl('an S3-compatible endpoint (local S3, Cloudflare R2); implies path-style addressing'),
  S3_ACCESS_KEY_ID: text("the image store's own key id (R2), used for S3 only; needs `S3_ENDPOINT` and a secret"),
  S3_SECRET_ACCESS_KEY: text('its secret'),
  S3_SECRET_ACCESS_KEY_PARAMETER: text('or the name of an SSM SecureString holding that secret'),
  AWS_REGION: text(
    'region of the bucket (and of SSM); standard AWS credential variables apply',
    undefined,
    '`AWS_DEFAULT_REGION`, else `us-east-1`',
  ),
  AWS_DEFAULT_REGION: text('the region when `AWS_REGION` is not set'),
  IMAGE_PROVIDER: oneOf(
    ['offline', 'live', 'openai'],
    "`live` (each model's provider, named by its `provider/` prefix) or `offline`; `openai` means `live`",
    'offline',
  ),
  OFFLINE_DELAY_MS: wholeNumber(0, 600_000, 'the offline generator takes this long per image', '0'),
  OPENAI_API_KEY: text('the key itself (local use)'),
  OPENAI_API_KEY_PARAMETER: text(
    'or the name of an SSM SecureString holding it (deployed use; read on first use through Powertools parameters ' +
      '(`GetParameter`, decrypted), cached 15 min; unreadable -> `502 provider_error`, nothing sent, quota given ' +
      'back)',
  ),
  AWS_ENDPOINT_URL_SSM: httpUrl(
    "the AWS SDKs' variable for another SSM endpoint (a local stand-in); every AWS client also honours the SDK's " +
      'other `AWS_ENDPOINT_URL*`, FIPS and dual-stack settings',
  ),
  OPENAI_BASE_URL: httpUrl('any OpenAI-compatible endpoint', undefined, 'OpenAI'),
  AZURE_OPENAI_ENDPOINT: httpUrl('`https://<resource>.openai.azure.com`, for `azure/<deployment>` models (the v1 API at `/openai/v1`)'),
  AZURE_OPENAI_DEPLOYMENTS: text(
    'which model each `azure/<deployment>` runs, `deployment=model` pairs, comma-separated ' +
      '(`images-prod=gpt-image-2`); required for every listed deployment',
  ),
  AZURE_OPENAI_API_KEY: text('Azure OpenAI key (local use)'),
  AZURE_OPENAI_API_KEY_PARAMETER: text('or the SSM SecureString holding it (deployed use)'),
  BEDROCK_REGION: text(
    'region of Bedrock for `bedrock/...` models (every wired Stability model runs in `us-west-2`; a model not ' +
      "offered in the region is `502 provider_error`, a deployment's misconfiguration)",
    'us-west-2',
  ),
  BEDROCK_ENDPOINT: httpUrl('another endpoint (a local test server)', undefined, 'Bedrock Runtime'),
  GEMINI_API_KEY: text('Gemini API key for `google/...` models (local use)'),
  GEMINI_API_KEY_PARAMETER: text('or the SSM SecureString holding it (deployed use)'),
  GEMINI_BASE_URL: httpUrl('another Gemini API endpoint (a local test server)', undefined, 'Google'),
  IMAGE_MODEL: text('default model', 'gpt-image-2'),
  IMAGE_MODELS: text(
    "comma-separated allow-list of `provider/model` names a request may ask for ([providers.md](providers.md); a bare name is OpenAI's)",
    undefined,
    '`IMAGE_MODEL`',
  ),
  API_KEY_HASHES: text(
    'comma-separated `principal:sha256hex` entries; keys issued with `npm run keys` live in the state table instead, beside these ([deploy.md](deploy.md))',
    undefined,
    'required (unless `JWT_ISSUER`)',
  ),
  API_KEY_CACHE_SECONDS: wholeNumber(
    1,
    300,
    'how long a function instance trusts what it read about an issued key (`npm run keys`): the bound on how late a ' +
      'revocation or a change of limits takes effect, and on how often one unknown key is looked up',
    '60',
  ),
  MAX_BODY_BYTES: wholeNumber(256, 1024 * 1024, 'largest request body', '16384'),
  PROMPT_MAX_CHARS: wholeNumber(1, 32_000, 'longest prompt, in code points after normalisation', '4000'),
  MAX_IMAGE_BYTES: wholeNumber(1024, 50 * 1024 * 1024, 'largest image accepted from the provider (20 MiB)', '20971520'),
  GATEWAY_TIMEOUT_MS: wholeNumber(1_000, 900_000, 'when the caller stops waiting (API Gateway HTTP API: 30 s at most)', '29000'),
  UPLOAD_RESERVE_MS: wholeNumber(0, 60_000, 'time kept back from the provider for verifying and storing', '3000'),
  MIN_PROVIDER_TIME_MS: wholeNumber(
    0,
    60_000,
    'below this much time left, the provider is not called (504 instead of a wasted generation)',
    '2000',
  ),
  PROVIDER_MAX_RETRIES: wholeNumber(0, 5, 'retries of 408/409/429/5xx/connection failures, each only if it still fits the deadline', '2'),
  MODEL_FALLBACKS: json(
    FALLBACKS_SHAPE,
    '{"gpt-image-2": ["google/gemini-3.1-flash-image"]}',
    'per-model fallbacks, JSON: `{"gpt-image-2": ["google/gemini-3.1-flash-image", "bedrock/stability.stable-image-core-v1:1"]}`; ' +
      'tried in order only after a failure that certainly did not bill (429, 503, a refused connection); at most 3 per model ' +
      '([providers.md](providers.md#fallback))',
    undefined,
    '`{}`',
  ),
  PROVIDER_BREAKER_FAILURES: wholeNumber(1, 100, 'unbilled failures in a row after which a provider with a fallback is skipped', '3'),
  PROVIDER_BREAKER_SECONDS: wholeNumber(1, 3_600, 'how long such a provider is skipped (per function instance)', '60'),
  PROMPT_TEMPLATE: text('hardening template; must contain `{{prompt}}` once, may contain `{{constraints}}`', undefined, 'built in'),
  PROMPT_CONSTRAINTS: text('the hidden rules inserted at `{{constraints}}`', undefined, 'built in'),
  IMAGE_PREFIX: keyPrefix('public key prefix (`serverless.yml` grants and serves it: change it with it)', 'images/'),
  RECORD_PREFIX: keyPrefix('private key prefix of the records (must not overlap `IMAGE_PREFIX`)', 'records/'),
  // Kept as given: a trailing slash is part of the `iss` claim the tokens carry.
  JWT_ISSUER: variable(
    v.pipe(
      v.string(),
      v.check(isHttpUrl, (issue) => `must be an absolute http(s) URL, ${got(issue)}`),
    ),
    'JWT auth is on when set (e.g. `https://cognito-idp.<region>.amazonaws.com/<pool id>`)',
    undefined,
  ),
  JWT_AUDIENCE: text('expected `aud`', undefined, 'required with `JWT_ISSUER`'),
  JWT_JWKS_URL: httpUrl(
    "where the issuer's public keys are (cached 10 min; an unknown `kid` refetches at most every 30 s; a fetch is " +
      "bounded to 3 s and 256 KiB, and, as with jose's own fetch, a redirect is not followed); https only (plain http " +
      'is refused at start, but on loopback)',
    undefined,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the docs' text shows how the default is formed.
    '`${JWT_ISSUER}/.well-known/jwks.json`',
  ),
  JWT_ALGORITHMS: text('allowed algorithms (asymmetric only: RS*, PS*, ES*, EdDSA)', 'RS256,ES256'),
  JWT_CLOCK_SKEW_SECONDS: wholeNumber(0, 300, 'tolerance on `exp` / `nbf`', '30'),
  JWT_JWKS_MAX_STALE_SECONDS: wholeNumber(
    0,
    7 * 86_400,
    "while the issuer's JWKS cannot be fetched, the last good key set keeps verifying for this long past its " +
      '10-minute age (refreshed in the background); then `503 auth_unavailable`',
    '21600',
  ),
  STATE_TABLE: text(
    'DynamoDB table for quotas, idempotency and image jobs (key `pk`, TTL attribute `expiresAt`, index `byOwner` on ' +
      '`owner` + `listKey`). Without it (offline, or `QUOTAS=off`) `POST /images` works the same way, its job kept in ' +
      'memory and run within the request; `GET`/`DELETE /images/...` then answer `404` naming `STATE_TABLE`, and ' +
      '`Idempotency-Key` and `webhook` are refused (`400`)',
    undefined,
    'required for `live` (unless `QUOTAS=off`)',
  ),
  DYNAMODB_ENDPOINT: httpUrl('a local DynamoDB'),
  QUOTAS: oneOf(
    ['on', 'off'],
    '`off` disables the daily limits and spend caps (then `STATE_TABLE` is not needed; when it is set, resources ' +
      'and `Idempotency-Key` stay)',
    'on',
  ),
  DAILY_IMAGE_LIMIT: wholeNumber(0, 1_000_000, 'images per caller per UTC day', '50'),
  DAILY_SPEND_LIMIT_USD: usd('estimated spend per caller per UTC day', '5'),
  DAILY_UPLOAD_LIMIT: wholeNumber(0, 1_000_000, 'upload forms (`POST /uploads`) per caller per UTC day', '100'),
  DAILY_INPUT_REFUSAL_LIMIT: wholeNumber(
    0,
    1_000_000,
    'input images refused at admission per caller per UTC day (missing, too large, not an image, not what the model ' +
      'takes); past it, such a request is `429` until the day resets',
    '20',
  ),
  PRINCIPAL_LIMITS: json(
    LIMITS_SHAPE,
    '{"web-app": {"dailyImages": 500, "dailySpendUsd": 50}}',
    'per-caller overrides, JSON keyed by principal: `{"api-key:web-app": {"dailyImages": 500, "dailySpendUsd": 50}, ' +
      '"jwt:user-42": {"dailyImages": 5}}`; a bare name (`"web-app"`) is an API key\'s',
    undefined,
    '`{}`',
  ),
  GLOBAL_DAILY_SPEND_LIMIT_USD: usd('estimated spend of the whole service per UTC day (circuit breaker)', '50'),
  AWS_LAMBDA_FUNCTION_NAME: text(
    "prefixes Idempotency-Key records (Powertools idempotency's key prefix); empty locally",
    undefined,
    'set by Lambda',
  ),
  IDEMPOTENCY_TTL_SECONDS: wholeNumber(60, 7 * 86_400, 'how long an `Idempotency-Key` answer is kept', '86400'),
  MODERATION: oneOf(
    ['off', 'fail-closed', 'fail-open'],
    '`off`, `fail-closed` (moderation down -> 503) or `fail-open` (proceed)',
    undefined,
    "`fail-closed` with real providers and an OpenAI key, `off` otherwise (offline, or no OpenAI key: the providers' own filters decide)",
  ),
  MODERATION_MODEL: text('moderation model', 'omni-moderation-latest'),
  CONTENT_CREDENTIALS: oneOf(
    ['off', 'verify', 'sign'],
    "`sign` reads each stored image's C2PA Content Credentials and, where the image came with none, embeds this " +
      "service's manifest (`trainedAlgorithmicMedia`, the model, the time, an edit's inputs) signed with the " +
      "deployment's key (`C2PA_SIGNER`); `verify` only reads and reports them as `provenance`; `off` does neither",
    'sign',
  ),
  C2PA_SIGNER: text(
    'the signing key and certificate chain as PEM text: a private key (EC P-256/384/521, Ed25519 or RSA), then its ' +
      'certificate, then any intermediates (`\\n` may stand for line breaks); `npm start` uses the C2PA test ' +
      'certificate (tests/fixtures/c2pa-test-signer.pem) unless one is set',
  ),
  C2PA_SIGNER_PARAMETER: text(
    'or the name of an SSM SecureString holding that PEM text (deployed use; read by the first image signed, cached ' +
      '15 min; unreadable -> the image is stored unsigned and counted)',
  ),
  WORKER_FUNCTION_NAME: shaped(
    /^[A-Za-z0-9:_.-]{1,170}$/,
    'must be a Lambda function name or ARN',
    'the worker function, invoked asynchronously (needs `STATE_TABLE`); unset = jobs run inline in the API function ' +
      '(as with `invoke local`)',
  ),
  LAMBDA_ENDPOINT: httpUrl('a local Lambda endpoint (serverless-offline)'),
  DEFAULT_WAIT_SECONDS: wholeNumber(
    0,
    900,
    'how long `POST /images` waits without `Prefer` (capped by the gateway limit)',
    undefined,
    'gateway limit (29)',
  ),
  WEBHOOK_SECRET: shaped(
    /^whsec_[A-Za-z0-9+/]+={0,2}$/,
    'must be "whsec_" + base64 of 24 to 64 random bytes',
    'Standard Webhooks signing secret, `whsec_` + base64 of 24-64 random bytes; webhooks are refused without it (or the next)',
    { secret: true },
  ),
  WEBHOOK_SECRET_PARAMETER: text('or the name of an SSM SecureString holding it (deployed use; read by the worker on first use)'),
  WEBHOOK_MAX_SECONDS: wholeNumber(1, 600, 'how long one webhook is retried; the worker keeps this much of its time back for it', '60'),
  WEBHOOK_ALLOW_LOOPBACK: flag('`true` also allows `http` and loopback webhook receivers (local development and tests only)'),
  CLOUDFRONT_DISTRIBUTION_ID: shaped(
    /^[A-Z0-9]{1,32}$/,
    'must be a distribution id like "E2QWRUHAPOMQZL"',
    "invalidate a deleted image's path in this distribution",
  ),
  POWERTOOLS_LOG_LEVEL: variable(
    v.pipe(
      v.string(),
      v.toUpperCase(),
      v.picklist(
        ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'],
        (issue) => `must be a log level like "INFO" or "DEBUG", ${got(issue)}`,
      ),
    ),
    'log level (read by Powertools Logger)',
    'INFO',
  ),
  POWERTOOLS_METRICS_DISABLED: flag('`true` writes no CloudWatch metric (Powertools Metrics, EMF) lines'),
} as const;

export type VariableName = keyof typeof VARIABLES;

/** The parsed values: a variable with a fallback always has one; without, it may be undefined. */
export type Values = {
  readonly [K in VariableName]: (typeof VARIABLES)[K] extends Variable<infer T, infer F> ? (F extends string ? T : T | undefined) : never;
};

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Reads every variable of the table: unset or empty takes the fallback; a bad value throws naming the variable. */
export function readVariables(env: Env): Values {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(VARIABLES) as [VariableName, Variable<unknown, Fallback>][]) {
    const raw = env[name]?.trim();
    const value = raw === undefined || raw === '' ? spec.fallback : raw;
    if (value === undefined) continue;
    const parsed = v.safeParse(spec.schema, value);
    if (!parsed.success) throw new ConfigError(name, parsed.issues[0].message);
    values[name] = parsed.output;
  }
  return values as Values;
}

/** docs/configuration.md's table of variables, rendered from VARIABLES. */
export function variablesTable(): string {
  const rows = (Object.entries(VARIABLES) as [VariableName, Variable<unknown, Fallback>][]).map(
    ([name, spec]) => `| ${code(name)} | ${spec.shown} | ${spec.doc} |`,
  );
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
