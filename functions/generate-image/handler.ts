import { createDependencies, warmUp } from '../../lib/composition-root.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { apiOrMisconfigured } from '../../lib/http/misconfigured.js';
import { deferWasmTierUp } from '../../lib/wasm-tiering.js';

// Set before the first fetch (the key set's, at init), or fetch's parser is recompiled during a cold start's first
// request (lib/wasm-tiering.ts).
deferWasmTierUp();

// Built once per container: config is parsed (a wrong value answers every request with the JSON 500 and names the
// variable in the log: lib/http/misconfigured.ts) and SDK clients are created here, then reused by every request
// this container serves. Serves every route of the API. On AWS the worker generates every image, so this function
// ships no Bedrock or Gemini adapter (inline-handler.ts is the local stage's, which runs jobs inline too).
export const handler = apiOrMisconfigured(() => {
  const deps = createDependencies(parseConfig(process.env));
  warmUp(deps);
  return createApiHandler(deps);
});
