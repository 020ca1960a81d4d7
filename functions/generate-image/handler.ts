import { createDependencies } from '../../lib/clients.js';
import { parseConfig } from '../../lib/config.js';
import { createGenerateImageHandler } from '../../lib/http/generate-image-handler.js';

// Built once per container: config is parsed (failing the cold start with the variable's name if wrong) and SDK
// clients are created here, then reused by every request this container serves.
export const handler = createGenerateImageHandler(createDependencies(parseConfig(process.env)));
