// `npm run usage -- [--date YYYY-MM-DD] [--caller <caller>] [--cap-usd X] [--json]`: a UTC day of usage from the
// state table, with the operator's own credentials: per caller its images and spend (settled, and still reserved
// for images being made), per caller and model the images made, the service-wide spend against its cap
// (GLOBAL_DAILY_SPEND_LIMIT_USD from --cap-usd or the environment), and the top callers. Issued keys are shown by
// name beside their prefix.
import { fail, parse, printTable, withTarget } from './operator.mjs';

const COMMAND = 'usage';
const { values } = parse(COMMAND, { date: { type: 'string' }, caller: { type: 'string' }, 'cap-usd': { type: 'string' } });
const day = values.date ?? new Date().toISOString().slice(0, 10);
if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`)))
  fail(COMMAND, `--date must be YYYY-MM-DD, got "${day}"`);
const capText = values['cap-usd'] ?? process.env.GLOBAL_DAILY_SPEND_LIMIT_USD;
const cap = capText === undefined || capText === '' ? undefined : Number(capText);
if (cap !== undefined && !(cap >= 0)) fail(COMMAND, `--cap-usd must be dollars, got "${capText}"`);

const usd = (micro) => (micro / 1_000_000).toFixed(4);
await withTarget(COMMAND, values, async (operator, where) => {
  const [report, keys] = await Promise.all([operator.usage(day), operator.keys.list()]);
  const names = new Map(keys.map((record) => [`api-key:${record.prefix}`, record.name]));
  const wanted = (caller) =>
    values.caller === undefined || caller === values.caller || caller.endsWith(`:${values.caller}`) || names.get(caller) === values.caller;
  const callers = report.callers.filter((row) => wanted(row.caller)).map((row) => ({ ...row, name: names.get(row.caller) ?? '' }));
  const byModel = report.byModel.filter((row) => wanted(row.caller));
  if (values.json) {
    console.log(JSON.stringify({ day, callers, byModel, globalSpendUsd: report.globalSpendMicroUsd / 1_000_000, capUsd: cap ?? null }));
  } else {
    console.log(`Usage on ${day} (UTC), ${where}\n`);
    printTable(callers, [
      ['caller', (row) => row.caller],
      ['name', (row) => row.name || '-'],
      ['images', (row) => row.images],
      ['spent $', (row) => usd(row.spendMicroUsd - row.reservedMicroUsd)],
      ['reserved $', (row) => usd(row.reservedMicroUsd)],
    ]);
    console.log('\nBy model (images made, failed, still running; settled cost):');
    printTable(byModel, [
      ['caller', (row) => row.caller],
      ['model', (row) => row.model],
      ['images', (row) => row.images],
      ['failed', (row) => row.failed],
      ['running', (row) => row.running],
      ['settled $', (row) => row.settledUsd.toFixed(4)],
    ]);
    const spent = report.globalSpendMicroUsd / 1_000_000;
    console.log(
      `\nService-wide: $${spent.toFixed(4)}${cap === undefined ? ' (pass --cap-usd to compare with GLOBAL_DAILY_SPEND_LIMIT_USD)' : ` of the $${cap} cap (${cap > 0 ? ((spent / cap) * 100).toFixed(1) : '100'}%)`}`,
    );
    const top = callers.slice(0, 5).map((row) => `${row.name || row.caller} $${usd(row.spendMicroUsd)}`);
    console.log(`Top callers by spend: ${top.length > 0 ? top.join(', ') : 'none'}`);
  }
});
