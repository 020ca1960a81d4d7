/**
 * The caller's daily image quota as response headers: the IETF draft's `RateLimit-Policy` and `RateLimit`
 * (draft-ietf-httpapi-ratelimit-headers-09: a named policy with its quota `q` and window `w` in seconds; what is
 * left `r` and the seconds until the window resets `t`), beside the older `RateLimit-Limit`, `-Remaining` and
 * `-Reset` trio that clients of this API already read.
 *
 * @example rateLimitHeaders(50, 49, 3600)['RateLimit'] // '"daily";r=49;t=3600'
 */
const DAILY_POLICY = 'daily';
const DAY_SECONDS = 86_400;

export function rateLimitHeaders(limit: number, remaining: number, resetSeconds: number): Record<string, string> {
  const left = Math.max(0, remaining);
  const reset = Math.max(0, Math.ceil(resetSeconds));
  return {
    'RateLimit-Policy': `"${DAILY_POLICY}";q=${limit};w=${DAY_SECONDS}`,
    RateLimit: `"${DAILY_POLICY}";r=${left};t=${reset}`,
    'RateLimit-Limit': String(limit),
    'RateLimit-Remaining': String(left),
    'RateLimit-Reset': String(reset),
  };
}
