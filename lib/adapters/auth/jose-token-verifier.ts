import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { AppError } from '../../errors.js';
import { boundedFetch } from '../bounded-fetch.js';
import type { JwtConfig } from '../../config.js';
import type { Log, TokenVerifier } from '../../ports.js';

const unauthorized = (description: string, cause?: unknown): AppError =>
  new AppError('unauthorized', 'The bearer token is not valid.', {
    cause,
    headers: { 'WWW-Authenticate': `Bearer realm="durable-image-api", error="invalid_token", error_description="${description}"` },
    details: { tokenProblem: description },
  });

const unavailable = (cause: unknown): AppError =>
  new AppError('auth_unavailable', 'Tokens cannot be verified right now. Retry later.', {
    cause,
    headers: { 'Retry-After': '5' },
    details: { jwksError: cause instanceof Error ? cause.name : 'unknown' },
  });

/** How the key set is cached. */
export interface JwksCachePolicy {
  /** A key set older than this is refreshed (in the background while it may still be served stale). */
  maxAgeMs: number;
  /** How long past `maxAgeMs` the last good key set is still used when the issuer cannot be reached. */
  maxStaleMs: number;
  /** A token naming an unknown key refetches at most this often (key rotation). */
  cooldownMs: number;
  timeoutMs: number;
}

const DEFAULT_POLICY: JwksCachePolicy = { maxAgeMs: 600_000, maxStaleMs: 6 * 3_600_000, cooldownMs: 30_000, timeoutMs: 3_000 };
/** A key set is a few KB; anything much larger is not one. */
const MAX_JWKS_BYTES = 256 * 1024;
const fetchJwks = boundedFetch({
  maxOkBytes: () => MAX_JWKS_BYTES,
  maxErrorBytes: 64 * 1024,
  // An issuer answering this much is unusable now (503 auth_unavailable), not a provider's bad answer.
  tooLarge: (limit) => new Error(`JWKS answer over its ${limit}-byte limit`),
});

/**
 * The issuer's key set, fetched on first use and kept fresh, serving the last good set while the issuer is down.
 * jose's remote key set has no stale mode: ten minutes into a JWKS outage every JWT caller got 503. This keeps
 * jose for the verification itself (createLocalJWKSet over the last good document) and only owns the caching.
 */
class StaleTolerantJwks {
  private keys: JWTVerifyGetKey | undefined;
  private fetchedAt = 0;
  private lastAttemptAt = 0;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly policy: JwksCachePolicy,
    private readonly now: () => number,
    private readonly log: Log | undefined,
  ) {}

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const age = this.now() - this.fetchedAt;
    if (!this.keys || age > this.policy.maxAgeMs + this.policy.maxStaleMs) {
      await this.refresh(); // nothing usable: this request waits for the issuer (and fails if it is down)
    } else if (age > this.policy.maxAgeMs) {
      this.refresh().catch(() => undefined); // serve the stale set; the refresh logs its own failure
    }
    try {
      return await (this.keys as JWTVerifyGetKey)(header, token);
    } catch (error) {
      // A token signed with a key we have not seen: the issuer may have rotated. Look again, not too often.
      if (error instanceof errors.JWKSNoMatchingKey && this.now() - this.lastAttemptAt > this.policy.cooldownMs) {
        await this.refresh();
        return (this.keys as JWTVerifyGetKey)(header, token);
      }
      throw error;
    }
  };

  /** The key set, fetched if none is held yet (a fetch in flight is shared). */
  ready(): Promise<void> {
    return this.keys ? Promise.resolve() : this.refresh();
  }

  private refresh(): Promise<void> {
    this.refreshing ??= this.fetchKeys().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async fetchKeys(): Promise<void> {
    this.lastAttemptAt = this.now();
    try {
      // Bounded while it is read (a plain text() reads whatever arrives). Like jose's own fetch, a redirect is not
      // followed.
      const answer = await fetchJwks(this.url, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.policy.timeoutMs),
      });
      if (answer.status !== 200) {
        await answer.body?.cancel().catch(() => undefined);
        throw new Error(`JWKS answered ${answer.status}`);
      }
      const document = JSON.parse(await answer.text()) as JSONWebKeySet;
      const keys = createLocalJWKSet(document); // throws JWKSInvalid for a document that is not a key set
      this.keys = keys;
      this.fetchedAt = this.now();
    } catch (error) {
      this.log?.warn('JWKS refresh failed', {
        jwksError: error instanceof Error ? error.name : 'unknown',
        servingStaleForMs: this.keys ? this.now() - this.fetchedAt : 0,
      });
      throw error;
    }
  }
}

/**
 * JWT verification with jose against the issuer's JWKS. The key set is fetched on first use and cached (10 min;
 * refetched at most every 30 s when a token names an unknown key; 3 s bound per fetch). When the issuer is down,
 * the last good key set keeps working for `maxStaleMs` (6 h by default, JWT_JWKS_MAX_STALE_SECONDS) while it is
 * refreshed in the background. Only the configured asymmetric algorithms are accepted, and `iss`, `aud`, `exp`
 * (and `nbf`) are checked with a small clock skew.
 */
export class JoseTokenVerifier implements TokenVerifier {
  private readonly jwks: StaleTolerantJwks;

  constructor(
    private readonly config: JwtConfig,
    options: { policy?: Partial<JwksCachePolicy>; now?: () => number; log?: Log } = {},
  ) {
    const policy = {
      ...DEFAULT_POLICY,
      ...(config.jwksMaxStaleMs === undefined ? {} : { maxStaleMs: config.jwksMaxStaleMs }),
      ...options.policy,
    };
    this.jwks = new StaleTolerantJwks(config.jwksUrl, policy, options.now ?? Date.now, options.log);
  }

  /** Fetches the key set now (a cold start's init, before the first token); a failure is left to `verify`. */
  async warm(): Promise<void> {
    await this.jwks.ready().catch(() => undefined);
  }

  async verify(token: string): Promise<{ subject: string }> {
    try {
      const { payload } = await jwtVerify(token, this.jwks.getKey, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        algorithms: [...this.config.algorithms],
        clockTolerance: this.config.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
      });
      if (typeof payload.sub !== 'string' || payload.sub === '' || payload.sub.length > 256) {
        throw unauthorized('the token has no usable subject');
      }
      return { subject: payload.sub };
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof errors.JWTExpired) throw unauthorized('the token has expired', error);
      // Our fetch failed (network, timeout, status, size) or the issuer served something that is not a key set.
      if (!(error instanceof errors.JOSEError) || error instanceof errors.JWKSInvalid) throw unavailable(error);
      throw unauthorized('the token could not be verified', error);
    }
  }
}
