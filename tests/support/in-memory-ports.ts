import { MemoryJobStore } from '../../lib/adapters/in-process/memory-job-store.js';
import type { ReservationRef } from '../../lib/domain/image-job.js';
import { AppError } from '../../lib/errors.js';
import { makeRunImageJob } from '../../lib/use-cases/run-image-job.js';
import type {
  GeneratedImage,
  ImageGenerator,
  ImageStore,
  Log,
  PromptModerator,
  QuotaGate,
  Reservation,
  WebhookSender,
} from '../../lib/ports.js';
import { pngOf } from './fixtures.js';

/**
 * The use cases' ports kept in memory, each writing what it is asked into one ordered `events` list, so a test reads
 * the order of admission, generation and storage in one place. What each answers is set per test.
 */
export function inMemoryPorts(
  options: {
    generate?: () => Promise<GeneratedImage>;
    reserve?: () => Promise<void>;
    moderate?: () => Promise<{ flagged: boolean; categories: string[] }>;
    checkWebhook?: () => Promise<void>;
    putImage?: () => Promise<void>;
  } = {},
) {
  const events: string[] = [];
  let clock = Date.UTC(2026, 10, 30, 12, 0, 0);
  const now = (): number => clock;
  const reservationOf = (principalKey: string): Reservation => ({
    principalKey,
    day: '2026-11-30',
    costMicroUsd: 40_000,
    spendLimitMicroUsd: 5_000_000,
    status: { limit: 50, remaining: 49, resetAt: clock + 3_600_000 },
  });
  const generator: ImageGenerator = {
    async generate() {
      events.push('generate');
      return options.generate ? options.generate() : { bytes: pngOf(32, 24), usage: undefined };
    },
  };
  const objects = new Map<string, Buffer | unknown>();
  const store: ImageStore = {
    async putImage(image) {
      events.push('putImage');
      await options.putImage?.();
      objects.set(image.key, image.bytes);
    },
    async putRecord(key, record) {
      events.push('putRecord');
      objects.set(key, record);
    },
    async read(key) {
      events.push('read');
      const bytes = objects.get(key);
      if (!Buffer.isBuffer(bytes)) throw new AppError('storage_unavailable', 'no such object');
      return bytes;
    },
    async readHead(key, headBytes) {
      events.push('readHead');
      const bytes = objects.get(key);
      if (!Buffer.isBuffer(bytes)) throw new AppError('not_found', 'no such object');
      return { head: bytes.subarray(0, headBytes), size: bytes.length };
    },
    async delete(key) {
      events.push('delete');
      objects.delete(key);
    },
  };
  const quota: QuotaGate = {
    async reserve(principal, costMicroUsd, _now, count = 1) {
      events.push(count === 1 ? 'reserve' : `reserve ${count}`);
      await options.reserve?.();
      return {
        ...reservationOf(`${principal.kind}:${principal.id}`),
        costMicroUsd: costMicroUsd * count,
        ...(count > 1 ? { images: count } : {}),
      };
    },
    async count(_principal, activity) {
      events.push(`count ${activity}`);
    },
    async release(reservation: ReservationRef) {
      events.push(`release ${reservation.costMicroUsd}`);
    },
    async chargeRetry() {
      events.push('chargeRetry');
      return true;
    },
    async extend(_reservation, extra) {
      events.push(`extend ${extra}`);
      return true;
    },
    async settle(_reservation, delta) {
      events.push(`settle ${delta}`);
    },
    async usage() {
      events.push('usage');
      return {
        day: '2026-11-30',
        imagesUsed: 0,
        imageLimit: 50,
        settledMicroUsd: 0,
        reservedMicroUsd: 0,
        spendLimitMicroUsd: 5_000_000,
        resetAt: clock + 3_600_000,
        serviceCapReached: false,
      };
    },
  };
  const moderator: PromptModerator = {
    async check() {
      events.push('moderate');
      return options.moderate ? options.moderate() : { flagged: false, categories: [] };
    },
  };
  const webhooks: WebhookSender = {
    async check() {
      events.push('checkWebhook');
      await options.checkWebhook?.();
    },
    async deliver() {
      events.push('deliver');
      return true;
    },
  };
  const log: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const jobs = new MemoryJobStore();
  const pipeline = {
    generator,
    store,
    log,
    publicBaseUrl: 'https://images.example.com',
    imagePrefix: 'images/',
    recordPrefix: 'records/',
    maxImageBytes: 20 * 1024 * 1024,
    now,
    settleCost: (_model: string, _usage: unknown, estimate: number) => ({ costMicroUsd: estimate - 10_000, basis: 'usage' as const }),
  };
  /** The worker's use case on these ports; its sleeps move the clock. */
  const runner = (newId: () => string) =>
    makeRunImageJob({
      ...pipeline,
      jobs,
      quota,
      webhooks,
      uploadReserveMs: 5_000,
      minProviderTimeMs: 2_000,
      webhookMaxDeliveryMs: 30_000,
      newId,
      sleep: async (ms) => {
        clock += ms;
      },
    });
  return {
    events,
    objects,
    jobs,
    runner,
    generator,
    store,
    quota,
    moderator,
    webhooks,
    log,
    now,
    /** Moves the clock (a sleeping use case moves it by what it sleeps). */
    advance: (ms: number) => {
      clock += ms;
    },
    pipeline,
  };
}

/** A provider failure: `billed` when the request reached the provider with an unknown outcome. */
export const providerFailure = (code: 'provider_busy' | 'provider_error' | 'provider_timeout', billed: boolean): AppError =>
  new AppError(code, 'the stand-in provider failed', { mayBeBilled: billed });
