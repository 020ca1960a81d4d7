/**
 * Ports: what the use case needs from the outside world. Adapters in lib/adapters implement them; the use case
 * and its tests see only these interfaces, so a new provider (Azure OpenAI, Bedrock) or store is a new adapter.
 */
import type { OutputFormat } from './domain/models.js';

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
}

export interface GeneratedImage {
  /** Base64 text exactly as the provider sent it; verified by the use case, not the adapter. */
  b64: string;
  revisedPrompt?: string | undefined;
  usage?: Record<string, unknown> | undefined;
}

export interface ImageGenerator {
  /**
   * Generates one image. Must give up by `deadline` (epoch ms) and throw an AppError from lib/errors.ts:
   * `content_policy_violation`, `provider_busy`, `provider_error`, `provider_timeout` or `bad_provider_response`.
   */
  generate(request: GenerationRequest, deadline: number): Promise<GeneratedImage>;
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
  /** Best-effort removal, used to undo half of a failed pair of writes. */
  delete(key: string): Promise<void>;
}

/** The part of a structured logger the core uses (Powertools Logger satisfies it). */
export interface Log {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}
