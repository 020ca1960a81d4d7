/**
 * Generating with fallbacks: the model asked for first, then each fallback the operator listed for it, moving on
 * only after a failure that certainly did not bill (lib/domain/fallback.ts) and only to a model that can take the
 * request (previews, prompt length) within the caller's remaining budget. A provider that keeps failing is skipped
 * while another candidate remains (the circuit breaker), so a down provider does not add its wait to every request.
 */
import { AppError } from '../errors.js';
import { certainlyUnbilled, mapRequest, unfitFor, type ModelChoice } from '../domain/fallback.js';
import type { ReservationRef } from '../domain/image-job.js';
import { parseModelName, type InputImageShape } from '../domain/models.js';
import type { ProviderBreaker } from '../domain/provider-breaker.js';
import type { EstimateCost, GeneratedImage, GenerationHooks, GenerationRequest, ImageGenerator, Log, QuotaGate } from '../ports.js';

export interface FallbackDeps {
  generator: ImageGenerator;
  log: Log;
  now: () => number;
  /** Fallbacks by the canonical name of the model asked for. */
  fallbacks?: ReadonlyMap<string, readonly string[]> | undefined;
  breaker?: ProviderBreaker | undefined;
  /** To count a retried attempt, or a dearer fallback, against the caller's spend limits. */
  quota?: QuotaGate | undefined;
  estimateCost?: EstimateCost | undefined;
  /** A fallback is not started with less time than this left. */
  minProviderTimeMs?: number | undefined;
}

/** Why a candidate model was passed over, or how its attempt ended: for the record, the log and the metrics. */
export interface CandidateOutcome {
  model: string;
  outcome: 'answered' | 'failed' | 'skipped';
  /** For `failed`, the error code; for `skipped`, why. */
  reason?: string;
}

export type FallbackResult =
  | {
      ok: true;
      generated: GeneratedImage;
      model: string;
      choice: ModelChoice;
      reservation: ReservationRef | undefined;
      tried: CandidateOutcome[];
    }
  | { ok: false; error: unknown; billed: boolean; reservation: ReservationRef | undefined; tried: CandidateOutcome[] };

export interface FallbackInput extends ModelChoice {
  model: string;
  request: Omit<GenerationRequest, 'model' | 'size' | 'quality' | 'format'>;
  deadline: number;
  hooks: Omit<GenerationHooks, 'beforeBillableRetry'>;
  reservation: ReservationRef | undefined;
  /** The input images' headers as verified, so a fallback that cannot take them is passed over. */
  inputShapes?: { images: readonly InputImageShape[]; mask?: InputImageShape | undefined } | undefined;
}

const providerOf = (model: string): string => parseModelName(model)?.provider ?? 'openai';

export async function generateWithFallback(deps: FallbackDeps, input: FallbackInput): Promise<FallbackResult> {
  const candidates = [input.model, ...(deps.fallbacks?.get(parseModelName(input.model)?.canonical ?? input.model) ?? [])];
  const tried: CandidateOutcome[] = [];
  let reservation = input.reservation;
  let lastError: unknown;

  /** One candidate's call: its result when it ends the search (an image, or a failure that may not move on). */
  const attempt = async (model: string, choice: ModelChoice): Promise<FallbackResult | undefined> => {
    const provider = providerOf(model);
    const current = reservation;
    const hooks: GenerationHooks = {
      ...input.hooks,
      ...(deps.quota && current ? { beforeBillableRetry: () => (deps.quota as QuotaGate).chargeRetry(current) } : {}),
    };
    try {
      const generated = await deps.generator.generate({ ...input.request, model, ...choice }, input.deadline, hooks);
      deps.breaker?.succeeded(provider);
      tried.push({ model, outcome: 'answered' });
      return { ok: true, generated, model, choice, reservation, tried };
    } catch (error) {
      lastError = error;
      tried.push({ model, outcome: 'failed', reason: error instanceof AppError ? error.code : 'internal_error' });
      if (!(error instanceof AppError && certainlyUnbilled(error))) {
        // A refusal is final, and a failure that may have billed is never followed by a second generation.
        return { ok: false, error, billed: error instanceof AppError && error.mayBeBilled, reservation, tried };
      }
      deps.breaker?.failed(provider);
      deps.log.warn('model failed without billing', { model, errorCode: error.code });
      return undefined;
    }
  };

  for (const [index, model] of candidates.entries()) {
    const first = index === 0;
    const last = index === candidates.length - 1;
    const choice = first ? { size: input.size, quality: input.quality, format: input.format } : mapRequest(input, input.model, model);
    const skip = (reason: string): void => {
      tried.push({ model, outcome: 'skipped', reason });
      deps.log.info('model skipped', { model, reason });
    };
    if (!first) {
      const unfit = unfitFor(model, {
        previews: input.request.previews,
        providerPrompt: input.request.prompt,
        inputs: input.inputShapes,
      });
      if (unfit) {
        skip(unfit);
        continue;
      }
      if (input.deadline - deps.now() < (deps.minProviderTimeMs ?? 0)) {
        skip('no time left');
        break;
      }
    }
    // A provider in its cool-down is passed over while somewhere else remains; the last candidate is always tried.
    if (!last && deps.breaker?.isOpen(providerOf(model))) {
      skip('provider cooling down');
      continue;
    }
    if (!first && reservation && deps.quota && deps.estimateCost) {
      const inputImages = (input.request.images?.length ?? 0) + (input.request.mask ? 1 : 0);
      const estimate = deps.estimateCost(
        model,
        choice.quality,
        choice.size,
        input.request.prompt,
        input.request.previews ?? 0,
        inputImages,
      );
      const extra = estimate - reservation.costMicroUsd;
      if (extra > 0) {
        if (!(await deps.quota.extend(reservation, extra))) {
          skip('over the remaining budget');
          continue;
        }
        reservation = { ...reservation, costMicroUsd: estimate };
      }
    }
    const result = await attempt(model, choice);
    if (result) return result;
  }
  // Every candidate was passed over without a call, the one asked for in its cool-down: it is tried after all
  // (its estimate is the one reserved).
  if (lastError === undefined && tried[0]?.reason === 'provider cooling down') {
    const result = await attempt(input.model, input);
    if (result) return result;
  }
  return { ok: false, error: lastError ?? noCandidate(), billed: false, reservation, tried };
}

/** Every fallback was passed over before any was called (only reachable when the first candidate was skipped). */
const noCandidate = (): AppError =>
  new AppError('provider_busy', 'The image providers are unavailable. Retry later.', {
    headers: { 'Retry-After': '30' },
    details: { reason: 'every model skipped' },
  });
