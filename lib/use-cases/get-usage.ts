import { AppError } from '../errors.js';
import type { Principal, QuotaGate, QuotaUsage } from '../ports.js';

/** `GET /usage`: the caller's own day against its limits; a deployment without quotas says it has none. */
export const makeGetUsage =
  (deps: { quota?: QuotaGate | undefined; now: () => number }) =>
  async (principal: Principal): Promise<QuotaUsage> => {
    if (!deps.quota) {
      throw new AppError('not_found', 'This deployment counts no usage (QUOTAS=off, or no STATE_TABLE): there are no daily limits.');
    }
    return deps.quota.usage(principal, deps.now());
  };
