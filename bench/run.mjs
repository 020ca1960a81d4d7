// `npm run bench`: the performance claims as ratios measured in one run on this machine, printed as a table and
// written to bench/results.json as [{ name, value, target, unit, met }]. Ratios, not absolute times, so that the
// targets mean the same thing on a fast laptop and a small CI box.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { build } from 'esbuild';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { parse as parseYaml } from 'yaml';
import { readFileSync, statSync } from 'node:fs';
import { ROOT, TEST_C2PA_SIGNER_FILE } from '../scripts/local-env.mjs';
import { staticImportsOf } from '../scripts/static-imports.mjs';
import {
  STACK_CREDENTIALS,
  makePng,
  median,
  percentile,
  sha256,
  sseFrame,
  startStack,
  startStreamingProvider,
  startZeroDelayProvider,
} from './support.mjs';

const work = await mkdtemp(join(tmpdir(), 'dia-bench-'));
/** What the template sets for every function (serverless.yml) and a probe's configuration needs: only the worker reads it, on its first signature. */
const AS_DEPLOYED = { C2PA_SIGNER_PARAMETER: '/bench/c2pa-signer' };
const results = [];
const record = (name, value, target, unit, betterIsLower = true) => {
  // A target of null: a number to show (where cost goes), not a claim.
  const met = target === null ? null : betterIsLower ? value <= target : value >= target;
  results.push({ name, value: Number(value.toFixed(3)), target, unit, met });
};

/**
 * The start of every memory probe (a script run in a fresh process): Linux's RSS figures of the process itself,
 * in bytes (`VmRSS` now, `VmHWM` its high-water mark).
 */
const PROBE_PRELUDE = String.raw`
      const { readFileSync, writeFileSync } = require('node:fs');
      const { createServer } = require('node:http');
      const kb = (field) => Number(new RegExp(field + ':\\s+(\\d+)').exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;`;

/**
 * Runs a memory probe in `count` fresh processes (RSS high-water marks depend on when V8 happens to collect, so the
 * callers take the median) and returns what each printed, checked by `check`.
 */
function probeIn(count, probe, check) {
  return Array.from({ length: count }, () => {
    const child = spawnSync(process.execPath, ['--expose-gc', '-e', PROBE_PRELUDE + probe], { encoding: 'utf8', env: process.env });
    if (child.status !== 0) throw new Error(child.stderr);
    const parsed = JSON.parse(child.stdout);
    check(parsed);
    return parsed;
  });
}

// For the pipeline and memory probes, which call into the code rather than through the handler: one module built
// with the esbuild settings of serverless.yml (custom.esbuild).
const bundle = (entryPoints, outfile) =>
  build({
    entryPoints,
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    mainFields: ['module', 'main'],
    logLevel: 'error',
  });

/**
 * The shipped artifact: the zips `serverless package` writes, unpacked. Cold-start and first-request figures are
 * taken on these files (ES modules with their chunks, functions/package.json beside them).
 */
let shipped;
async function shippedHandler() {
  if (shipped) return shipped;
  const out = join(work, 'package');
  execFileSync(process.execPath, [join(ROOT, 'node_modules/serverless/bin/serverless.js'), 'package', '--stage', 'dev', '--package', out], {
    cwd: ROOT,
    stdio: 'ignore',
  });
  const root = join(work, 'shipped-api');
  const workerRoot = join(work, 'shipped-worker');
  execFileSync('unzip', ['-q', '-o', join(out, 'generateImage.zip'), '-d', root]);
  execFileSync('unzip', ['-q', '-o', join(out, 'runImageJob.zip'), '-d', workerRoot]);
  shipped = {
    root,
    handler: join(root, 'functions/generate-image/handler.js'),
    zipBytes: (await stat(join(out, 'generateImage.zip'))).size,
    worker: {
      root: workerRoot,
      handler: join(workerRoot, 'functions/run-image-job/handler.js'),
      zipBytes: (await stat(join(out, 'runImageJob.zip'))).size,
    },
  };
  return shipped;
}

/**
 * The design's bare handler (openai + client-s3 + middy core + JSON body parser), built as one minified ES
 * module: the baseline every cold-start ratio is taken against. `body` is the handler's own code.
 */
async function bareHandler(name, body) {
  const entry = join(work, `${name}-entry.mjs`);
  const outfile = join(work, `${name}.mjs`);
  await writeFile(
    entry,
    `import OpenAI from 'openai'; import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
     import middy from '@middy/core'; import jsonBodyParser from '@middy/http-json-body-parser';
     ${body}`,
  );
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    mainFields: ['module', 'main'],
    logLevel: 'error',
    nodePaths: [join(ROOT, 'node_modules')],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return outfile;
}

/** The bytes a cold start reads: the handler and the chunks it imports statically (not those behind import()). */
function bytesLoadedAtImport(file) {
  let total = 0;
  for (const read of staticImportsOf(dirname(file), basename(file))) total += statSync(join(dirname(file), read)).size;
  return total;
}

const the3MbPng = makePng(1536, 1024, 0.63);
const providerBody = JSON.stringify({ created: 1, data: [{ b64_json: the3MbPng.toString('base64') }] });
console.log(`test image: 1536x1024 PNG, ${the3MbPng.length} bytes; provider answer ${providerBody.length} bytes`);

// BENCH_ONLY=pipeline,cold,providers,first,memory,e2e,jobs,previews,keys,c2pa runs a subset.
const only = process.env.BENCH_ONLY?.split(',');
const wanted = (name) => !only || only.includes(name);
try {
  if (wanted('pipeline')) await pipelineOverhead();
  if (wanted('cold')) await coldStart();
  if (wanted('providers')) await providerSdks();
  if (wanted('first')) await importAndFirstRequest();
  if (wanted('memory')) await memoryPerRequest();
  if (wanted('e2e')) {
    const unsigned = await endToEnd('off');
    await endToEnd('sign', unsigned);
  }
  if (wanted('jobs')) await jobs();
  if (wanted('previews')) await previews();
  if (wanted('keys')) await issuedKeyLookup();
  if (wanted('c2pa')) await contentCredentials();
} finally {
  await rm(work, { recursive: true, force: true });
}

