import { APIError, type default as OpenAI } from 'openai';
import { AppError } from '../errors.js';
import type { ModerationVerdict, PromptModerator } from '../ports.js';

/**
 * The OpenAI moderations endpoint on the user's own text, before any billed generation. It is free, so one retry
 * is allowed when time permits; the call never takes more than the time left before the deadline.
 */
export class OpenAIPromptModerator implements PromptModerator {
  constructor(
    private readonly client: OpenAI,
    private readonly model: string,
  ) {}

  async check(text: string, deadline: number): Promise<ModerationVerdict> {
    const timeout = Math.max(0, Math.min(10_000, deadline - Date.now()));
    try {
      const response = await this.client.moderations.create(
        { model: this.model, input: text },
        { timeout, maxRetries: 1, signal: AbortSignal.timeout(timeout) },
      );
      const result = response.results?.[0];
      if (!result || typeof result.flagged !== 'boolean') throw new Error('moderation answer without a result');
      const categories = Object.entries(result.categories ?? {})
        .filter(([, value]) => value === true)
        .map(([name]) => name)
        .sort();
      return { flagged: result.flagged, categories };
    } catch (error) {
      const providerStatus = error instanceof APIError ? error.status : undefined;
      const details = { moderationError: error instanceof Error ? error.name : 'unknown', providerStatus };
      // A wrong key (401), a key without access (403) or a wrong base URL or model (404) will never work: say so,
      // instead of "retry later", and never let fail-open turn it into generation without moderation.
      if (providerStatus === 401 || providerStatus === 403 || providerStatus === 404) {
        throw new AppError(
          'moderation_misconfigured',
          'The prompt could not be checked: the moderation service refused this deployment\'s credentials or endpoint. Contact the operator.',
          { cause: error, details },
        );
      }
      throw new AppError('moderation_unavailable', 'The prompt could not be checked. Retry later.', { cause: error, details });
    }
  }
}
