import { APIError, type OpenAI } from 'openai';
import { AppError, errorName } from '../../../errors.js';
import type { ModerationVerdict, PromptModerator } from '../../../ports.js';
import { isRetryable, retryWaitMs } from './openai-client.js';

/** The shortest time a (second) moderation attempt is started with. */
const MIN_ATTEMPT_MS = 1_000;

/**
 * The OpenAI moderations endpoint (the SDK's `moderations.create`) on the user's own text, before any billed
 * generation. It is free, so one retry is allowed when time permits; the call never takes more than the time
 * left before the deadline (10 s at most). Retries are ours, for the reason openai-client.ts gives.
 */
export class OpenAIPromptModerator implements PromptModerator {
  constructor(
    private readonly client: OpenAI,
    private readonly model: string,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  async check(text: string, deadline: number): Promise<ModerationVerdict> {
    const until = Math.min(deadline, Date.now() + 10_000);
    try {
      const result = (await this.call(text, until)).results?.[0];
      if (!result || typeof result.flagged !== 'boolean') throw new Error('moderation answer without a result');
      const categories = Object.entries(result.categories ?? {})
        .filter(([, value]) => value === true)
        .map(([name]) => name)
        .sort();
      return { flagged: result.flagged, categories };
    } catch (error) {
      const providerStatus = error instanceof APIError ? error.status : undefined;
      const details = {
        moderationError: errorName(error),
        providerStatus,
        providerRequestId: error instanceof APIError ? (error.requestID ?? undefined) : undefined,
      };
      // A wrong key (401), a key without access (403) or a wrong base URL or model (404) will never work: say so,
      // instead of "retry later", and never let fail-open turn it into generation without moderation.
      if (providerStatus === 401 || providerStatus === 403 || providerStatus === 404) {
        throw new AppError(
          'moderation_misconfigured',
          "The prompt could not be checked: the moderation service refused this deployment's credentials or endpoint. " +
            'Contact the operator.',
          { cause: error, details },
        );
      }
      throw new AppError('moderation_unavailable', 'The prompt could not be checked. Retry later.', { cause: error, details });
    }
  }

  /** The answer, after at most one retry of a transient failure that still fits before `until`. */
  private async call(text: string, until: number): Promise<OpenAI.Moderations.ModerationCreateResponse> {
    for (let attempt = 0; ; attempt += 1) {
      const timeoutMs = Math.max(1, until - Date.now());
      try {
        return await this.client.moderations.create(
          { model: this.model, input: text },
          { signal: AbortSignal.timeout(timeoutMs), timeout: timeoutMs + 1_000 },
        );
      } catch (error) {
        const wait = retryWaitMs(error, attempt);
        if (attempt >= 1 || !isRetryable(error) || Date.now() + wait + MIN_ATTEMPT_MS > until) throw error;
        await this.sleep(wait);
      }
    }
  }
}