console.table(results.map((r) => ({ ...r, met: r.met === null ? '-' : r.met ? 'yes' : 'NO' })));
const machine = `${process.arch}, ${(await import('node:os')).cpus().length} cores, Node ${process.version}`;
console.log(`machine: ${machine}`);
await writeFile(join(ROOT, 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('written to bench/results.json');

/**
 * Milliseconds a fresh Node process takes to import `file` (an ES module), after importing `preload` (untimed) if
 * given, e.g. a provider's chunk on its first use once the handler is in.
 */
function timedImport(file, env, preload) {
  const probe =
    (preload ? `await import(${JSON.stringify(preload)}); ` : '') +
    `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { env, encoding: 'utf8', cwd: ROOT });
  if (run.status !== 0) throw new Error(run.stderr);
  return Number(run.stdout);
}

/**
 * Content Credentials as the worker ships them: their chunk (c2pa-rs in WebAssembly, inlined) loaded by a fresh
 * process, the first read (compiling the module) and a warm one of a C2PA-signed JPEG; the first signature (the key
 * parsed) and a warm one of a 3 MB PNG with the C2PA test certificate; the memory they add, and the worker's zip.
 */
async function contentCredentials() {
  const { worker } = await shippedHandler();
  const chunksDir = join(worker.root, 'functions/run-image-job/chunks');
  const chunk = (await readdir(chunksDir)).find((file) => /^content-credentials-.*\.js$/.test(file));
  if (!chunk) throw new Error('no Content Credentials chunk in the worker zip');
  const large = join(work, 'c2pa-large.png');
  await writeFile(large, the3MbPng);
  const probe = `
    const { readFileSync } = await import('node:fs');
    const signed = readFileSync(${JSON.stringify(join(ROOT, 'tests/fixtures/c2pa-signed.jpg'))});
    const png = readFileSync(${JSON.stringify(large)});
    const pem = readFileSync(${JSON.stringify(TEST_C2PA_SIGNER_FILE)}, 'utf8');
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    const { C2paProvenanceReader, C2paSigner } = await import(${JSON.stringify(join(chunksDir, chunk))});
    const reader = new C2paProvenanceReader();
    const first = await reader.read(signed, 'image/jpeg');
    const t1 = performance.now();
    await reader.read(signed, 'image/jpeg');
    const t2 = performance.now();
    const signer = new C2paSigner({ credentials: async () => pem, generator: { name: 'bench', version: '0' } });
    const claim = { model: 'gpt-image-2', generatedAt: new Date(), inputs: [] };
    const out = await signer.sign(png, 'image/png', claim);
    const t3 = performance.now();
    const warm = [];
    for (let i = 0; i < 5; i += 1) {
      const t = performance.now();
      await signer.sign(png, 'image/png', claim);
      warm.push(performance.now() - t);
    }
    const t4 = performance.now();
    const check = await reader.read(out, 'image/png');
    const t5 = performance.now();
    if (first.valid !== true || check.valid !== true) { process.stderr.write(JSON.stringify({ first, check })); process.exit(1); }
    warm.sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({ firstMs: t1 - t0, warmMs: t2 - t1, firstSignMs: t3 - t2, warmSignMs: warm[2],
      readBackMs: t5 - t4, addedBytes: out.length - png.length, rssMb: (process.memoryUsage().rss - rss) / 1048576 }));`;
  const runs = [0, 1, 2].map(() => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', env: process.env });
    if (child.status !== 0) throw new Error(child.stderr);
    return JSON.parse(child.stdout);
  });
  const m = (field) => median(runs.map((r) => r[field]));
  const chunkBytes = (await stat(join(chunksDir, chunk))).size;
  console.log(
    `content credentials: first use ${m('firstMs').toFixed(0)} ms (load + compile + read), warm read ${m('warmMs').toFixed(1)} ms; ` +
      `first signature ${m('firstSignMs').toFixed(0)} ms, warm ${m('warmSignMs').toFixed(0)} ms + read-back ${m('readBackMs').toFixed(0)} ms ` +
      `(3 MB PNG, +${m('addedBytes')} bytes); +${m('rssMb').toFixed(0)} MB RSS; chunk ${(chunkBytes / 1048576).toFixed(1)} MB, ` +
      `worker zip ${(worker.zipBytes / 1048576).toFixed(2)} MB`,
  );
  record('content credentials: first use in a fresh worker (chunk load, WebAssembly compile, first read)', m('firstMs'), null, 'ms');
  record('content credentials: a warm read of a signed JPEG', m('warmMs'), null, 'ms');
  record('content credentials: first signature in a worker (key parsed, 3 MB PNG)', m('firstSignMs'), null, 'ms');
  record('content credentials: a warm signature of a 3 MB PNG', m('warmSignMs'), null, 'ms');
  record('content credentials: the read-back of a signed 3 MB PNG', m('readBackMs'), null, 'ms');
  record('content credentials: memory added by the reader and signer (RSS)', m('rssMb'), null, 'MB');
  record('worker zip with Content Credentials (the 3 MB budget is for the rest)', worker.zipBytes / 1048576, null, 'MB');
}

/**
 * An issued key's authentication (npm run keys): its first lookup on an instance (one GetItem on the local table),
 * a cached one (every later request within API_KEY_CACHE_SECONDS), and the refusal of a key whose checksum does not
 * hold (no read at all).
 */
async function issuedKeyLookup() {
  const outfile = join(work, 'keys.cjs');
  await bundle([join(ROOT, 'bench/keys-entry.ts')], outfile);
  const { startLocalDynamo, freePort, FIXED_CREDENTIALS, LOCAL_TABLE } = await import('../scripts/local-env.mjs');
  const dynamo = await startLocalDynamo({ port: await freePort() });
  try {
    const { makeKeyProbe } = (await import(outfile)).default;
    const probe = await makeKeyProbe(dynamo.endpoint, LOCAL_TABLE, { ...FIXED_CREDENTIALS });
    const forged = `${probe.key.slice(0, -1)}${probe.key.endsWith('A') ? 'B' : 'A'}`;
    const first = [];
    const cached = [];
    const refused = [];
    for (let round = 0; round < 30; round += 1) {
      const lookup = probe.fresh();
      let t = performance.now();
      if (!('principal' in (await lookup(probe.key)))) throw new Error('issued key refused');
      first.push(performance.now() - t);
      t = performance.now();
      await lookup(probe.key);
      cached.push(performance.now() - t);
      t = performance.now();
      if ((await lookup(forged)) !== undefined) throw new Error('forged key not refused on sight');
      refused.push(performance.now() - t);
    }
    console.log(
      `issued key: first lookup ${median(first).toFixed(2)} ms (one GetItem, local table), cached ${median(cached).toFixed(3)} ms, bad checksum ${median(refused).toFixed(3)} ms`,
    );
    record('issued key: first lookup on an instance (one GetItem on the local table)', median(first), null, 'ms');
    record('issued key: a cached lookup (within API_KEY_CACHE_SECONDS)', median(cached), null, 'ms');
    record('issued key: a key whose checksum does not hold, refused without a read', median(refused), null, 'ms');
  } finally {
    await dynamo.close();
  }
}

/** 1. The handler's own work on a ~3 MB answer, against just parsing, decoding and hashing it. */
async function pipelineOverhead() {
  const outfile = join(work, 'pipeline.cjs');
  await bundle([join(ROOT, 'bench/pipeline-entry.ts')], outfile);
  // Logs and metrics (EMF lines on stdout) are silenced, as they are in the memory probe below.
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const { makePipeline } = (await import(outfile)).default;
  const bodyBytes = Buffer.from(providerBody);
  const pipeline = makePipeline(() => bodyBytes);
  const floor = () => {
    const parsed = JSON.parse(providerBody);
    const bytes = Buffer.from(parsed.data[0].b64_json, 'base64');
    return sha256(bytes);
  };
  const response = await pipeline();
  if (response.statusCode !== 201) throw new Error(`pipeline answered ${response.statusCode}: ${response.body}`);
  const pipelineMs = [];
  const floorMs = [];
  // Interleaved so that both see the same machine state; warm-up rounds are discarded.
  for (let round = 0; round < 80; round += 1) {
    let t = performance.now();
    floor();
    if (round >= 10) floorMs.push(performance.now() - t);
    t = performance.now();
    await pipeline();
    if (round >= 10) pipelineMs.push(performance.now() - t);
  }
  console.log(`pipeline: median ${median(pipelineMs).toFixed(2)} ms, floor (parse+decode+hash): ${median(floorMs).toFixed(2)} ms`);
  record('warm request: pipeline vs its parse+decode+hash floor (3 MB PNG)', median(pipelineMs) / median(floorMs), 1.1, 'x');
}

/** 3. Import of the shipped handler in a fresh process, against the design's bare handler. */
async function coldStart() {
  const { handler: handlerFile } = await shippedHandler();
  const baselineFile = await bareHandler(
    'baseline',
    `const openai = new OpenAI({ apiKey: 'x' }); const s3 = new S3Client({ region: 'us-east-1' });
     export const handler = middy().use(jsonBodyParser()).handler(async () => ({ statusCode: 200, body: String(Boolean(openai && s3 && PutObjectCommand)) }));`,
  );
  const env = {
    ...process.env,
    IMAGE_BUCKET: 'b',
    PUBLIC_BASE_URL: 'https://cdn.example.test',
    API_KEY_HASHES: `p:${'0'.repeat(64)}`,
    IMAGE_PROVIDER: 'openai',
    OPENAI_API_KEY: 'x',
    STATE_TABLE: 'state',
    AWS_REGION: 'us-east-1',
    ...AS_DEPLOYED,
  };
  const importMs = (file) => timedImport(file, env);
  const handlerMs = [];
  const baselineMs = [];
  for (let round = 0; round < 31; round += 1) {
    handlerMs.push(importMs(handlerFile));
    baselineMs.push(importMs(baselineFile));
  }
  const handlerBytes = bytesLoadedAtImport(handlerFile);
  const baselineBytes = (await stat(baselineFile)).size;
  console.log(
    `cold import: handler ${median(handlerMs).toFixed(1)} ms (${handlerBytes} bytes loaded at import), ` +
      `bare handler ${median(baselineMs).toFixed(1)} ms (${baselineBytes} bytes)`,
  );
  record(
    'cold import of the shipped handler vs the bare handler (openai + client-s3 + middy + JSON parser)',
    median(handlerMs) / median(baselineMs),
    1.25,
    'x',
  );
  record('bytes loaded at import (handler + its static chunks) vs the bare handler', handlerBytes / baselineBytes, 1.25, 'x');
  record('API function zip', (await shippedHandler()).zipBytes / 1024 / 1024, 3, 'MB');
  // The worker's budget is for everything but the Content Credentials chunk (c2pa-rs in WebAssembly, 4.7 MB
  // compressed, loaded by its first image), as the package test holds it; the whole zip is the c2pa section's row.
  const worker = (await shippedHandler()).worker;
  const c2paCompressed = execFileSync('unzip', ['-v', join(work, 'package', 'runImageJob.zip')], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => /chunks\/content-credentials-[^/]+\.js$/.test(line))
    .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[2]), 0);
  if (c2paCompressed === 0) throw new Error('no Content Credentials chunk in the worker zip');
  record('worker function zip, less the Content Credentials chunk', (worker.zipBytes - c2paCompressed) / 1024 / 1024, 3, 'MB');
}

/**
 * 3a. What the optional providers cost, and who pays it. Only the worker generates on AWS, so only its package has
 * them; their SDKs are in chunks of their own, loaded by the first job for one of their models: measured, that
 * load in a fresh process after the worker handler's own import. A cold start that does not use them does not
 * read them.
 */
async function providerSdks() {
  const env = {
    ...process.env,
    IMAGE_BUCKET: 'b',
    PUBLIC_BASE_URL: 'https://cdn.example.test',
    API_KEY_HASHES: `p:${'0'.repeat(64)}`,
    IMAGE_PROVIDER: 'offline',
    AWS_REGION: 'us-east-1',
    ...AS_DEPLOYED,
  };
  const { handler: handlerFile, root } = (await shippedHandler()).worker;
  const chunks = execFileSync('ls', [join(root, 'functions/run-image-job/chunks')], { encoding: 'utf8' }).split('\n');
  for (const [label, prefix] of [
    ['Gemini (@google/genai)', 'gemini-image-generator-'],
    ['Bedrock (@aws-sdk/client-bedrock-runtime)', 'bedrock-image-generator-'],
  ]) {
    const chunk = chunks.find((name) => name.startsWith(prefix) && name.endsWith('.js'));
    if (!chunk) throw new Error(`no ${prefix} chunk in the package`);
    const file = join(root, 'functions/run-image-job/chunks', chunk);
    const loads = [];
    for (let round = 0; round < 15; round += 1) loads.push(timedImport(file, env, handlerFile));
    const own = bytesLoadedAtImport(file);
    console.log(`${label}: first use loads its chunks (${(own / 1024).toFixed(0)} KB) in ${median(loads).toFixed(1)} ms`);
    record(`${label}: load of its chunks on first use (fresh worker process, handler already in)`, median(loads), null, 'ms');
  }
}

/**
 * 3b. A fresh process's import plus its first request, against a bundle of openai + @aws-sdk/client-s3 importing
 * and doing one generation and one PutObject: the first request pays the SDKs' first use (middleware, endpoint
 * resolution), quota and job writes, moderation and the two PUTs. Local servers: s3rver, dynalite, a zero-delay
 * provider; jobs inline (no worker), an API key, an Idempotency-Key. Beside them, the floor of that request: the same
 * calls made directly (`directCalls`), to show how much of the ratio the calls themselves take.
 */
async function importAndFirstRequest() {
  // The stand-ins each in a process of their own, as DynamoDB, S3 and the provider are separate services (the
  // target row); and, for comparison, all of them in this process, where concurrent calls queue on one thread.
  await firstRequestWith('own-processes');
  await firstRequestWith('one-process');
  // The heaviest first request: a JWT caller (jose loaded from node_modules, the key set fetched) and the
  // provider key read from SSM, on top of the rest.
  await firstRequestWith('own-processes', 'jwt-ssm');
}

/** Starts a stand-in (`s3`, `dynamo`, `provider`, `jwks`, `ssm`) in a child process; answers its endpoint and a stop function. */
async function standIn(kind, argument = join(work, `s3-${kind}`)) {
  const child = spawn(process.execPath, [join(ROOT, 'bench/server-process.mjs'), kind, argument], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(JSON.parse(out).endpoint);
    });
    child.on('exit', (code) => reject(new Error(`${kind} stand-in exited with ${code}`)));
  });
  return { endpoint, close: async () => void child.kill() };
}

async function firstRequestWith(hosting, caller = 'api-key') {
  const png = makePng(1024, 1024, 0.3);
  const { handler: handlerFile } = await shippedHandler();
  const baselineFile = await bareHandler(
    'first-baseline',
    `export const run = middy().use(jsonBodyParser()).handler(async ({ body: { baseURL, endpoint, key } }) => {
       const openai = new OpenAI({ apiKey: 'x', baseURL });
       const answer = await openai.images.generate({ model: 'gpt-image-2', prompt: 'a lighthouse' });
       const bytes = Buffer.from(answer.data[0].b64_json, 'base64');
       const s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });
       await s3.send(new PutObjectCommand({ Bucket: 'local-images', Key: key, Body: bytes, ContentType: 'image/png' }));
     });`,
  );
  const { startLocalS3, startLocalDynamo, freePort } = await import('../scripts/local-env.mjs');
  const separate = hosting === 'own-processes';
  const floorFile = separate ? await bareHandler(`first-floor-${caller}`, directCalls(caller === 'jwt-ssm')) : undefined;
  const provider = separate
    ? await standIn('provider').then((p) => ({ baseUrl: p.endpoint, close: p.close }))
    : await startZeroDelayProvider(png);
  const s3 = separate
    ? await standIn('s3').then((p) => ({ endpoint: p.endpoint, server: { close: p.close } }))
    : await startLocalS3({ port: await freePort(), directory: join(work, 's3') });
  const dynamo = separate ? await standIn('dynamo') : await startLocalDynamo({ port: await freePort() });
  const jwt = caller === 'jwt-ssm' ? await jwtCaller() : undefined;
  const env = {
    ...process.env,
    IMAGE_BUCKET: 'local-images',
    PUBLIC_BASE_URL: `${s3.endpoint}/local-images`,
    S3_ENDPOINT: s3.endpoint,
    IMAGE_PROVIDER: 'openai',
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: provider.baseUrl,
    MODERATION: 'fail-closed',
    STATE_TABLE: 'local-state',
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    DAILY_IMAGE_LIMIT: '1000000',
    DAILY_SPEND_LIMIT_USD: '1000000',
    GLOBAL_DAILY_SPEND_LIMIT_USD: '1000000',
    API_KEY_HASHES: `bench:${sha256(Buffer.from('bench-first-request-key'))}`,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    ...AS_DEPLOYED,
    POWERTOOLS_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...(jwt?.env ?? {}),
  };
  const authorization = jwt ? `Bearer ${jwt.token}` : 'Bearer bench-first-request-key';
  const handlerProbe = (round, file = handlerFile) => `
    const t = performance.now();
    const { handler } = await import(${JSON.stringify(file)});
    const now = Date.now();
    const event = { version: '2.0', routeKey: 'POST /images', rawPath: '/images', rawQueryString: '',
      headers: { authorization: '${authorization}', 'content-type': 'application/json', 'idempotency-key': 'first-${round}' },
      requestContext: { http: { method: 'POST', path: '/images' }, requestId: 'first-${round}', timeEpoch: now },
      body: JSON.stringify({ prompt: 'a lighthouse ${round}', quality: 'low' }), isBase64Encoded: false };
    const context = { awsRequestId: 'first-${round}', functionName: 'bench', getRemainingTimeInMillis: () => 29000 };
    handler(event, context).then((response) => {
      if (response.statusCode !== 201) { process.stderr.write(String(response.statusCode) + response.body); process.exit(1); }
      process.stdout.write(String(performance.now() - t));
      process.exit(0);
    });`;
  // The bare handler's probe and the floor's: import the bundle, call its handler with these fields as the JSON body.
  const bareProbe = (file, fields) => `
    const t = performance.now();
    const { run } = await import(${JSON.stringify(file)});
    const body = JSON.stringify(${JSON.stringify(fields)});
    run({ headers: { 'content-type': 'application/json' }, body }, {}).then(() => {
      process.stdout.write(String(performance.now() - t));
      process.exit(0);
    }, (error) => {
      process.stderr.write(String(error?.stack ?? error));
      process.exit(1);
    });`;
  const baselineProbe = (round) =>
    bareProbe(baselineFile, { baseURL: provider.baseUrl, endpoint: s3.endpoint, key: `images/baseline/${round}.png` });
  const floorProbe = (round) =>
    bareProbe(floorFile, {
      baseURL: provider.baseUrl,
      endpoint: s3.endpoint,
      dynamoEndpoint: dynamo.endpoint,
      token: jwt?.token ?? '',
      key: `floor-${round}`,
    });
  // Asynchronous: the local servers live in this process and must keep answering while the probe runs.
  // BENCH_CPU_PROFILE=dir writes each handler probe's V8 profile there (node --cpu-prof), to see where it goes.
  const profile = process.env.BENCH_CPU_PROFILE;
  const timed = (script, profiled = false) =>
    new Promise((resolve, reject) => {
      const flags = profiled && profile ? ['--cpu-prof', '--cpu-prof-dir', join(profile, caller), '--cpu-prof-interval', '100'] : [];
      const child = spawn(process.execPath, [...flags, '--input-type=module', '-e', script], { env });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.stderr.on('data', (chunk) => (err += chunk));
      child.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(err + out.slice(0, 3000)))));
    });
  // BENCH_ALT=<another build's handler.js> probes that build too, in each round beside this one, and prints the paired
  // difference: how a change is judged, the ratio moving by about 5% from run to run. The two take turns going first:
  // with BENCH_ALT always second, swapping the two builds moved their paired difference by up to 35 ms (docs/performance.md).
  // BENCH_ROUNDS: 15 by default.
  const alternative = process.env.BENCH_ALT;
  const handlerMs = [];
  const alternativeMs = [];
  const baselineMs = [];
  const floorMs = [];
  const probeAlternative = async (round) => alternativeMs.push(await timed(handlerProbe(round + 1000, alternative)));
  // The floor takes turns with the handler too (after it in even rounds, before it in odd ones); the bare handler,
  // which every ratio is taken against, is probed last, as before.
  const probeFloor = async (round) => floorFile && floorMs.push(await timed(floorProbe(round)));
  try {
    for (let round = 0; round < Number(process.env.BENCH_ROUNDS ?? 15); round += 1) {
      if (round % 2 === 1) await probeFloor(round);
      if (alternative && round % 2 === 1) await probeAlternative(round);
      handlerMs.push(await timed(handlerProbe(round), true));
      if (alternative && round % 2 === 0) await probeAlternative(round);
      if (round % 2 === 0) await probeFloor(round);
      baselineMs.push(await timed(baselineProbe(round)));
    }
  } finally {
    await Promise.all([provider.close(), s3.server.close(), dynamo.close(), jwt?.close()]);
  }
  console.log(
    `import + first request (${caller}, stand-ins in ${hosting}): handler ${median(handlerMs).toFixed(1)} ms, openai+client-s3 import + generation + PutObject ${median(baselineMs).toFixed(1)} ms`,
  );
  const ratio = median(handlerMs) / median(baselineMs);
  if (alternative) {
    const differences = handlerMs.map((ms, round) => ms - alternativeMs[round]);
    console.log(
      `BENCH_ALT (${caller}, ${hosting}): ${(median(alternativeMs) / median(baselineMs)).toFixed(3)}x against this build's ${ratio.toFixed(3)}x; ` +
        `paired (this build - BENCH_ALT) median ${median(differences).toFixed(1)} ms, BENCH_ALT faster in ${differences.filter((ms) => ms > 0).length} of ${differences.length} rounds`,
    );
  }
  if (caller === 'jwt-ssm') record('the same with a JWT caller and the provider key read from SSM', ratio, 1.5, 'x');
  else if (separate)
    record("fresh process: import plus first request vs the bare handler's import plus one generation and one PutObject", ratio, 1.5, 'x');
  else record("the same, with every stand-in in the benchmark's own process (calls at once queue on one thread)", ratio, null, 'x');
  if (!floorFile) return;
  const who = caller === 'jwt-ssm' ? 'a JWT caller and SSM' : 'an API key';
  console.log(
    `the same calls made directly (${caller}): ${median(floorMs).toFixed(1)} ms, ${(median(floorMs) / median(baselineMs)).toFixed(3)}x the bare handler; ` +
      `the handler ${(median(handlerMs) / median(floorMs)).toFixed(3)}x that floor`,
  );
  record(
    `the floor with ${who}: the first request's calls made directly, nothing around them, vs the bare handler`,
    median(floorMs) / median(baselineMs),
    null,
    'x',
  );
  record(
    `the handler vs that floor (${who}): what authentication, validation, Powertools and the record add`,
    median(handlerMs) / median(floorMs),
    null,
    'x',
  );
}

