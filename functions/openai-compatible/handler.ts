import { createDependencies, warmUp } from '../../lib/composition-root.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { apiOrMisconfigured } from '../../lib/http/misconfigured.js';
import { deferWasmTierUp } from '../../lib/wasm-tiering.js';

// Set before the first fetch (the key set's, at init), or fetch's parser is recompiled during a cold start's first
// request (lib/wasm-tiering.ts).
deferWasmTierUp();

// The `/v1` function URL's entry (OpenAI's dialect only): its own router serves `/v1/*` and answers 404 for
// every other path, so a URL with no gateway in front opens none of the rest of the API. Built once per container.
// The URL's InvokeMode is RESPONSE_STREAM (serverless.yml): the handler follows Lambda's response-streaming contract
// (`awslambda.streamifyResponse`, the answer's status and headers through `awslambda.HttpResponseStream.from`, then
// its body), through middy's streamify execution mode, so `stream: true` sends each event as the image is made.
export const handler = apiOrMisconfigured(
  () => {
    const deps = createDependencies(parseConfig(process.env));
    warmUp(deps);
    return createApiHandler(deps, undefined, 'v1', { streamResponses: true });
  },
  { streamResponses: true },
);
