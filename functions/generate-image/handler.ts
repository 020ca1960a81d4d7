import { createDependencies } from '../../lib/clients.js';
import { parseConfig } from '../../lib/config.js';
import { createApiHandler } from '../../lib/http/api-handler.js';

// Built once per container: config is parsed (failing the cold start with the variable's name if wrong) and SDK
// clients are created here, then reused by every request this container serves. Serves every route of the API.
// On AWS the worker generates every image, so this function ships no Bedrock or Gemini adapter (inline-handler.ts
// is the local stage's, which runs jobs inline too).
export const handler = createApiHandler(createDependencies(parseConfig(process.env)));
