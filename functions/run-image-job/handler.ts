import { createDependencies } from '../../lib/composition-root.js';
import { parseConfig } from '../../lib/config.js';
import { optionalProviders } from '../../lib/optional-providers.js';
import { createWorkerHandler } from '../../lib/worker/run-image-job-handler.js';

// The worker: invoked asynchronously by the API function with `{ "id": "<image id>" }`; runs that image job.
export const handler = createWorkerHandler(createDependencies(parseConfig(process.env), { providers: optionalProviders }));
