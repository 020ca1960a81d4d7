/**
 * Images as resources (Replicate's predictions, OpenAI's background mode): `POST /images` creates an image with a
 * status, a worker generates it, and the synchronous answer is the fast case of waiting for it. Pure code: the
 * states, the view a caller sees, RFC 7240 `Prefer`, and list cursors.
 */
import type { ErrorCode } from '../errors.js';
import type { ImageRef, ProviderOptions } from './image-request.js';
import type { OutputFormat } from './models.js';

/** What a caller sees. `queued` and `running` are not final; `succeeded` and `failed` are. */
export type ImageStatus = 'queued' | 'running' | 'succeeded' | 'failed';
/** `deleted`: a DELETE arrived while the worker was generating; the worker removes what it writes. Never shown. */
export type JobStatus = ImageStatus | 'deleted';

export const isFinal = (status: JobStatus): boolean => status === 'succeeded' || status === 'failed';

/** The fields of a 201 answer: the stored image. */
export interface StoredImageResult {
  id: string;
  url: string;
  key: string;
  /** The private record written beside the image (not shown to callers; removed with the image). */
  recordKey: string;
  contentType: string;
  bytes: number;
  sha256: string;
  width: number;
  height: number;
  model: string;
  /** The model asked for, when a fallback (`model`) made the image instead. */
  requestedModel?: string;
  revisedPrompt?: string;
  /** What the image cost (USD), settled from the provider's reported usage; shown to its owner. */
  costUsd?: number;
  /** How `costUsd` was found: `usage` (the provider's counts at published rates), `price` (per image), `estimate`. */
  costBasis?: 'usage' | 'price' | 'estimate';
  /** The provider's counts as it reported them (tokens), when it did. */
  usage?: Record<string, unknown>;
  /** The quality and background the provider reports it used (`auto` resolved), when it reports them. */
  quality?: string;
  background?: string;
  /** The Content Credentials (C2PA) the stored file carries, as read when it was stored (CONTENT_CREDENTIALS). */
  provenance?: Provenance;
}

/**
 * What an image's Content Credentials say (C2PA, read by the CAI's c2pa-rs): whose manifest the stored file carries
 * (`provider`: it came with the provider's answer; `none`), whether it validates against these exact bytes (null
 * when there is none or it could not be read), who signed it, the claim generator, and the IPTC digital source type
 * its actions state (`.../trainedAlgorithmicMedia` for a generated image).
 */
export interface Provenance {
  /** `service`: this service signed it, the image having come without one (CONTENT_CREDENTIALS=sign). */
  manifest: 'provider' | 'service' | 'none';
  valid: boolean | null;
  signer?: string;
  claimGenerator?: string;
  digitalSourceType?: string;
}

/** IPTC's digital source type of media a trained model generated (what the EU AI Act's Art. 50(2) marking states). */
export const TRAINED_ALGORITHMIC_MEDIA = 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia';

/** This service as the claim generator of the manifests it signs (its version is package.json's, checked by a test). */
export const CLAIM_GENERATOR = Object.freeze({ name: 'durable-image-api', version: '0.1.0' });

/** An input image of a job: what the caller named (ids, kept for the record) and the object it resolved to. */
export interface InputImage {
  ref: ImageRef;
  key: string;
}

export interface JobInputs {
  images: InputImage[];
  mask?: InputImage | undefined;
}

/** A partial image stored while its job ran (`previews`). */
export interface StoredPreview {
  index: number;
  url: string;
  key: string;
}

/**
 * How long previews are kept: the bucket's lifecycle rule on the previews prefix (serverless.yml) expires them after
 * one day, and a resource shows them no longer than that.
 */
const PREVIEW_RETENTION_MS = 86_400_000;

export interface JobError {
  code: ErrorCode;
  message: string;
  /** Kept so that a waited-for failure answers with its Retry-After (provider_busy, quota). */
  retryAfterSeconds?: number;
  /** The provider generated, or may have: a caller must not be told to retry as if nothing was spent. */
  billed?: boolean;
}

/** The part of a quota reservation a worker needs to give it back. */
export interface ReservationRef {
  principalKey: string;
  day: string;
  costMicroUsd: number;
  /** The caller's daily spend limit when it was reserved, for counting retried attempts against it. */
  spendLimitMicroUsd: number;
  /**
   * How many images it holds, `costMicroUsd` being their sum: more than one only between admitting an order of
   * several images and splitting it into one reservation per image (`perImage`). Absent: one.
   */
  images?: number | undefined;
}

/**
 * An order's reservation of `count` images as one reservation per image (each the order's cost divided evenly), so
 * that each image is settled or given back on its own, as if it had been reserved alone.
 */
