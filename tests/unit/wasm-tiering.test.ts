import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const MODULE = fileURLToPath(new URL('../../lib/wasm-tiering.ts', import.meta.url));

/**
 * A fresh Node process that reads `answers` answers through fetch from a loopback server (headers as a provider's
 * answer has them), after deferWasmTierUp() when `deferred`; it prints V8's line for each WebAssembly function it
 * compiles. `--wasm-sync-tier-up` makes a recompile happen where it is decided, not later on a worker thread, so
 * the trace is complete when the process exits, with nothing to wait for. Node 24 strips the module's types itself.
 */
function compiledWith(answers: number, deferred: boolean): string {
  const script = `
    import { createServer } from 'node:http';
    if (${deferred}) (await import(${JSON.stringify(MODULE)})).deferWasmTierUp();
    const body = JSON.stringify({ results: [{ flagged: false, categories: {} }] });
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, {
        'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'openai-processing-ms': '12',
        'x-request-id': 'req_0123456789abcdef', 'x-ratelimit-remaining-requests': '4999',
      }).end(body));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = 'http://127.0.0.1:' + server.address().port + '/v1/moderations';
    for (let i = 0; i < ${answers}; i += 1) await (await fetch(url, { method: 'POST', body: '{}' })).json();
    server.close();
    server.closeAllConnections();`;
  const run = spawnSync(
    process.execPath,
    ['--trace-wasm-compilation-times', '--wasm-sync-tier-up', '--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script],
    { encoding: 'utf8', timeout: 20_000 },
  );
  if (run.status !== 0) throw new Error(`probe failed (${run.status}): ${run.stderr}`);
  return run.stdout;
}

const TURBOFAN = /Compiled function \S+ using TurboFan/;

describe('deferWasmTierUp', () => {
  it("keeps fetch's parser from being recompiled by TurboFan during a cold start's first answers", () => {
    // The reason for the setting, on this Node: with V8's default budget the second answer read through fetch
    // recompiles llhttp's WebAssembly. If this fails, a Node release changed that and lib/wasm-tiering.ts can go.
    expect(compiledWith(1, false)).not.toMatch(TURBOFAN);
    expect(compiledWith(2, false)).toMatch(TURBOFAN);
    // With the budget raised, five answers (a JWT caller's key set, moderation, the generation, with room to spare)
    // are parsed by the baseline code, and the recompile still comes on a warm container (after 20-25 of these
    // answers on Node 24.21): the budget defers it, it does not switch it off.
    expect(compiledWith(5, true)).not.toMatch(TURBOFAN);
    expect(compiledWith(60, true)).toMatch(TURBOFAN);
  });
});
