import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

/** One caller's day as its quota item counts it (the figures the daily limits are enforced on). */
export interface CallerDay {
  /** `api-key:<name or issued key prefix>` or `jwt:<sub>`. */
  caller: string;
  images: number;
  spendMicroUsd: number;
  reservedMicroUsd: number;
}

/** The images of a day by caller and model, from the image records (succeeded ones at their settled cost). */
export interface ModelDay {
  caller: string;
  model: string;
  images: number;
  failed: number;
  running: number;
  settledUsd: number;
}

export interface UsageDay {
  day: string;
  callers: CallerDay[];
  byModel: ModelDay[];
  /** The service-wide spend counted against GLOBAL_DAILY_SPEND_LIMIT_USD. */
  globalSpendMicroUsd: number;
}

const num = (value: unknown): number => (typeof value === 'number' ? value : 0);

/**
 * A day of usage read from the state table for the operator (`npm run usage`): the quota items of that UTC day and
 * the image records created on it. A Scan with projections (never a prompt read), paged: an operator's command, run
 * with the operator's own credentials, never on a request's path.
 */
export async function readUsageDay(dynamo: DynamoDBClient, table: string, day: string): Promise<UsageDay> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: table,
        FilterExpression:
          '(begins_with(pk, :quota) AND contains(pk, :day)) OR pk = :global OR (begins_with(pk, :image) AND #created BETWEEN :from AND :to)',
        ProjectionExpression: 'pk, images, spendMicroUsd, reservedMicroUsd, #owner, #model, #status, #result, #created',
        ExpressionAttributeNames: {
          '#owner': 'owner',
          '#model': 'model',
          '#status': 'status',
          '#result': 'result',
          '#created': 'createdAt',
        },
        ExpressionAttributeValues: {
          ':quota': { S: 'quota#' },
          ':day': { S: `#${day}` },
          ':global': { S: `spend#global#${day}` },
          ':image': { S: 'image#' },
          ':from': { N: String(Date.parse(`${day}T00:00:00.000Z`)) },
          ':to': { N: String(Date.parse(`${day}T00:00:00.000Z`) + 86_399_999) },
        },
        ...(start ? { ExclusiveStartKey: start as never } : {}),
      }),
    );
    items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
    start = page.LastEvaluatedKey;
  } while (start);

  const callers: CallerDay[] = [];
  const models = new Map<string, ModelDay>();
  let globalSpendMicroUsd = 0;
  for (const item of items) {
    const pk = String(item['pk']);
    if (pk === `spend#global#${day}`) globalSpendMicroUsd = num(item['spendMicroUsd']);
    else if (pk.startsWith('quota#') && pk.endsWith(`#${day}`)) {
      callers.push({
        caller: pk.slice('quota#'.length, -`#${day}`.length),
        images: num(item['images']),
        spendMicroUsd: num(item['spendMicroUsd']),
        reservedMicroUsd: num(item['reservedMicroUsd']),
      });
    } else if (pk.startsWith('image#')) {
      const caller = String(item['owner'] ?? '');
      const result = typeof item['result'] === 'string' ? (JSON.parse(item['result']) as { model?: string; costUsd?: number }) : undefined;
      const model = result?.model ?? String(item['model'] ?? '');
      const key = `${caller} ${model}`;
      const row = models.get(key) ?? { caller, model, images: 0, failed: 0, running: 0, settledUsd: 0 };
      if (item['status'] === 'succeeded') {
        row.images += 1;
        row.settledUsd += result?.costUsd ?? 0;
      } else if (item['status'] === 'failed') row.failed += 1;
      else if (item['status'] === 'queued' || item['status'] === 'running') row.running += 1;
      models.set(key, row);
    }
  }
  return {
    day,
    callers: callers.sort((a, b) => b.spendMicroUsd - a.spendMicroUsd || b.images - a.images),
    byModel: [...models.values()].sort((a, b) => a.caller.localeCompare(b.caller) || a.model.localeCompare(b.model)),
    globalSpendMicroUsd,
  };
}
