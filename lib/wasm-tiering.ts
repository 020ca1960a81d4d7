import { setFlagsFromString } from 'node:v8';

/**
 * V8's tiering budget for WebAssembly in the functions that answer callers: 15 times Node 24's default (13,000,000).
 *
 * Why: Node's fetch (undici, which the openai SDK and jose use) parses every answer with llhttp, compiled to
 * WebAssembly. V8 runs it with its baseline compiler (Liftoff) and recompiles its main function (33 KB of wasm, one
 * large state machine) with TurboFan once that function's budget is spent, which the default budget is by the second
 * answer a process reads. That recompile takes 90-135 ms of CPU on a V8 worker thread and 23 MB of compiler memory
 * (40 MB in all), in the middle of a cold container's first request: a JWT caller's key set, then the moderation
 * call; or moderation, then the generation. A Lambda function of 256 MB has a fraction of a vCPU, shared by that
 * thread and the request. With this budget the recompile comes on a warm container, after 20-30 small answers
 * (moderation's) or about 17 image answers of 1.4 MB, and the parser runs at Liftoff's speed until then.
 * Measured with `node --trace-wasm-compilation-times` and per-thread CPU from /proc: docs/performance.md and
 * tests/unit/wasm-tiering.test.ts (which fails once a Node release no longer does this, so the line can go).
 *
 * Node lists no V8 option of this kind among those NODE_OPTIONS accepts, so it is set here, with Node's
 * `v8.setFlagsFromString`, before the first fetch: the parser's instance takes its budget when the first connection
 * creates it (set after the first answer, it changes nothing). A Node whose V8 no longer knows the flag prints one
 * line to stderr and carries on. Not in the worker: its first job reads one answer before the image is stored (the
 * generation's), a second (a webhook's, the next job's) only after, and c2pa-rs's WebAssembly (Content Credentials)
 * is compute that should tier up as V8 decides.
 */
const WASM_TIERING_BUDGET = 200_000_000;

export function deferWasmTierUp(): void {
  setFlagsFromString(`--wasm-tiering-budget=${WASM_TIERING_BUDGET}`);
}
