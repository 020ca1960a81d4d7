// `npm run keys -- <command>`: API keys issued into the state table, with the operator's own credentials.
//   create --name <name> [--daily-images N] [--daily-spend-usd X] [--models a,b] [--expires <ISO date>|<days>d]
//   list
//   revoke <prefix>
//   limits <prefix> [--daily-images N|default] [--daily-spend-usd X|default] [--models a,b|all] [--expires ...|never]
// A new key is printed once; only its SHA-256 is kept. A revoked key is refused within API_KEY_CACHE_SECONDS (60 s
// by default) on every warm function instance. Add --json for machine-readable output; --table to name a stage's.
import { fail, parse, printTable, withTarget } from './operator.mjs';

const COMMAND = 'keys';
const { values, positionals } = parse(COMMAND, {
  name: { type: 'string' },
  'daily-images': { type: 'string' },
  'daily-spend-usd': { type: 'string' },
  models: { type: 'string' },
  expires: { type: 'string' },
});
const [verb, prefix] = positionals;
const USAGE =
  'usage: npm run keys -- create --name <name> [--daily-images N] [--daily-spend-usd X] [--models a,b] [--expires <date>|<days>d] | list | revoke <prefix> | limits <prefix> [...]';

const wholeNumber = (flag, text) => {
  if (text === 'default') return null;
  if (!/^\d{1,9}$/.test(text)) fail(COMMAND, `--${flag} must be a whole number (or "default"), got "${text}"`);
  return Number(text);
};
const microUsd = (text) => {
  if (text === 'default') return null;
  if (!/^\d{1,7}(\.\d{1,6})?$/.test(text)) fail(COMMAND, `--daily-spend-usd must be dollars like 2.50 (or "default"), got "${text}"`);
  return Math.round(Number(text) * 1_000_000);
};
const expiry = (text) => {
  if (text === 'never') return null;
  const days = /^(\d{1,4})d$/.exec(text);
  const at = days ? Date.now() + Number(days[1]) * 86_400_000 : Date.parse(text);
  if (!Number.isFinite(at) || at <= Date.now())
    fail(COMMAND, `--expires must be a future date (2027-01-31) or a number of days (30d), got "${text}"`);
  return at;
};
const models = (text) =>
  text === 'all'
    ? null
    : text
        .split(',')
        .map((model) => model.trim())
        .filter(Boolean);

/** The limit fields a command sets (undefined: left as they are; null: back to the deployment's default). */
function limitsFrom() {
  return {
    ...(values['daily-images'] === undefined ? {} : { dailyImages: wholeNumber('daily-images', values['daily-images']) }),
    ...(values['daily-spend-usd'] === undefined ? {} : { dailySpendMicroUsd: microUsd(values['daily-spend-usd']) }),
    ...(values.models === undefined ? {} : { allowedModels: models(values.models) }),
    ...(values.expires === undefined ? {} : { expiresAt: expiry(values.expires) }),
  };
}

const shown = (record, operator) => ({
  prefix: record.prefix,
  name: record.name,
  state: operator.keyStanding(record, Date.now()),
  created: new Date(record.createdAt).toISOString(),
  expires: record.expiresAt === undefined ? '' : new Date(record.expiresAt).toISOString(),
  dailyImages: record.dailyImages ?? 'default',
  dailySpendUsd: record.dailySpendMicroUsd === undefined ? 'default' : (record.dailySpendMicroUsd / 1_000_000).toFixed(2),
  models: record.allowedModels?.join(',') ?? 'all',
});

if (!['create', 'list', 'revoke', 'limits'].includes(verb ?? '')) fail(COMMAND, USAGE);
await withTarget(COMMAND, values, async (operator, where) => {
  if (verb === 'create') {
    if (!values.name || !/^[\w .@-]{1,64}$/.test(values.name)) fail(COMMAND, '--name is required: 1-64 letters, digits, spaces, . @ _ -');
    const limits = Object.fromEntries(Object.entries(limitsFrom()).filter(([, value]) => value !== null));
    const { key, prefix: newPrefix, hash } = operator.newApiKey();
    const webhookSecret = operator.newWebhookSecret();
    const record = { hash, prefix: newPrefix, name: values.name, state: 'active', createdAt: Date.now(), webhookSecret, ...limits };
    await operator.keys.create(record);
    if (values.json) console.log(JSON.stringify({ key, webhookSecret, ...shown(record, operator) }));
    else {
      console.log(`Created key ${newPrefix} ("${values.name}") in ${where}. The key, shown this once:\n\n  ${key}\n`);
      console.log(`Its webhook signing secret (its images' events are signed with it; give it to its receiver):\n\n  ${webhookSecret}\n`);
      console.log(`Keep both like passwords: only the key's SHA-256 is stored. Revoke it with npm run keys -- revoke ${newPrefix}`);
    }
  } else if (verb === 'list') {
    const rows = (await operator.keys.list()).map((record) => shown(record, operator));
    if (values.json) console.log(JSON.stringify(rows));
    else {
      console.log(`Keys in ${where}:`);
      printTable(rows, [
        ['prefix', (row) => row.prefix],
        ['name', (row) => row.name],
        ['state', (row) => row.state],
        ['images/day', (row) => row.dailyImages],
        ['$/day', (row) => row.dailySpendUsd],
        ['models', (row) => row.models],
        ['expires', (row) => row.expires || '-'],
        ['created', (row) => row.created],
      ]);
    }
  } else {
    if (!prefix) fail(COMMAND, `${verb} needs the key's prefix (dia_...): npm run keys -- list shows them`);
    const record = await operator.byPrefix(prefix);
    const change = verb === 'revoke' ? { state: 'revoked', revokedAt: Date.now() } : limitsFrom();
    if (Object.keys(change).length === 0)
      fail(COMMAND, 'limits needs at least one of --daily-images, --daily-spend-usd, --models, --expires');
    await operator.keys.update(record.prefix, change);
    const after = { ...record, ...Object.fromEntries(Object.entries(change).map(([field, value]) => [field, value ?? undefined])) };
    if (values.json) console.log(JSON.stringify(shown(after, operator)));
    else {
      console.log(
        verb === 'revoke'
          ? `Revoked ${prefix} ("${record.name}"): refused within API_KEY_CACHE_SECONDS (60 s by default) everywhere.`
          : `Changed ${prefix} ("${record.name}"): in effect within API_KEY_CACHE_SECONDS (60 s by default).`,
      );
    }
  }
});