export function perImage<R extends ReservationRef>(reservation: R, count: number): R[] {
  const { images: _all, ...one } = reservation;
  const each = reservation.costMicroUsd / count;
  if (!Number.isSafeInteger(each)) throw new Error('an order reservation is not an even sum of its images');
  return Array.from({ length: count }, () => ({ ...one, costMicroUsd: each }) as R);
}

export interface ImageJob {
  id: string;
  /** `principalKey(principal)`: the only caller who may see, list or delete it. */
  owner: string;
  principalId: string;
  principalKind: 'api-key' | 'jwt';
  status: JobStatus;
  model: string;
  size: string;
  quality: string | undefined;
  format: OutputFormat | undefined;
  /** Partial images asked for (absent: none). */
  previews?: number | undefined;
  /** Background, compression and moderation level asked of the provider (absent: its defaults). */
  options?: ProviderOptions | undefined;
  /** Input images (an edit, or references), resolved to their objects when the job was created. */
  inputs?: JobInputs | undefined;
  /** The partial images stored so far, in the order they arrived. */
  previewImages?: StoredPreview[] | undefined;
  /** The user's text and the hardened prompt; kept only until the job ends (then in the private S3 record). */
  prompt?: string | undefined;
  providerPrompt?: string | undefined;
  requestId: string;
  webhook?: string | undefined;
  webhookState?: 'pending' | 'delivered' | 'failed' | undefined;
  reservation?: ReservationRef | undefined;
  /**
   * What the image was estimated to cost (micro-dollars), reserved or not: the record's estimate, and the cost when
   * the provider reports no usage.
   */
  estimateMicroUsd?: number | undefined;
  createdAt: number;
  startedAt?: number | undefined;
  completedAt?: number | undefined;
  /** While running: the worker's claim and until when it holds it (epoch ms). */
  claim?: string | undefined;
  leaseUntil?: number | undefined;
  result?: StoredImageResult | undefined;
  error?: JobError | undefined;
}

/** What `GET /images/{id}`, the list, the 201/202 answers and webhooks show. */
export interface ImageResource {
  id: string;
  status: ImageStatus;
  model: string;
  requestedModel?: string;
  url?: string;
  key?: string;
  contentType?: string;
  bytes?: number;
  sha256?: string;
  width?: number;
  height?: number;
  revisedPrompt?: string;
  costUsd?: number;
  costBasis?: 'usage' | 'price' | 'estimate';
  usage?: Record<string, unknown>;
  /** As the provider reports it used them (`auto` resolved). */
  quality?: string;
  background?: string;
  provenance?: Provenance;
  error?: { code: ErrorCode; message: string };
  /** Partial images stored while it ran, in order; shown until they expire (PREVIEW_RETENTION_MS). */
  previews?: { index: number; url: string }[];
  createdAt: string;
  completedAt?: string;
}

export const INTERRUPTED: JobError = {
  code: 'generation_interrupted',
  billed: true,
  message: 'The generation was interrupted (its worker stopped). It was not retried, so it is not billed twice; submit a new request.',
};

/**
 * Lambda keeps an asynchronous event for at most 6 hours (the worker's maximumEventAge in serverless.yml), then
 * hands it to the dead-letter queue. A job still queued well after that will never run.
 */
const QUEUE_EXPIRY_MS = 6 * 3_600_000 + 15 * 60_000;

/** A queued job that carries no quota reservation while quotas are on: nothing admitted it, so nothing runs it. */
export const NOT_ADMITTED: JobError = {
  code: 'quota_exceeded',
  message: 'The image was not generated: it was not counted against a quota when it was queued. Submit a new request.',
};

export const NEVER_STARTED: JobError = {
  code: 'queue_unavailable',
  message: 'The image was never started (its queued event expired). It was not billed; submit a new request.',
};

export const queueExpired = (job: ImageJob, now: number): boolean => job.status === 'queued' && now - job.createdAt > QUEUE_EXPIRY_MS;

/**
 * A running job whose lease has run out has no live worker: its worker is killed at its timeout and the lease
 * is longer than that. Readers show it as failed straight away; the first writer records it.
 */
export const leaseExpired = (job: ImageJob, now: number): boolean => job.status === 'running' && (job.leaseUntil ?? 0) < now;

