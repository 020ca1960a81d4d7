import { AppError } from '../errors.js';
import { validateImageRequest, type RequestRules } from '../domain/image-request.js';
import { OPENAI_PARAM, translateEditRequest, translateGenerationRequest, type TranslatedRequest } from './openai-compat.js';
import type { HttpMiddleware, HttpRequest, InputFile } from '../middleware/types.js';

/** The translated body checked as `POST /images` checks its own; a refusal names OpenAI's parameter. */
function checked(request: HttpRequest, translated: TranslatedRequest, rules: RequestRules): void {
  const result = validateImageRequest(translated.body, rules);
  if (!result.ok) {
    const param = OPENAI_PARAM[result.field] ?? result.field;
    throw new AppError('invalid_request', result.message.replace(`"${result.field}"`, `"${param}"`), { details: { field: param } });
  }
  request.context.imageRequest = result.value;
  const { responseFormat, count, stream } = translated;
  request.context.openAI = { responseFormat, count, stream };
}

/**
 * `POST /v1/images/generations`: OpenAI's body translated to the native one, then checked exactly as `POST /images`
 * checks its own; a refusal names OpenAI's parameter (`output_format`, not `format`).
 */
export function openAIImageRequestBody(rules: RequestRules): HttpMiddleware {
  const openAIImageRequestMiddlewareBefore = (request: HttpRequest): void => {
    checked(request, translateGenerationRequest(request.event.body as unknown), rules);
  };
  return { before: openAIImageRequestMiddlewareBefore };
}

/**
 * `POST /v1/images/edits`: the form (parsed by @middy/http-multipart-body-parser) translated to the native edit,
 * each file named as an upload of the caller's with a new id (`images: [{"upload": id}]`, `mask`), and checked as
 * `POST /images` checks an edit. The files are stored only once the request is found valid (the handler does it).
 */
export function openAIEditRequestBody(rules: RequestRules, newId: () => string): HttpMiddleware {
  const openAIEditRequestMiddlewareBefore = (request: HttpRequest): void => {
    const { translated, files } = translateEditRequest(request.event.body as unknown);
    const inputFiles: InputFile[] = files.images.map(({ field, file }) => ({ id: newId(), field, bytes: file.content }));
    const mask: InputFile | undefined = files.mask ? { id: newId(), field: 'mask', bytes: files.mask.content } : undefined;
    const body = {
      ...translated.body,
      images: inputFiles.map(({ id }) => ({ upload: id })),
      ...(mask ? { mask: { upload: mask.id } } : {}),
    };
    checked(request, { ...translated, body }, rules);
    request.context.inputFiles = mask ? [...inputFiles, mask] : inputFiles;
  };
  return { before: openAIEditRequestMiddlewareBefore };
}
