import { AppError } from '../errors.js';
import { quotedText } from '../domain/prompt-policy.js';
import type { ReservationRef } from '../domain/image-job.js';
import type { EstimateCost, IdempotencyGuard, Log, ModerationVerdict, PromptModerator, QuotaGate } from '../ports.js';

/** What admitting a request needs, for the synchronous use case and job creation alike. */
export interface AdmissionDeps {
  log: Log;
  /** Daily limits and spend caps; undefined when quotas are off. */
  quota?: QuotaGate | undefined;
  /** Moderation of the user's text before generation; undefined when off. */
  moderator?: PromptModerator | undefined;
  /** Proceed when moderation cannot answer (true) or refuse with 503 (false, the default). */
  moderationFailOpen?: boolean | undefined;
  /** Idempotency-Key support; undefined when there is no state table. */
  idempotency?: IdempotencyGuard | undefined;
  /** The pricing table by default. */
  estimateCost?: EstimateCost | undefined;
}

/**
 * The checks before money is spent, shared by the synchronous use case and job creation: moderation of the
 * user's own text, and giving a quota reservation back when the provider certainly did not generate.
 *
 * Moderation sees the user's text exactly as the provider will (NFKC-folded, fence markers removed: `𝐚 𝐠𝐫𝐚𝐩𝐡𝐢𝐜`
 * is checked as `a graphic`), and runs only for a request the quota admitted, so over-quota callers cannot use
 * up the organisation's moderation rate limit.
 */
export async function moderate(
  deps: Pick<AdmissionDeps, 'moderator' | 'moderationFailOpen' | 'log'>,
  prompt: string,
  deadline: number,
): Promise<void> {
  if (!deps.moderator) return;
  let verdict: ModerationVerdict;
  try {
    verdict = await deps.moderator.check(quotedText(prompt), deadline);
  } catch (error) {
    if (deps.moderationFailOpen && error instanceof AppError && error.code === 'moderation_unavailable') {
      deps.log.warn('moderation unavailable, continuing (fail-open)', { errorCode: error.code });
      return;
    }
    throw error;
  }
  if (verdict.flagged) {
    const categories = verdict.categories.length > 0 ? verdict.categories.join(', ') : 'unspecified';
    throw new AppError(
      'content_policy_violation',
      `The prompt was flagged by moderation (${categories}). Change the prompt and try again.`,
      { details: { moderationCategories: categories } },
    );
  }
}

export async function giveBack(deps: Pick<AdmissionDeps, 'quota' | 'log'>, reservation: ReservationRef): Promise<void> {
  try {
    await deps.quota?.release(reservation);
  } catch (error) {
    // The caller's error matters more than this; the counter is at worst one image high until midnight.
    deps.log.error('could not give a quota reservation back', {
      errorName: error instanceof Error ? error.name : 'unknown',
    });
  }
}

/**
 * Settles a stored image's reservation to its cost from the provider's reported usage (the estimate reserved for
 * it was an upper bound). A failure is logged, never the caller's: the image exists, and the counter then errs
 * on the high side.
 */
export async function settle(
  deps: Pick<AdmissionDeps, 'quota' | 'log'>,
  reservation: ReservationRef,
  settledCostMicroUsd: number,
): Promise<void> {
  try {
    await deps.quota?.settle(reservation, settledCostMicroUsd - reservation.costMicroUsd);
  } catch (error) {
    deps.log.error('could not settle a quota reservation to the reported usage', {
      errorName: error instanceof Error ? error.name : 'unknown',
    });
  }
}
