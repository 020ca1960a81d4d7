// What `npm run keys` and `npm run usage` share: which state table they speak to, and with which credentials.
// - `--table <name>` (and `--region`, `--endpoint`), or STATE_TABLE (AWS_REGION, DYNAMODB_ENDPOINT) from the
//   environment: a deployed stage's table (serverless info --verbose names it: StateTable), with the operator's own
//   AWS credentials from the default chain (a profile, SSO, the CI role); no HTTP surface of the service is used;
// - otherwise the table of the `npm start` running on this machine, with that run's local credentials (its note).
// The table side is lib/composition/operator.ts, loaded through esbuild (import-ts.mjs).
import { parseArgs } from 'node:util';
import { importTs } from './import-ts.mjs';
import { localS3Directory, runningNpmStart } from './local-env.mjs';

export const TARGET_OPTIONS = {
  table: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  json: { type: 'boolean', default: false },
};

export function parse(command, options, args = process.argv.slice(2)) {
  try {
    return parseArgs({ args, options: { ...TARGET_OPTIONS, ...options }, allowPositionals: true });
  } catch (error) {
    fail(command, error instanceof Error ? error.message : String(error));
  }
}

export function fail(command, message) {
  console.error(`npm run ${command}: ${message}`);
  process.exit(1);
}

/** The operator's handle on the state table (lib/composition/operator.ts), and a line saying which table it is. */
export async function openTarget(command, values) {
  const table = values.table ?? process.env.STATE_TABLE;
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const { openOperator } = await importTs('lib/composition/operator.ts');
  if (table) {
    const endpoint = values.endpoint ?? process.env.DYNAMODB_ENDPOINT;
    return { operator: openOperator({ table, region, endpoint }), where: `table ${table} (${endpoint ?? region})` };
  }
  const local = await runningNpmStart(localS3Directory());
  if (!local?.dynamoEndpoint) {
    fail(command, "no table: pass --table <name> (the stage's StateTable, from `serverless info --verbose`), or run `npm start`");
  }
  return {
    operator: openOperator({ table: local.table, region, endpoint: local.dynamoEndpoint, credentials: local.credentials }),
    where: `npm start's local table ${local.table}`,
  };
}

/**
 * Runs a command's `work(operator, where)` on its table: a failure is one line (no stack trace) and exit code 1, and
 * the client is closed either way.
 */
export async function withTarget(command, values, work) {
  const { operator, where } = await openTarget(command, values);
  try {
    await work(operator, where);
  } catch (error) {
    fail(command, error instanceof Error ? error.message : String(error));
  } finally {
    operator.close();
  }
}

/** Rows as a table a person reads: columns padded to their widest cell. */
export function printTable(rows, columns) {
  const widths = columns.map(([title, get]) => Math.max(title.length, ...rows.map((row) => String(get(row)).length)));
  const line = (cells) =>
    cells
      .map((cell, index) => String(cell).padEnd(widths[index]))
      .join('  ')
      .trimEnd();
  console.log(line(columns.map(([title]) => title)));
  for (const row of rows) console.log(line(columns.map(([, get]) => get(row))));
}
