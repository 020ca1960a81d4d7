import type { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { errorName } from '../../errors.js';
import { lazily } from '../../lazy.js';

/** How long a fetched secret is reused before SSM is asked again (picks up a rotated key within this time). */
const SECRET_MAX_AGE_SECONDS = 15 * 60;
/** A bound on one read, the SDK's retries included: a provider call waits on it. */
const READ_TIMEOUT_MS = 3_000;

/** A secret could not be read: nothing was sent to the provider it is for. */
export class SecretUnavailableError extends Error {
  constructor(
    readonly parameterName: string,
    readonly ssmStatus: number | undefined,
    readonly ssmError: string,
    options?: { cause?: unknown },
  ) {
    super(`SSM parameter ${parameterName} could not be read (${ssmStatus ?? 'no answer'} ${ssmError})`, options);
    this.name = 'SecretUnavailableError';
  }
}

export interface SsmSecretsOptions {
  region: string;
  /** A local stand-in (tests); otherwise the SDK's own resolution (AWS_ENDPOINT_URL_SSM, FIPS, dual-stack). */
  endpoint?: string | undefined;
}

/**
 * SSM SecureStrings (decrypted) through Powertools' SSM provider and its cache: the first use of a parameter in
 * a container reads it, the next 15 minutes reuse it, and concurrent first uses share one read. The SSM client
 * and Powertools parameters are loaded on first use, so a cold start that needs no secret loads neither. The
 * SDK's standard retries cover throttling (SSM answers it as 400 ThrottlingException) and reset connections.
 *
 * Returns a factory: one provider (one client, one cache) for every parameter of the deployment.
 */
export function ssmSecrets(options: SsmSecretsOptions): (parameterName: string) => () => Promise<string> {
  const provider = lazily(async (): Promise<SSMProvider> => {
    const { SSMClient, SSMProvider: Provider } = await import('./ssm-sdk.js');
    const client = new SSMClient({
      region: options.region,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      requestHandler: { connectionTimeout: 1_000, requestTimeout: READ_TIMEOUT_MS, throwOnRequestTimeout: true },
    });
    return new Provider({ awsSdkV3Client: client });
  });

  return (parameterName) => {
    let reading: Promise<string> | undefined;
    const read = async (): Promise<string> => {
      let value: unknown;
      try {
        value = await withTimeout(
          (await provider()).get(parameterName, { decrypt: true, maxAge: SECRET_MAX_AGE_SECONDS }),
          READ_TIMEOUT_MS,
        );
      } catch (error) {
        // Powertools wraps the SDK's error: its name (ParameterNotFound, AccessDeniedException) and status are
        // safe to log, never a value.
        const cause = (error as { cause?: unknown }).cause ?? error;
        const status = (cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        throw new SecretUnavailableError(parameterName, status, errorName(cause), { cause: error });
      }
      if (typeof value !== 'string' || value === '') throw new SecretUnavailableError(parameterName, 200, 'empty or not a string');
      return value;
    };
    return () =>
      (reading ??= read().finally(() => {
        reading = undefined;
      }));
  };
}

class ReadTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ReadTimeoutError(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
