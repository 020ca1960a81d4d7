import { createDependencies } from '../../lib/composition-root.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { apiOrMisconfigured } from '../../lib/http/misconfigured.js';
import { optionalProviders } from '../../lib/optional-providers.js';

// The /v1 function URL of the local stage (npm start serves it through scripts/function-url.mjs, streamed as on
// AWS): as handler.ts, but it may run jobs inline (LOCAL_WORKER=off), so it carries every provider's adapter.
export const handler = apiOrMisconfigured(
  () =>
    createApiHandler(createDependencies(parseConfig(process.env), { providers: optionalProviders }), undefined, 'v1', {
      streamResponses: true,
    }),
  { streamResponses: true },
);