/** The job as its owner sees it; undefined for a deleted one. */
export function toResource(job: ImageJob, now: number): ImageResource | undefined {
  if (job.status === 'deleted') return undefined;
  const expired = leaseExpired(job, now);
  const stale = queueExpired(job, now);
  const status: ImageStatus = expired || stale ? 'failed' : job.status;
  const base = { id: job.id, status, model: job.model, ...previewsOf(job, now), createdAt: new Date(job.createdAt).toISOString() };
  if (status === 'succeeded' && job.result) {
    // `model` is what made the image: a fallback's when one answered, with the model asked for as `requestedModel`.
    const { recordKey: _private, id: _id, ...image } = job.result;
    return { ...base, ...image, ...completed(job.completedAt) };
  }
  if (status === 'failed') {
    const error = expired ? INTERRUPTED : stale ? NEVER_STARTED : (job.error ?? INTERRUPTED);
    const at = expired ? job.leaseUntil : stale ? job.createdAt + QUEUE_EXPIRY_MS : job.completedAt;
    return { ...base, error: { code: error.code, message: error.message }, ...completed(at) };
  }
  return base;
}

/** The objects of a job's stored previews. */
export const previewKeys = (job: ImageJob): string[] => (job.previewImages ?? []).map((preview) => preview.key);

/** The previews a resource shows: those stored, until the lifecycle rule has expired them. */
const previewsOf = (job: ImageJob, now: number): { previews?: { index: number; url: string }[] } =>
  job.previewImages?.length && now - job.createdAt < PREVIEW_RETENTION_MS
    ? { previews: [...job.previewImages].sort((a, b) => a.index - b.index).map(({ index, url }) => ({ index, url })) }
    : {};

const completed = (at: number | undefined): { completedAt?: string } =>
  at === undefined ? {} : { completedAt: new Date(at).toISOString() };

/** The sort key of the owner index: newest first is a descending query. */
export const listKey = (createdAt: number, id: string): string => `${new Date(createdAt).toISOString()}#${id}`;

/** Opaque to callers; it only ever moves within the caller's own list (the owner comes from authentication). */
export function encodeCursor(position: { id: string; listKey: string }): string {
  return Buffer.from(JSON.stringify([position.id, position.listKey]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { id: string; listKey: string } | undefined {
  if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [id, key] = value as unknown[];
    if (typeof id !== 'string' || typeof key !== 'string') return undefined;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id) || !/^\d{4}-\d{2}-\d{2}T[\d:.]+Z#[A-Za-z0-9_-]{1,64}$/.test(key)) return undefined;
    return { id, listKey: key };
  } catch {
    return undefined;
  }
}

/** What the caller asked for with RFC 7240 `Prefer`. */
export interface WaitPreference {
  /** `Prefer: respond-async` without `wait`: answer 202 at once. */
  respondAsync: boolean;
  /** `Prefer: wait=N`, in seconds. */
  waitSeconds: number | undefined;
}

/**
 * Parses `Prefer` (RFC 7240): comma-separated preferences, names case-insensitive, values optionally quoted,
 * parameters after `;` ignored. Preferences that are unknown or malformed are ignored, as the RFC requires.
 * `respond-async, wait=10` means "wait up to 10 s, then answer asynchronously" (RFC 7240 section 4.3).
 */
export function parsePrefer(header: string | undefined): WaitPreference {
  const preference: WaitPreference = { respondAsync: false, waitSeconds: undefined };
  if (header === undefined) return preference;
  for (const part of header.slice(0, 1024).split(',')) {
    const [token = ''] = part.split(';');
    const match = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*(?:=\s*(?:"([^"]*)"|([^\s"]*)))?\s*$/.exec(token);
    if (!match) continue;
    const name = (match[1] as string).toLowerCase();
    const value = match[2] ?? match[3];
    if (name === 'respond-async' && value === undefined) preference.respondAsync = true;
    if (name === 'wait' && value !== undefined && /^\d{1,6}$/.test(value)) preference.waitSeconds = Number(value);
  }
  return preference;
}

/**
 * How long `POST /images` waits for the image, in ms, and what to put in `Preference-Applied`. The wait never
 * passes `maxWaitMs` (what is left before the gateway gives up, less the time to answer).
 */
export function waitPlan(
  preference: WaitPreference,
  defaultWaitMs: number,
  maxWaitMs: number,
): { waitMs: number; applied: string | undefined } {
  const cap = Math.max(0, maxWaitMs);
  if (preference.waitSeconds !== undefined) {
    const waitMs = Math.min(preference.waitSeconds * 1000, cap);
    return { waitMs, applied: `wait=${Math.floor(waitMs / 1000)}` };
  }
  if (preference.respondAsync) return { waitMs: 0, applied: 'respond-async' };
  return { waitMs: Math.min(defaultWaitMs, cap), applied: undefined };
}

/** Margin between the end of a run's budget and the moment a lease may be taken over. */
export const LEASE_MARGIN_MS = 30_000;
