import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import { AppError } from '../errors.js';
import type { JwtConfig } from '../config.js';
import type { TokenVerifier } from '../ports.js';

const unauthorized = (description: string, cause?: unknown): AppError =>
  new AppError('unauthorized', 'The bearer token is not valid.', {
    cause,
    headers: { 'WWW-Authenticate': `Bearer realm="durable-image-api", error="invalid_token", error_description="${description}"` },
    details: { tokenProblem: description },
  });

/**
 * JWT verification with jose against the issuer's JWKS. The key set is fetched on first use and cached (10 min,
 * refetched at most every 30 s when a token names an unknown key), with a 3 s bound on each fetch. Only the
 * configured asymmetric algorithms are accepted, and `iss`, `aud`, `exp` (and `nbf`) are checked with a small
 * clock skew.
 */
export class JoseTokenVerifier implements TokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly config: JwtConfig) {
    this.jwks = createRemoteJWKSet(new URL(config.jwksUrl), {
      timeoutDuration: 3_000,
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
    });
  }

  async verify(token: string): Promise<{ subject: string }> {
    try {
      const { payload } = await jwtVerify(token, this.jwks, {
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
      if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError) || isJwksFetchFailure(error)) {
        throw new AppError('auth_unavailable', 'Tokens cannot be verified right now. Retry later.', {
          cause: error,
          headers: { 'Retry-After': '5' },
          details: { jwksError: error instanceof Error ? error.name : 'unknown' },
        });
      }
      throw unauthorized('the token could not be verified', error);
    }
  }
}

// jose reports a non-200 JWKS answer or an unparsable key set as a plain JOSEError.
const isJwksFetchFailure = (error: errors.JOSEError): boolean =>
  error.constructor === errors.JOSEError || error instanceof errors.JWKSInvalid;