/**
 * The floor of the first request: the bare handler's SDKs plus the DynamoDB client making the calls the handler makes,
 * in its order, directly: the idempotency claim with the caller's and the global quota counters, moderation, the
 * job, the generation, the image and record PUTs, the settlement with the job's success, the idempotency record.
 * For a JWT caller, jose's remote key set and the SSM read are started at init, as the handler's warmUp does, and the
 * token verified before the first call. Each call keeps a promise (docs/performance.md); what the floor leaves out is
 * everything around them: the API key's check, validation, prompt hardening, Powertools, logging, the image's
 * verification and its record's content.
 */
function directCalls(jwt) {
  const init = jwt
    ? `import { createRemoteJWKSet, jwtVerify } from 'jose';
       import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
       const keySet = createRemoteJWKSet(new URL(process.env.JWT_JWKS_URL));
       const keysRead = keySet.reload();
       const secret = new SSMClient({ region: process.env.AWS_REGION })
         .send(new GetParameterCommand({ Name: process.env.OPENAI_API_KEY_PARAMETER, WithDecryption: true }));`
    : '';
  const authenticate = jwt
    ? `await keysRead;
       await jwtVerify(token, keySet, { issuer: process.env.JWT_ISSUER, audience: process.env.JWT_AUDIENCE, algorithms: ['ES256'] });
       const apiKey = (await secret).Parameter.Value;`
    : `const apiKey = 'x';`;
  return `import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
    ${init}
    export const run = middy().use(jsonBodyParser()).handler(async ({ body: { baseURL, endpoint, dynamoEndpoint, token, key } }) => {
      ${authenticate}
      const TableName = 'local-state';
      const dynamo = new DynamoDBClient({ region: 'us-east-1', endpoint: dynamoEndpoint });
      const openai = new OpenAI({ apiKey, baseURL });
      const s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });
      const add = (pk, micros) => dynamo.send(new UpdateItemCommand({ TableName, Key: { pk: { S: pk } },
        UpdateExpression: 'ADD spend :m', ExpressionAttributeValues: { ':m': { N: String(micros) } } }));
      const set = (pk, status) => dynamo.send(new UpdateItemCommand({ TableName, Key: { pk: { S: pk } },
        UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': { S: status } } }));
      await Promise.all([
        dynamo.send(new PutItemCommand({ TableName, Item: { pk: { S: 'idempotency#' + key }, status: { S: 'INPROGRESS' } },
          ConditionExpression: 'attribute_not_exists(pk)' })),
        add('quota#' + key, 5000),
        add('quota#global', 5000),
      ]);
      await openai.moderations.create({ model: 'omni-moderation-latest', input: 'a lighthouse' });
      await dynamo.send(new PutItemCommand({ TableName, Item: { pk: { S: 'job#' + key }, status: { S: 'running' }, prompt: { S: 'a lighthouse' } },
        ConditionExpression: 'attribute_not_exists(pk)' }));
      const answer = await openai.images.generate({ model: 'gpt-image-2', prompt: 'a lighthouse' });
      const bytes = Buffer.from(answer.data[0].b64_json, 'base64');
      await Promise.all([
        s3.send(new PutObjectCommand({ Bucket: 'local-images', Key: 'images/floor/' + key + '.png', Body: bytes, ContentType: 'image/png' })),
        s3.send(new PutObjectCommand({ Bucket: 'local-images', Key: 'records/floor/' + key + '.json', Body: JSON.stringify({ key }),
          ContentType: 'application/json' })),
      ]);
      await Promise.all([add('quota#' + key, -1000), set('job#' + key, 'succeeded')]);
      await set('idempotency#' + key, 'COMPLETED');
    });`;
}

