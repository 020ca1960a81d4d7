// The money report (`npm run money`): for each wired model and a grid of sizes and qualities, what is reserved
// before the call, what a realistic answer settles to, and the provider's published figure, with the ratios. It
// exits 1 when a reservation is under the published figure or over 1.25x of it (docs/limits.md).
//
// Published figures: OpenAI's per-image table where it lists the size, else its calculator's token formula at
// $30/M (lib/domain/pricing.ts names the sources); Gemini's and Bedrock's per-image prices. Realistic usage:
// OpenAI's answer reports the formula's output tokens and 50 prompt tokens; Gemini's a 338-token prompt, the tier's
// image tokens, 340 text and 337 thinking tokens (a real gemini-3-pro-image 4K answer); Bedrock bills per image.
import { importTs } from './import-ts.mjs';

const pricing = await importTs('lib/domain/pricing.ts');
const models = await importTs('lib/domain/models.ts');
const json = process.argv.includes('--json');

const GPT_SIZES = [
  '1024x1024',
  '1536x1024',
  '1024x1536',
  '1792x1024',
  '1024x3072',
  '2048x2048',
  '2560x1440',
  '3584x2048',
  '3840x2160',
  '2880x2880',
  'auto',
];
const GEMINI_IMAGE_TOKENS = {
  'gemini-3-pro-image': { '1K': 1_120, '2K': 1_120, '4K': 2_000 },
  'gemini-3.1-flash-image': { '1K': 1_120, '2K': 1_680, '4K': 2_520 },
};

const rows = [];
/** `prompt`: a prompt of as many bytes as the realistic usage has prompt tokens, so both count the same text. */
const add = (model, quality, size, published, settled, prompt = '') => {
  const reserved = pricing.estimateImageCostMicroUsd(model, quality, size, prompt);
  rows.push({
    model,
    quality: quality ?? '-',
    size,
    reserved,
    settled,
    published,
    ratio: reserved / published,
    settledRatio: settled / reserved,
  });
};

for (const quality of ['low', 'medium', 'high', 'auto']) {
  for (const size of GPT_SIZES) {
    const qualities = quality === 'auto' ? ['low', 'medium', 'high'] : [quality];
    const figures = qualities.map((name) => {
      if (size === 'auto') return pricing.gptImageAutoTokens(name) * 30;
      const [width, height] = size.split('x').map(Number);
      const tokens = Math.max(pricing.gptImageOutputTokens(name, width, height), pricing.GPT_IMAGE_LISTED_TOKENS[name]?.[size] ?? 0);
      return Math.max(pricing.GPT_IMAGE_PRICES[name]?.[size] ?? 0, tokens * 30);
    });
    const published = Math.max(...figures);
    const outputTokens = Math.round((published - (published % 30)) / 30);
    const settled = pricing.costFromUsage('gpt-image-2', { input_tokens: 50, output_tokens: outputTokens }, 0).costMicroUsd;
    add('gpt-image-2', quality, size, published, settled, 'x'.repeat(50));
  }
}
for (const [id, byTier] of Object.entries(GEMINI_IMAGE_TOKENS)) {
  const model = `google/${id}`;
  for (const [tier, imageTokens] of Object.entries(byTier)) {
    for (const size of ['1:1', '16:9', '21:9']) {
      const usage = {
        promptTokenCount: 338,
        candidatesTokenCount: imageTokens + 340,
        thoughtsTokenCount: 337,
        candidatesTokensDetails: [
          { modality: 'IMAGE', tokenCount: imageTokens },
          { modality: 'TEXT', tokenCount: 340 },
        ],
      };
      const settled = pricing.costFromUsage(model, usage, 0).costMicroUsd;
      add(model, tier, size, pricing.GEMINI_RATES[id].perImage[tier], settled, 'x'.repeat(338));
    }
  }
}
for (const [id, price] of Object.entries(pricing.BEDROCK_PRICES)) {
  const model = `bedrock/${id}`;
  for (const size of models.familyOf(model)?.sizes ?? [])
    add(model, undefined, size, price, pricing.costFromUsage(model, undefined, 0).costMicroUsd);
}

// The ratio to the published figure leaves the prompt out (the figure is the image's alone).
for (const row of rows) {
  row.ratio = pricing.estimateImageCostMicroUsd(row.model, row.quality === '-' ? undefined : row.quality, row.size) / row.published;
}
const bad = rows.filter((row) => row.ratio < 1 || row.ratio > 1.25 || row.settledRatio > 1);
if (json) {
  process.stdout.write(`${JSON.stringify({ rows, failures: bad.length }, null, 2)}\n`);
} else {
  const usd = (micro) => `$${(micro / 1e6).toFixed(4)}`;
  const header = ['model', 'quality', 'size', 'reserved', 'settled', 'published', 'reserved/published', 'settled/reserved'];
  const lines = rows.map((row) => [
    row.model,
    row.quality,
    row.size,
    usd(row.reserved),
    usd(row.settled),
    usd(row.published),
    `${row.ratio.toFixed(3)}x`,
    `${row.settledRatio.toFixed(3)}x`,
  ]);
  const widths = header.map((title, index) => Math.max(title.length, ...lines.map((line) => line[index].length)));
  const format = (cells) => cells.map((cell, index) => cell.padEnd(widths[index])).join('  ');
  process.stdout.write(`${[format(header), format(widths.map((width) => '-'.repeat(width))), ...lines.map(format)].join('\n')}\n`);
  process.stdout.write(
    `\n${rows.length} rows; reserved/published from ${Math.min(...rows.map((row) => row.ratio)).toFixed(3)}x to ` +
      `${Math.max(...rows.map((row) => row.ratio)).toFixed(3)}x (bounds 1.0x-1.25x); ${bad.length} outside.\n`,
  );
}
if (bad.length > 0) {
  process.stderr.write(`money report: ${bad.length} reservation(s) outside 1.0x-1.25x of the published figure\n`);
  process.exit(1);
}
