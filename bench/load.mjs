// `npm run load`: 1,000 requests at concurrency 20 against the local stack (serverless-offline, local S3, local
// DynamoDB with quotas on) with a zero-delay provider. Every answer must be 201, and every returned URL is fetched
// back and its sha256 compared with the one returned (and its image data with the provider's). Prints requests/s, latency percentiles and errors.
import { makePng, percentile, pool, sha256, startStack, startZeroDelayProvider } from './support.mjs';

const TOTAL = Number(process.env.LOAD_REQUESTS ?? 1000);
const CONCURRENCY = Number(process.env.LOAD_CONCURRENCY ?? 20);
// Every request and every wait is bounded; the run stops by itself.
const REQUEST_TIMEOUT_MS = 30_000;

const png = makePng(1024, 1024, 0.35); // about 1.1 MB, a typical 1024x1024 answer
const provider = await startZeroDelayProvider(png);
const stack = await startStack({ providerBaseUrl: provider.baseUrl });
console.log(`local stack ready in ${stack.readyMs} ms; image ${png.length} bytes; ${TOTAL} requests at concurrency ${CONCURRENCY}`);

const latencies = [];
const results = [];
const errors = new Map();
const countError = (what) => errors.set(what, (errors.get(what) ?? 0) + 1);

let exitCode = 0;
try {
  // Warm-up: serverless-offline starts a worker per concurrent request on first use.
  await pool(CONCURRENCY, CONCURRENCY, () => post(`warm-up`));

  const startedAt = performance.now();
  await pool(TOTAL, CONCURRENCY, async (index) => {
    const t0 = performance.now();
    try {
      const response = await post(`load test image ${index}`);
      latencies.push(performance.now() - t0);
      if (response.status !== 201) {
        const body = await response.json().catch(() => ({}));
        countError(`HTTP ${response.status} ${body.error?.code ?? ''}`.trim());
        return;
      }
      results.push(await response.json());
    } catch (error) {
      countError(error.name ?? 'error');
    }
  });
  const seconds = (performance.now() - startedAt) / 1000;

  let verified = 0;
  await pool(results.length, CONCURRENCY, async (index) => {
    const result = results[index];
    try {
      const image = await fetch(result.url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const bytes = Buffer.from(await image.arrayBuffer());
      // The provider's file, or (images signed, the default) the same file with this service's manifest added beside
      // the image data: everything after the PNG header (signature and IHDR, 33 bytes) is still there, unchanged.
      const provided = bytes.equals(png) || (result.provenance?.manifest === 'service' && bytes.includes(png.subarray(33)));
      if (image.status === 200 && sha256(bytes) === result.sha256 && provided) verified += 1;
      else countError('fetched image differs');
    } catch (error) {
      countError(`fetch back: ${error.name}`);
    }
  });

  latencies.sort((a, b) => a - b);
  const table = {
    requests: TOTAL,
    concurrency: CONCURRENCY,
    'status 201': results.length,
    'URLs verified (sha256)': verified,
    errors: [...errors.values()].reduce((a, b) => a + b, 0),
    'duration (s)': seconds.toFixed(2),
    'requests/s': (TOTAL / seconds).toFixed(1),
    'p50 (ms)': percentile(latencies, 50).toFixed(1),
    'p95 (ms)': percentile(latencies, 95).toFixed(1),
    'p99 (ms)': percentile(latencies, 99).toFixed(1),
    'provider calls': provider.generations(),
  };
  console.table(table);
  if (errors.size > 0) console.log('errors:', Object.fromEntries(errors));
  if (results.length !== TOTAL || verified !== TOTAL) exitCode = 1;
} finally {
  await stack.stop();
  await provider.close();
}
process.exit(exitCode);

function post(prompt) {
  return fetch(stack.apiUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, quality: 'low' }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}