/**
 * A JWT caller for the first-request probe: an ES256 key, its key set served by a stand-in, a token for it, and the
 * provider key in an SSM stand-in.
 */
async function jwtCaller() {
  const { SignJWT, exportJWK, generateKeyPair } = await import('jose');
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' }] });
  const [keys, ssm] = [await standIn('jwks', jwks), await standIn('ssm')];
  const issuer = 'https://issuer.bench.test';
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
    .setSubject('bench-user')
    .setIssuer(issuer)
    .setAudience('durable-image-api')
    .setExpirationTime('1h')
    .sign(privateKey);
  return {
    token,
    env: {
      JWT_ISSUER: issuer,
      JWT_AUDIENCE: 'durable-image-api',
      JWT_JWKS_URL: keys.endpoint,
      OPENAI_API_KEY: '',
      OPENAI_API_KEY_PARAMETER: '/bench/openai-api-key',
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    },
    close: async () => Promise.all([keys.close(), ssm.close()]),
  };
}

/** 4. Peak memory of one request against the image size, in fresh processes. */
async function memoryPerRequest() {
  const outfile = join(work, 'pipeline.cjs');
  await bundle([join(ROOT, 'bench/pipeline-entry.ts')], outfile);
  const sizes = [
    ['3 MB', makePng(1536, 1024, 0.63)],
    ['20 MiB (largest accepted)', makePng(2900, 2400, 1, 11)],
  ];
  const growths = [];
  for (const [label, png] of sizes) {
    if (png.length > 20 * 1024 * 1024) throw new Error(`test image too large: ${png.length}`);
    const bodyFile = join(work, `body-${png.length}.json`);
    await writeFile(bodyFile, JSON.stringify({ created: 1, data: [{ b64_json: png.toString('base64') }] }));
    // Peak RSS is read from Linux's VmHWM. The first request of a fresh process also pays for growing the V8
    // heap once, so two numbers: the first request's absolute peak (what a cold 256 MB function must fit), and
    // the growth of a warm request, after resetting the high-water mark (clear_refs 5), per byte of image.
    const probe = String.raw`
      process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
      const { makePipeline } = require(${JSON.stringify(outfile)});
      // The provider's answer is served over loopback HTTP from a buffer loaded before the baseline, so the
      // request's growth is what the OpenAI SDK, undici and our code allocate for it.
      const answer = readFileSync(${JSON.stringify(bodyFile)});
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer));
      });
      server.listen(0, '127.0.0.1', async () => {
        const run = makePipeline(() => Buffer.alloc(0), 'http://127.0.0.1:' + server.address().port + '/v1');
        const warm = makePipeline(() => Buffer.from(JSON.stringify({ data: [{ b64_json: ${JSON.stringify(makePng(16, 16).toString('base64'))} }] })));
        await warm(); global.gc(); global.gc();
        const coldBefore = kb('VmRSS');
        const first = await run();
        const coldPeak = kb('VmHWM');
        global.gc(); global.gc();
        writeFileSync('/proc/self/clear_refs', '5');
        const before = kb('VmRSS');
        const second = await run();
        const peak = kb('VmHWM');
        process.stdout.write(JSON.stringify({ status: Math.max(first.statusCode, second.statusCode), coldBefore, coldPeak, before, peak }));
        server.close();
        process.exit(0);
      });`;
    // Five: a warm request's peak moves with the collector's timing (the socket's 64 KiB chunks of the answer are
    // freed when it next runs, during the read or after it): 0.7x to 2.5x the image for 20 MiB over 18 processes on
    // 2026-12-07, median 1.7x. The median of three went over 2x in two full runs of five that day.
    const runs = probeIn(5, probe, (parsed) => {
      if (parsed.status !== 201) throw new Error(`memory probe answered ${parsed.status}`);
    });
    runs.sort((a, b) => a.peak - a.before - (b.peak - b.before));
    const { before, peak, coldBefore, coldPeak } = runs[Math.floor(runs.length / 2)];
    const growth = peak - before;
    const ratio = growth / png.length;
    growths.push({ size: png.length, growth });
    // The probe process also holds the test server's copy of the answer (loaded before the baseline); a Lambda
    // does not, so it is taken out of the absolute peak.
    const answerBytes = (await stat(bodyFile)).size;
    console.log(
      `memory, ${label} (${png.length} bytes): first request rss ${mb(coldBefore)} -> peak ${mb(coldPeak)} MB ` +
        `(${mb(coldPeak - answerBytes)} MB without the test server's answer); warm request rss ${mb(before)} -> ` +
        `peak ${mb(peak)} MB, growth ${mb(growth)} MB = ${ratio.toFixed(2)}x the image`,
    );
    record(`peak memory growth of a warm request / image size, ${label}`, ratio, 2, 'x');
    if (label.startsWith('20 MiB')) {
      record(
        'peak RSS serving the largest image (20 MiB) in a fresh process, of a 256 MB function',
        (coldPeak - answerBytes) / 1024 / 1024,
        256,
        'MB',
      );
    }
  }
  const [small, large] = growths;
  const slope = (large.growth - small.growth) / (large.size - small.size);
  console.log(
    `memory per extra byte of image (slope 3 MB -> 20 MiB): ${slope.toFixed(2)}x; fixed part ${mb(small.growth - slope * small.size)} MB`,
  );
}

