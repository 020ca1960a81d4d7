import { createDependencies } from '../../lib/composition-root.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';
import { apiOrMisconfigured } from '../../lib/http/misconfigured.js';
import { optionalProviders } from '../../lib/optional-providers.js';

// The API of the local stage (`npm start`, `npm run invoke`): as handler.ts, but it may run jobs inline
// (LOCAL_WORKER=off, invoke local), so it carries every provider's adapter.
export const handler = apiOrMisconfigured(() =>
  createApiHandler(createDependencies(parseConfig(process.env), { providers: optionalProviders })),
);
