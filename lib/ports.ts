/**
 * Ports: what the use case needs from the outside world. Adapters in lib/adapters implement them; the use case
 * and its tests see only these interfaces, so a new provider (Azure OpenAI, Bedrock) or store is a new adapter.
 */
import type { ApiKeyRecord } from './domain/api-keys.js';
import type { ImageJob, JobError, Provenance, ReservationRef, StoredImageResult, StoredPreview } from './domain/image-job.js';
import type { ImageRequest, ProviderOptions } from './domain/image-request.js';
import type { OutputFormat } from './domain/models.js';
import type { SettledCost } from './domain/pricing.js';

export interface GenerationRequest {
  /** The hardened prompt (template + quoted user text), never the raw user input. */
  prompt: string;
  model: string;
  /** `WIDTHxHEIGHT` or `auto`. */
  size: string;
  quality: string | undefined;
  format: OutputFormat | undefined;
  /** An opaque, stable id of the caller for the provider's abuse monitoring (not the principal itself). */
  endUserId: string;
  /** Partial images to stream while it generates (0-3), each handed to `GenerationHooks.onPreview`. */
  previews?: number | undefined;
  /** Input images (verified, in order): the image to edit first, or references. */
  images?: InputImageBytes[] | undefined;
  /** A PNG with transparency the size of the first image: where to edit it. */
  mask?: InputImageBytes | undefined;
  /** OpenAI's background, output compression and moderation level; a provider that takes none ignores them. */
  options?: ProviderOptions | undefined;
}

export interface InputImageBytes {
  bytes: Buffer;
  contentType: string;
}

export interface GeneratedImage {
  /**
   * The image bytes, decoded by the adapter from the provider's encoding with the strict decoder of
   * lib/domain/base64.ts. Whether they are a complete image is checked by the use case, not the adapter.
   */
  bytes: Buffer;
  revisedPrompt?: string | undefined;
  usage?: Record<string, unknown> | undefined;
  /** What actually made the image when it is not the model asked for (the offline generator: `offline/placeholder`). */
  generatedBy?: string | undefined;
  /** The provider's id of the request (OpenAI's `x-request-id`), for the log: what its support asks for. */
  providerRequestId?: string | undefined;
  /** How many partial images the provider streamed (each billed on top of the image). */
  previews?: number | undefined;
  /** The quality and background the provider reports it used (what `auto` became), when it reports them. */
  settings?: { quality?: string; background?: string } | undefined;
}

/** One partial image as the provider streamed it: decoded, not yet verified. */
export interface PreviewImage {
  /** 0-based, in the order the provider sent them. */
  index: number;
  bytes: Buffer;
  /** What made it, when that is not the model asked for (the offline generator), as GeneratedImage says. */
  generatedBy?: string | undefined;
}

export interface GenerationHooks {
  /**
   * Called before a retry that follows an attempt the provider may have billed. The caller counts the extra
   * attempt against the quota and answers true, or answers false (over a limit) and no retry is made.
   */
  beforeBillableRetry?: () => Promise<boolean>;
  /**
   * Called with each partial image as it arrives, before the next is read. It never throws (a preview that cannot
   * be kept is the caller's to log), so a preview never decides the generation's outcome.
   */
  onPreview?: (preview: PreviewImage) => Promise<void>;
}

export interface ImageGenerator {
  /**
   * Generates one image. Must give up by `deadline` (epoch ms) and throw an AppError from lib/errors.ts:
   * `content_policy_violation`, `provider_busy`, `provider_error`, `provider_timeout` or `bad_provider_response`,
   * with `mayBeBilled` set when any attempt reached the provider with an unknown outcome.
   */
  generate(request: GenerationRequest, deadline: number, hooks?: GenerationHooks): Promise<GeneratedImage>;
}

export interface StoredImage {
  key: string;
  bytes: Buffer;
  contentType: string;
  /** Raw sha256 digest of `bytes`; the store uses it so the server verifies what it received. */
  sha256: Buffer;
  /** US-ASCII only (S3 user metadata). */
  metadata: Record<string, string>;
}