/**
 * 5. Previews. Memory: an image generated through the generator the composition root wires for OpenAI, streamed
 * (the SDK's event-stream parser, two small partial images first) and, for comparison, answered as JSON (the
 * adapter's raw path), as growth of a warm call over the image's size, median of three fresh processes, and the
 * first call's absolute peak. Two images: 20 MiB (the largest accepted as JSON; streamed, it would not fit a 256 MB
 * worker, which is why previews stop at 2048x1536) and the largest RGB PNG of 2048x1536 (9 MB). Latency: from the provider writing a partial image to a caller polling GET /images/{id} every 20 ms
 * seeing its URL, on the local stack with its worker (`npm start`), 3 previews per image.
 */
async function previews() {
  const outfile = join(work, 'stream.cjs');
  await bundle([join(ROOT, 'bench/stream-entry.ts')], outfile);
  for (const [imageLabel, png] of [
    ['20 MiB', makePng(2900, 2400, 1, 11)],
    ['9 MB (2048x1536, the largest size with previews)', makePng(2048, 1536, 1, 5)],
  ]) {
    await streamingMemory(outfile, imageLabel, png);
  }
  await previewLatency();
}

async function streamingMemory(outfile, imageLabel, png) {
  const partial = makePng(64, 64);
  const frame = sseFrame;
  const sseFile = join(work, 'stream.sse');
  await writeFile(
    sseFile,
    [0, 1]
      .map((index) => frame('image_generation.partial_image', { b64_json: partial.toString('base64'), partial_image_index: index }))
      .join('') + frame('image_generation.completed', { b64_json: png.toString('base64'), usage: { input_tokens: 1, output_tokens: 1 } }),
  );
  const jsonFile = join(work, 'answer.json');
  await writeFile(jsonFile, JSON.stringify({ created: 1, data: [{ b64_json: png.toString('base64') }], usage: { output_tokens: 1 } }));
  for (const [label, previewsAsked] of [
    ['streamed with 2 previews (SDK event stream)', 2],
    ['answered as JSON, no previews (raw path)', 0],
  ]) {
    const probe = String.raw`
      process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
      const { makeGeneration } = require(${JSON.stringify(outfile)});
      const answer = readFileSync(${JSON.stringify(previewsAsked > 0 ? sseFile : jsonFile)});
      const server = createServer((req, res) => {
        const parts = [];
        req.on('data', (part) => parts.push(part));
        req.on('end', () => {
          const streamed = JSON.parse(Buffer.concat(parts).toString('utf8')).stream === true;
          if (streamed) res.writeHead(200, { 'content-type': 'text/event-stream' }).end(answer);
          else res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer);
        });
      });
      server.listen(0, '127.0.0.1', async () => {
        const run = makeGeneration('http://127.0.0.1:' + server.address().port + '/v1', ${previewsAsked});
        await run();
        // The first call's absolute peak, less the server's copy of the answer (a Lambda does not hold one).
        const coldPeak = kb('VmHWM') - answer.length;
        global.gc(); global.gc();
        writeFileSync('/proc/self/clear_refs', '5');
        const before = kb('VmRSS');
        const bytes = await run();
        const peak = kb('VmHWM');
        process.stdout.write(JSON.stringify({ bytes, before, peak, coldPeak }));
        server.close();
        process.exit(0);
      });`;
    const runs = probeIn(3, probe, (parsed) => {
      if (parsed.bytes !== png.length) throw new Error(`stream probe decoded ${parsed.bytes} bytes, not ${png.length}`);
    });
    const ratios = runs.map(({ before, peak }) => (peak - before) / png.length).sort((a, b) => a - b);
    const coldPeaks = runs.map(({ coldPeak }) => coldPeak).sort((a, b) => a - b);
    console.log(
      `previews memory, ${imageLabel} ${label}: growth ${ratios.map((r) => r.toFixed(2)).join(', ')}x the image; ` +
        `first call's peak RSS ${coldPeaks.map(mb).join(', ')} MB`,
    );
    record(`peak memory growth of a warm generation / image size, ${imageLabel}, ${label}`, ratios[1], previewsAsked > 0 ? 2 : null, 'x');
    record(`peak RSS of a fresh process's first generation, ${imageLabel}, ${label}`, coldPeaks[1] / 1024 / 1024, 256, 'MB');
  }
}

