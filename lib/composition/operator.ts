/**
 * The operator's commands (`npm run keys`, `npm run usage`) wired to the state table: the key store and the usage
 * report on a DynamoDB client made with the operator's own credentials (or npm start's local ones). Their own small
 * composition, loaded by scripts/operator.mjs; nothing of it is in a function's bundle.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbKeyStore } from '../adapters/aws/dynamodb-key-store.js';
import { readUsageDay } from '../adapters/aws/dynamodb-usage-report.js';
import { keyStanding, newApiKey, newWebhookSecret, type ApiKeyRecord } from '../domain/api-keys.js';

export interface OperatorTarget {
  table: string;
  region: string;
  endpoint?: string | undefined;
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

export function openOperator(target: OperatorTarget) {
  const dynamo = new DynamoDBClient({
    region: target.region,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(target.credentials ? { credentials: target.credentials } : {}),
  });
  const keys = new DynamoDbKeyStore(dynamo, target.table);
  /** The key with this prefix (`dia_...`), or a clear error: prefixes are what lists and logs show. */
  const byPrefix = async (prefix: string): Promise<ApiKeyRecord> => {
    const found = await keys.get(prefix);
    if (!found) throw new Error(`no key with prefix ${prefix} in table ${target.table} (npm run keys -- list shows them)`);
    return found;
  };
  return {
    keys,
    byPrefix,
    newApiKey,
    newWebhookSecret,
    keyStanding,
    usage: (day: string) => readUsageDay(dynamo, target.table, day),
    close: () => dynamo.destroy(),
  };
}
