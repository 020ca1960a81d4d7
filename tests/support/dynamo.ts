import type { AddressInfo } from 'node:net';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createStateTable } from '../../scripts/local-env.mjs';

export interface LocalDynamo {
  endpoint: string;
  /** The SDK client: what the service's adapters take, and what tests set up tables and read items back with. */
  client: DynamoDBClient;
  /** A fresh table (key `pk`), so each test starts from zero. */
  createTable(name: string): Promise<void>;
  /** All items of a table as plain objects (numbers as numbers). */
  items(table: string): Promise<Record<string, string | number>[]>;
  stop(): Promise<void>;
}

/** dynalite (a real DynamoDB API on LevelDB, in memory) on a free loopback port. */
export async function startLocalDynamo(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const client = new DynamoDBClient({ region: 'us-east-1', endpoint, credentials });
  return {
    endpoint,
    client,
    async createTable(name) {
      await createStateTable(client, name);
    },
    async items(table) {
      const scanned = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
      return (scanned.Items ?? []).map((item) =>
        Object.fromEntries(Object.entries(item).map(([key, value]) => [key, value.N !== undefined ? Number(value.N) : (value.S ?? '')])),
      );
    },
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