async function previewLatency() {
  // Latency: a 256x256 final image, partial images 300 ms apart, polled every 20 ms.
  const provider = await startStreamingProvider(makePng(256, 256), makePng(256, 256, 0.5, 3), 300);
  const stack = await startStack({ providerBaseUrl: provider.baseUrl });
  try {
    const api = `http://127.0.0.1:${stack.ports.api}`;
    const auth = { authorization: 'Bearer bench-local-key' };
    const delays = [];
    for (let image = 0; image < 10; image += 1) {
      const accepted = await fetch(`${api}/images`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', prefer: 'respond-async' },
        body: JSON.stringify({ prompt: `preview latency ${image}`, quality: 'low', previews: 3 }),
      });
      const { id } = await accepted.json();
      const seenAt = new Map();
      for (let status = 'queued'; status === 'queued' || status === 'running'; ) {
        const resource = await (await fetch(`${api}/images/${id}`, { headers: auth })).json();
        status = resource.status;
        for (const preview of resource.previews ?? []) if (!seenAt.has(preview.index)) seenAt.set(preview.index, Date.now());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const sent = provider.partialsSentAt.at(-1) ?? [];
      for (const [index, at] of seenAt) if (sent[index] !== undefined) delays.push(at - sent[index]);
    }
    delays.sort((a, b) => a - b);
    if (delays.length < 20) throw new Error(`only ${delays.length} previews seen`);
    console.log(
      `previews: partial image sent -> its URL seen by a poller, ${delays.length} previews: p50 ${percentile(delays, 50)} ms, p90 ${percentile(delays, 90)} ms`,
    );
    record(
      'previews: provider sends a partial image -> a caller polling GET /images/{id} (every 20 ms) sees its URL, p50',
      percentile(delays, 50) / 1000,
      0.5,
      's',
    );
  } finally {
    await stack.stop();
    await provider.close();
  }
}

