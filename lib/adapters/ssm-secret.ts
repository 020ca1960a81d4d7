import { SSMClient } from '@aws-sdk/client-ssm';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';

/** How long a fetched secret is reused before SSM is asked again (picks up a rotated key within this time). */
const SECRET_MAX_AGE_SECONDS = 15 * 60;

/**
 * Reads an SSM SecureString (decrypted) through Powertools' cached provider: the first request of a container
 * pays one SSM call, the rest reuse the cached value. The client is created lazily so a cold start that never
 * needs the secret (offline provider, config error) makes no network call.
 */
export function ssmSecret(parameterName: string, region: string): () => Promise<string> {
  let provider: SSMProvider | undefined;
  return async () => {
    provider ??= new SSMProvider({ awsSdkV3Client: new SSMClient({ region }) });
    const value = await provider.get(parameterName, { decrypt: true, maxAge: SECRET_MAX_AGE_SECONDS });
    if (typeof value !== 'string' || value === '') {
      throw new Error(`SSM parameter ${parameterName} is empty or not a string`);
    }
    return value;
  };
}
