/**
 * The openai SDK's adapters: one chunk with the SDK (about 400 KB), loaded by the first request that moderates or
 * generates through it (`openaiAdapters` in lib/composition/clients.ts).
 */
export { createOpenAIClient } from './openai-client.js';
export { OpenAIImageGenerator } from './openai-image-generator.js';
export { OpenAIPromptModerator } from './openai-prompt-moderator.js';