/**
 * 2. End to end on the local stack with a zero-delay provider, against a bare PutObject of the same bytes. Jobs run
 * inline (LOCAL_WORKER=off): this is the request's own work; the worker's hand-off is measured by jobs().
 * `contentCredentials`: `off` for the target row (the request's own work, comparable with the figures from before
 * images were signed); `sign` (the default) for what signing adds to it, given the `off` run's p50.
 */
async function endToEnd(contentCredentials, unsignedP50) {
  const provider = await startZeroDelayProvider(the3MbPng);
  const stack = await startStack({
    providerBaseUrl: provider.baseUrl,
    env: { LOCAL_WORKER: 'off', CONTENT_CREDENTIALS: contentCredentials },
  });
  const signed = contentCredentials === 'sign';
  if (!signed) record('npm start: ready (local stack up and serving)', stack.readyMs / 1000, 15, 's');
  try {
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: stack.s3Endpoint,
      forcePathStyle: true,
      credentials: { ...STACK_CREDENTIALS },
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 10_000 },
    });
    const digest = execFileSync('sha256sum', { input: the3MbPng }).toString().split(' ')[0];
    const dynamo = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${stack.ports.dynamo}`,
      credentials: { ...STACK_CREDENTIALS },
    });
    const checksum = Buffer.from(digest, 'hex').toString('base64');
    const put = (key, body) =>
      client.send(
        new PutObjectCommand({ Bucket: 'local-images', Key: key, Body: body, ContentType: 'image/png', ChecksumSHA256: checksum }),
      );
    // The floor: what a request cannot avoid, done directly on the same servers: one generation (the provider's
    // 4 MB answer read), the quota counters (principal and global, together), the job (created already claimed,
    // as an inline run writes it, then succeeded) and the two objects (image and record).
    const floor = async (round) => {
      const answer = await fetch(`${provider.baseUrl}/images/generations`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      await answer.arrayBuffer();
      const add = (pk) =>
        dynamo.send(
          new UpdateItemCommand({
            TableName: 'local-state',
            Key: { pk: { S: pk } },
            UpdateExpression: 'ADD images :one',
            ExpressionAttributeValues: { ':one': { N: '1' } },
          }),
        );
      await Promise.all([add(`bench#quota#${round}`), add(`bench#global#${round}`)]);
      const pk = { S: `bench#job#${round}` };
      await dynamo.send(new PutItemCommand({ TableName: 'local-state', Item: { pk, status: { S: 'running' } } }));
      await Promise.all([put(`images/bench/${round}.png`, the3MbPng), put(`records/bench/${round}.json`, Buffer.from('{"bench":true}'))]);
      await dynamo.send(
        new UpdateItemCommand({
          TableName: 'local-state',
          Key: { pk },
          UpdateExpression: 'SET #s = :d',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':d': { S: 'succeeded' } },
        }),
      );
    };
    const putMs = [];
    const floorMs = [];
    const e2eMs = [];
    for (let round = 0; round < 45; round += 1) {
      let t = performance.now();
      await put(`images/bench/${round}.png`, the3MbPng);
      if (round >= 5) putMs.push(performance.now() - t);
      t = performance.now();
      await floor(round);
      if (round >= 5) floorMs.push(performance.now() - t);
      t = performance.now();
      const response = await fetch(stack.apiUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `bench ${round}`, size: '1536x1024', quality: 'low' }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = await response.json();
      // Signed, the stored file is the provider's with this service's manifest added (its own sha256).
      const stored = signed ? body.provenance?.manifest === 'service' && body.provenance.valid === true : body.sha256 === digest;
      if (response.status !== 201 || !stored) throw new Error(`e2e answered ${response.status}: ${JSON.stringify(body.provenance)}`);
      if (round >= 5) e2eMs.push(performance.now() - t);
    }
    dynamo.destroy();
    if (signed) {
      console.log(
        `end to end, images signed (the default): p50 ${median(e2eMs).toFixed(1)} ms, ${(median(e2eMs) - unsignedP50).toFixed(1)} ms more than unsigned`,
      );
      record(
        'the same with Content Credentials signed (CONTENT_CREDENTIALS=sign, the default): p50 added',
        median(e2eMs) - unsignedP50,
        null,
        'ms',
      );
      client.destroy();
      return median(e2eMs);
    }
    const sortedE2e = [...e2eMs].sort((a, b) => a - b);
    console.log(
      `end to end p50 ${median(e2eMs).toFixed(1)} ms (p95 ${percentile(sortedE2e, 95).toFixed(1)}), ` +
        `same writes done directly p50 ${median(floorMs).toFixed(1)} ms, bare PutObject p50 ${median(putMs).toFixed(1)} ms`,
    );
    record(
      'end-to-end p50 (local stack, jobs inline, zero-delay provider, Content Credentials off) vs one generation and the same writes done directly',
      median(e2eMs) / median(floorMs),
      1.3,
      'x',
    );
    // The old floor, one bare PutObject, for comparison with earlier figures (no target: it leaves out the
    // provider, the quota and the job, which a request cannot).
    console.log(`end to end vs one bare PutObject: ${(median(e2eMs) / median(putMs)).toFixed(2)}x`);
    client.destroy();
    return median(e2eMs);
  } finally {
    await stack.stop();
    await provider.close();
  }
}