export interface ImageStore {
  /** Writes the public image; never overwrites an existing key. Throws AppError `storage_unavailable`. */
  putImage(image: StoredImage, deadline: number): Promise<void>;
  /** Writes the private JSON record of a generation. Throws AppError `storage_unavailable`. */
  putRecord(key: string, record: unknown, deadline: number): Promise<void>;
  /**
   * Reads a stored object back (at most `maxBytes`). Throws AppError `not_found` (no such object), `payload_too_large`
   * (over `maxBytes`) or `storage_unavailable`.
   */
  read(key: string, maxBytes: number, deadline: number): Promise<Buffer>;
  /**
   * Reads the first `headBytes` of an object and its whole size (a ranged read: admission looks at an input image's
   * header before anything is reserved). Throws AppError `not_found`, `payload_too_large` (over `maxBytes` in all) or
   * `storage_unavailable`.
   */
  readHead(key: string, headBytes: number, maxBytes: number, deadline: number): Promise<{ head: Buffer; size: number }>;
  /** Removes an object (absent is fine). Throws AppError `storage_unavailable`. */
  delete(key: string): Promise<void>;
}

/** The part of a structured logger the core uses (Powertools Logger satisfies it). */
export interface Log {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** One caller's order for an image, as every use case receives it (the validated body, minus its webhook). */
export interface ImageOrder extends Omit<ImageRequest, 'webhook'> {
  requestId: string;
  principal: Principal;
  /** What the provider gets: the normalised prompt inside the hardening template. */
  providerPrompt: string;
}

/** What one image is estimated to cost, in micro-dollars (lib/domain/pricing.ts; the offline generator is free). */
export type EstimateCost = (
  model: string,
  quality: string | undefined,
  size: string,
  providerPrompt: string,
  previews?: number,
  /** Input images, a mask included. */
  inputImages?: number,
) => number;

/** What a generated image cost, from the provider's reported usage (lib/domain/pricing.ts costFromUsage). */
export type SettleCost = (model: string, usage: Record<string, unknown> | undefined, estimateMicroUsd: number) => SettledCost;

/** Who is asking, as established by authentication. */
export interface Principal {
  /** The key's name (an issued key's prefix, `dia_...`) or the token's `sub`; shown in logs and records. */
  id: string;
  kind: 'api-key' | 'jwt';
  /** An issued key's own daily limits (each left out takes the deployment's), from its record. */
  limits?: { dailyImages?: number | undefined; dailySpendMicroUsd?: number | undefined } | undefined;
  /** An issued key's models (absent: every model the deployment allows). */
  allowedModels?: readonly string[] | undefined;
  /** An issued key's own webhook signing secret: its events are signed with it, not the deployment's. */
  webhookSecret?: string | undefined;
}

/** Reads an image's Content Credentials (C2PA manifest) and validates them against its bytes. */
export interface ProvenanceReader {
  /** What the file's manifest says (`manifest: 'none'` without one). Throws when the file cannot be read at all. */
  read(bytes: Buffer, contentType: string): Promise<Provenance>;
}

/** What this service states about an image it signs: the model that made it, when, and the images it was made from. */
export interface ServiceClaim {
  model: string;
  generatedAt: Date;
  /** An edit's input images (its ingredients), in the order the caller gave them. */
  inputs: InputImageBytes[];
}

/** Adds this service's Content Credentials (a C2PA manifest signed with the deployment's key) to an image. */
export interface ProvenanceSigner {
  /** The same image with the manifest embedded, its pixels untouched. Throws when it cannot sign (key, certificate). */
  sign(bytes: Buffer, contentType: string, claim: ServiceClaim): Promise<Buffer>;
}

/** The API keys the operator issued (`npm run keys`), kept by hash. */
export interface ApiKeyStore {
  /** The key with this prefix (`dia_...`), or undefined. Throws AppError `state_unavailable`. */
  get(prefix: string): Promise<ApiKeyRecord | undefined>;
  /** Adds a key; never replaces one (AppError `not_found` when its prefix is taken). */
  create(record: ApiKeyRecord): Promise<void>;
  /** Every key, newest first (an operator's listing: it reads the whole table). */
  list(): Promise<ApiKeyRecord[]>;
  /** Changes a key's state, expiry or limits (a field set to null is removed). */
  update(prefix: string, change: ApiKeyChange): Promise<void>;
}

export type ApiKeyChange = {
  [field in 'state' | 'revokedAt' | 'expiresAt' | 'allowedModels' | 'dailyImages' | 'dailySpendMicroUsd']?: ApiKeyRecord[field] | null;
};

/** The key counters and idempotency records are scoped by: `api-key:web-app` and `jwt:web-app` never collide. */
export const principalKey = (principal: Principal): string => `${principal.kind}:${principal.id}`;

/** Where a caller stands against its daily image limit, for the RateLimit-* response headers. */
export interface QuotaStatus {
  limit: number;
  remaining: number;
  /** Epoch ms when the counters start again (next UTC midnight). */
  resetAt: number;
}

export interface Reservation extends ReservationRef {
  status: QuotaStatus;
}

/** One caller's day against its limits (GET /usage). Nothing about what other callers spent. */
export interface QuotaUsage {
  /** The UTC day counted (YYYY-MM-DD). */
  day: string;
  imagesUsed: number;
  imageLimit: number;
  /** Spend of finished work: settled to the provider's reported usage, or kept at its estimate when it may have billed. */
  settledMicroUsd: number;
  /** Estimates held for work still running. */
  reservedMicroUsd: number;
  spendLimitMicroUsd: number;
  /** Epoch ms when the counters start again (next UTC midnight). */
  resetAt: number;
  /** Whether the service-wide daily cap is reached, so that new work is refused until the reset. */
  serviceCapReached: boolean;
}

export interface QuotaGate {
  /**
   * Atomically reserves `images` images (one by default) at `costMicroUsd` each for the principal and against the
   * global cap, all or none, or throws AppError `quota_exceeded` / `spend_cap_reached` (429) / `state_unavailable`
   * (503). Nothing is reserved then. The reservation holds them all (`images`, `costMicroUsd` their sum).
   */
  reserve(principal: Principal, costMicroUsd: number, now: number, images?: number): Promise<Reservation>;
  /** Gives a reservation (all of its images) back: only when the provider certainly did not generate (the money rule). */
  release(reservation: ReservationRef): Promise<void>;
  /**
   * Counts the cost of one more provider attempt against the same day's spend limits (not the image count);
   * false, with nothing counted, when that would pass a limit.
   */
  chargeRetry(reservation: ReservationRef): Promise<boolean>;
  /**
   * Reserves `extraMicroUsd` more for the same image (a fallback model that costs more than the one reserved for),
   * within the day's spend limits; false, with nothing counted, when that would pass one. The reservation's
   * `costMicroUsd` is then the sum for everything that follows (settle, release).
   */
  extend(reservation: ReservationRef, extraMicroUsd: number): Promise<boolean>;
  /**
   * Settles one generation to its cost from the provider's reported usage: adds `deltaMicroUsd` (the settled cost
   * less the estimate reserved for it, usually negative) to the caller's and the global spend of the
   * reservation's day. Never refuses: the image exists.
   */
  settle(reservation: ReservationRef, deltaMicroUsd: number): Promise<void>;
  /** The principal's day as it stands. Throws AppError `state_unavailable`. */
  usage(principal: Principal, now: number): Promise<QuotaUsage>;
  /**
   * Counts one `uploads` (an upload form signed) or `inputRefusals` (an input image refused at admission) for the
   * principal's UTC day, within its daily limit; throws AppError `quota_exceeded` (429, with Retry-After) and
   * counts nothing when that limit is reached, or `state_unavailable`.
   */
  count(principal: Principal, activity: 'uploads' | 'inputRefusals', now: number): Promise<void>;
}

export interface ModerationVerdict {
  flagged: boolean;
  categories: string[];
}

export interface PromptModerator {
  /** Classifies the user's own text. Throws AppError `moderation_unavailable` when it cannot answer. */
  check(text: string, deadline: number): Promise<ModerationVerdict>;
}

export interface IdempotencyGuard {
  /**
   * Runs `work` once per (principal, key): a repeat with the same payload gets the stored result without running
   * it; a different payload throws `idempotency_key_reused` (422); a repeat while the first runs throws
   * `request_in_progress` (409). A failed `work` stores nothing, so the caller may retry.
   */
  run<T extends object>(
    scope: { principal: string; key: string },
    payload: object,
    deadline: number,
    work: () => Promise<T>,
  ): Promise<{ value: T; replayed: boolean }>;
}

export interface TokenVerifier {
  /** Verifies a bearer JWT and returns its subject; throws AppError `unauthorized` or `auth_unavailable`. */
  verify(token: string): Promise<{ subject: string }>;
  /** Fetches what verification needs (the issuer's key set) ahead of the first token; never throws. */
  warm(): Promise<void>;
}

/** The state of image resources (DynamoDB). Every method throws AppError `state_unavailable` when it cannot answer. */
export interface JobStore {
  /** Writes a new `queued` job; never overwrites. */
  create(job: ImageJob): Promise<void>;
  get(id: string): Promise<ImageJob | undefined>;
  /** `queued` -> `running` under a claim and a lease; false when another worker (or a DELETE) got there first. */
  claim(id: string, claim: string, leaseUntil: number, now: number): Promise<boolean>;
  /** `running` (with this claim) -> `succeeded`; false when the claim was lost (deleted or taken over). */
  succeed(id: string, claim: string, result: StoredImageResult, now: number): Promise<boolean>;
  /**
   * -> `failed`, only from the state the caller saw: `queued`, or `running` with the given claim. False when the
   * job has moved on meanwhile.
   */
  fail(id: string, from: { status: 'queued' | 'running'; claim?: string | undefined }, error: JobError, now: number): Promise<boolean>;
  setWebhookState(id: string, state: 'delivered' | 'failed'): Promise<void>;
  /**
   * Appends a stored partial image to a `running` job under this claim; false when the claim was lost (deleted,
   * taken over or ended), and then the caller removes the preview's object.
   */
  addPreview(id: string, claim: string, preview: StoredPreview): Promise<boolean>;
  /** The owner's jobs, newest first. */
  list(
    owner: string,
    limit: number,
    cursor: { id: string; listKey: string } | undefined,
  ): Promise<{ jobs: ImageJob[]; next: { id: string; listKey: string } | undefined }>;
  /** Removes a job in the given status; false when its status was different. */
  remove(id: string, status: ImageJob['status']): Promise<boolean>;
  /** `running` -> `deleted`: the worker removes what it writes and then the job. False when no longer running. */
  markDeleted(id: string, claim: string | undefined, expiresAt: number): Promise<boolean>;
}

export interface JobDispatcher {
  /**
   * Starts (or, for the inline dispatcher, runs) the worker for a job. Throws AppError `queue_unavailable`.
   * `claimed`: a job the caller created already `running` under a claim (only with an inline dispatcher, which
   * then runs it without reading and claiming it again: two state round trips fewer before the provider). Such a
   * run may answer the job as it ended (succeeded), which the caller then need not read back.
   */
  dispatch(id: string, deadline: number, claimed?: ImageJob): Promise<ImageJob | undefined>;
  /** True when jobs run elsewhere (a worker function); false when dispatch runs them in this process. */
  readonly background: boolean;
}

export interface WebhookSender {
  /** Refuses (AppError `invalid_request`) a URL that is not https or resolves to a non-public address. */
  check(url: string, deadline: number): Promise<void>;
  /** Delivers a signed event, retrying with backoff until `deadline`; true when the receiver accepted it. */
  /**
   * Delivers one signed event. `owner` (the caller the image belongs to, `api-key:<name>` or `jwt:<sub>`) is in the
   * signed body: one secret signs every caller's events, so a receiver tells its own from events another caller
   * pointed at it.
   */
  deliver(
    url: string,
    event: { id: string; type: string; owner: string; data: object },
    deadline: number,
    /** The owner's own secret (an issued key's); the deployment's (WEBHOOK_SECRET) otherwise. */
    secret?: string,
  ): Promise<boolean>;
}

/** A browser-form upload the caller sends straight to the bucket (an S3 presigned POST). */
export interface SignedUpload {
  /** Where to POST the form (the bucket's URL). */
  url: string;
  /** The form's fields, sent before the file (`key`, `Content-Type`, the policy and its signature). */
  fields: Record<string, string>;
}

export interface UploadSigner {
  /**
   * Signs a POST of one object at `key`: only that key, only `contentType`, 1 to `maxBytes` bytes, until
   * `expiresSeconds` from now. Throws AppError `storage_unavailable` when it cannot sign (no credentials).
   */
  sign(upload: { key: string; contentType: string; maxBytes: number; expiresSeconds: number }): Promise<SignedUpload>;
}

export interface CdnInvalidator {
  /** Asks the CDN to forget these object keys; best effort (the caller logs a failure). */
  invalidate(keys: string[]): Promise<void>;
}

export type MetricName =
  | 'ImagesStored'
  | 'EstimatedCostUsd'
  | 'ProviderLatency'
  | 'ProviderFailures'
  | 'Failures'
  | 'QuotaRefusals'
  /** A request that went past the model asked for (dimensions: the model asked for, and whether one answered). */
  | 'Fallbacks'
  /** An image settled above its reservation: a price in lib/domain/pricing.ts is out of date (an alarm). */
  | 'SettledOverReservation'
  /** An image stored without its Content Credentials read (the reader failed; the image is kept). */
  | 'ProvenanceUnread'
  /** An image that came without Content Credentials stored without this service's (signing failed; the image is kept). */
  | 'ProvenanceUnsigned';

/**
 * Operational metrics (CloudWatch EMF lines, lib/adapters/aws/powertools-metrics.ts). Dimensions stay low-cardinality (model,
 * provider, outcome, error code); ids never become dimensions.
 */
export interface MetricsRecorder {
  /** Records `ColdStart` on the first invocation of a container (a no-op afterwards). */
  coldStart?(functionName: string): void;
  record(name: MetricName, value: number, unit: 'Count' | 'Milliseconds' | 'None', dimensions?: Record<string, string>): void;
}
