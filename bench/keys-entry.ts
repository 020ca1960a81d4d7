/**
 * Bundled by bench/run.mjs: authentication of a key issued into the state table (lib/use-cases/issued-keys.ts on
 * the DynamoDB key store), against a local table, so the bench can time its first lookup (one GetItem), a cached
 * one, and the refusal of a key whose checksum does not hold (no read).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbKeyStore } from '../lib/adapters/aws/dynamodb-key-store.js';
import { newApiKey } from '../lib/domain/api-keys.js';
import { makeIssuedKeyLookup } from '../lib/use-cases/issued-keys.js';

export async function makeKeyProbe(endpoint: string, table: string, credentials: { accessKeyId: string; secretAccessKey: string }) {
  const store = new DynamoDbKeyStore(new DynamoDBClient({ region: 'us-east-1', endpoint, credentials }), table);
  const issued = newApiKey();
  await store.create({ hash: issued.hash, prefix: issued.prefix, name: 'bench', state: 'active', createdAt: Date.now() });
  return {
    key: issued.key,
    /** A fresh lookup (an empty cache: the next call reads the table). */
    fresh: () => makeIssuedKeyLookup({ keys: store, now: Date.now, cacheMs: 60_000 }),
  };
}