/**
 * 5. Images as jobs: the API hands the generation to the worker (asynchronous invoke through serverless-offline)
 * and polls for it. Measured on the local stack with the offline generator taking GENERATION_MS per image:
 * - polling overhead: from the moment the worker stored the image (the job's completedAt) to the caller holding
 *   the 201, as a ratio to the generation time;
 * - infrastructure cost of one image, from the measured durations and serverless.yml's memory sizes, against 1% of
 *   the cheapest image this service prices (gpt-image-2, low, 1536x1024).
 */
async function jobs() {
  const GENERATION_MS = 5_000;
  const ROUNDS = 4;
  const stack = await startStack({ env: { OFFLINE_DELAY_MS: String(GENERATION_MS) } });
  const overheads = [];
  const apiSeconds = [];
  const workerSeconds = [];
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      const started = Date.now();
      const response = await fetch(stack.apiUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `job bench ${round}`, quality: 'low' }),
        signal: AbortSignal.timeout(30_000),
      });
      const received = Date.now();
      const body = await response.json();
      if (response.status !== 201) throw new Error(`jobs bench answered ${response.status}: ${JSON.stringify(body)}`);
      overheads.push(received - Date.parse(body.completedAt));
      apiSeconds.push((received - started) / 1000);
      workerSeconds.push((Date.parse(body.completedAt) - Date.parse(body.createdAt)) / 1000);
    }
  } finally {
    await stack.stop();
  }
  const overheadMs = median(overheads);
  console.log(`jobs: generation ${GENERATION_MS} ms, stored -> 201 median ${overheadMs} ms (${overheads.join(', ')} ms)`);
  record(
    `polling overhead (image stored -> 201) / generation time, ${GENERATION_MS / 1000} s generations`,
    overheadMs / GENERATION_MS,
    0.15,
    'x',
  );

  // AWS prices, us-east-1, checked 2026-11-25: Lambda arm64 $0.0000133334 per GB-second and $0.20 per million
  // requests; DynamoDB on-demand $0.625 per million write and $0.125 per million read request units; S3 Standard
  // PUT $0.005 per 1,000.
  const PRICE = { gbSecond: 0.0000133334, request: 0.2e-6, write: 0.625e-6, read: 0.125e-6, put: 0.005e-3 };
  const functions = parseYaml(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')).functions;
  const apiGb = functions.generateImage.memorySize / 1024;
  const workerGb = functions.runImageJob.memorySize / 1024;
  const apiS = median(apiSeconds);
  const workerS = median(workerSeconds);
  // Writes: quota (principal, global), job create, claim, succeed, each job write once more in the owner index.
  // Reads: the API's polls (100 ms doubling to 500 ms over its wait), the worker's three job reads.
  let polls = 0;
  for (let waited = 0, pause = 100; waited < apiS * 1000; waited += pause, pause = Math.min(pause * 2, 500)) polls += 1;
  const usd =
    PRICE.gbSecond * (apiGb * apiS + workerGb * workerS) +
    2 * PRICE.request +
    (2 + 3 * 2) * PRICE.write +
    (polls + 3) * PRICE.read +
    2 * PRICE.put;
  // The cheapest image priced (lib/domain/pricing.ts): gpt-image-2, low, 1536x1024, 168 tokens at $30 per million.
  const cheapestImageUsd = 0.00504;
  console.log(
    `jobs: one image costs $${usd.toFixed(7)} of infrastructure (API ${apiGb * 1024} MB x ${apiS.toFixed(2)} s, ` +
      `worker ${workerGb * 1024} MB x ${workerS.toFixed(2)} s, ${polls} polls) = ${((usd / cheapestImageUsd) * 100).toFixed(2)}% of $${cheapestImageUsd}`,
  );
  record('infrastructure cost of one image / cheapest image price (5 s generation)', (usd / cheapestImageUsd) * 100, 1, '%');
  // Informational: the generation time at which both functions' GB-seconds alone reach the 1% line.
  const fixedUsd = usd - PRICE.gbSecond * (apiGb * apiS + workerGb * workerS);
  const breakEven = (cheapestImageUsd * 0.01 - fixedUsd) / (PRICE.gbSecond * (apiGb + workerGb));
  console.log(`jobs: the 1% line is reached by generations of about ${breakEven.toFixed(1)} s (API waiting throughout)`);
  record('generation time at which infrastructure reaches 1% of the cheapest image', breakEven, 10, 's', false);
}

function mb(bytes) {
  return (bytes / 1024 / 1024).toFixed(1);
}
