import * as v from 'valibot';
import { codePointLength, normalizePrompt, templateOverhead, type HardenOptions } from './prompt-policy.js';
import {
  MAX_INPUT_IMAGES,
  familyOf,
  inputCountProblem,
  parseModelName,
  pixelSize,
  sizeProblem,
  type Background,
  type OutputFormat,
  type ProviderModeration,
} from './models.js';

/**
 * The body of `POST /images`, checked strictly: unknown fields are an error (a typo like `qualty` should not be
 * silently ignored and billed at the default). valibot builds schemas as plain objects, so nothing is compiled
 * at cold start (unlike Ajv), and it is small in the bundle.
 */
/** The most partial images any provider streams (OpenAI's `partial_images` is 0-3). */
export const MAX_PREVIEWS = 3;

/**
 * The largest size (in pixels) previews are offered for: 2048x1536. A streamed image goes through the openai SDK's
 * event-stream parser, which holds about 8 times the image at its peak (the line buffer, the line's text, the
 * parsed event; docs/performance.md), against under 2 times for an image answered as JSON. At this size an RGBA
 * PNG (4 bytes a pixel, its worst case) is at most MAX_STREAMED_IMAGE_BYTES, which a 256 MB worker holds 8 times
 * over; a 20 MiB image streamed would not fit (measured: 279 MB). So larger sizes are refused before anything is
 * spent, rather than failing after the provider has billed.
 */
const MAX_PREVIEW_PIXELS = 2048 * 1536;

/** The largest image accepted from an event stream: an RGBA PNG of MAX_PREVIEW_PIXELS and its framing (12 MiB). */
export const MAX_STREAMED_IMAGE_BYTES = MAX_PREVIEW_PIXELS * 4 + 64 * 1024;

/** An integer within [min, max], refused with one message whichever bound it misses. */
const integerFrom = (min: number, max: number) => {
  const message = `must be an integer from ${min} to ${max}`;
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
};

const BodySchema = v.strictObject(
  {
    prompt: v.pipe(v.string('must be a string'), v.nonEmpty('must not be empty')),
    model: v.optional(v.pipe(v.string('must be a string'), v.nonEmpty('must not be empty'))),
    size: v.optional(v.string('must be a string like "1024x1024"')),
    quality: v.optional(v.string('must be a string')),
    format: v.optional(v.picklist(['png', 'jpeg', 'webp'], 'must be one of "png", "jpeg", "webp"')),
    // Partial images streamed while the model paints (OpenAI's `partial_images`); which models can is checked below.
    previews: v.optional(integerFrom(0, MAX_PREVIEWS)),
    // Passed to the provider where the model takes them (checked below against the model's capabilities).
    background: v.optional(v.picklist(['auto', 'opaque', 'transparent'], 'must be one of "auto", "opaque", "transparent"')),
    compression: v.optional(integerFrom(0, 100)),
    moderation: v.optional(v.picklist(['auto', 'low'], 'must be "auto" or "low"')),
    // Input images and a mask: checked by hand below, for messages that name the entry at fault.
    images: v.optional(v.unknown()),
    mask: v.optional(v.unknown()),
    // Where to POST the finished image resource; the target itself is checked (https, public address) later.
    webhook: v.optional(
      v.pipe(
        v.string('must be a string (an https URL)'),
        v.nonEmpty('must not be empty'),
        v.maxLength(2048, 'must be at most 2048 characters'),
      ),
    ),
  },
  () => 'is not a known field',
);

export interface ImageRequest {
  /** Normalised user text. */
  prompt: string;
  model: string;
  size: string;
  quality: string | undefined;
  format: OutputFormat | undefined;
  /** Partial images to store while it generates (0-3; absent is 0). */
  previews?: number | undefined;
  /** Input images: the caller's own images (`id`) or uploads (`upload`); an edit, or references. */
  images?: ImageRef[] | undefined;
  /** The areas of the first input image to change (where it is transparent). */
  mask?: ImageRef | undefined;
  webhook?: string | undefined;
  /** Settings passed to the provider as they are (only those asked for, and only where the model takes them). */
  options?: ProviderOptions | undefined;
}

/**
 * What the provider is asked to do beyond the size, quality and format: OpenAI's `background`, `output_compression`
 * and `moderation` (the strictness of its own content filter; this service's moderation runs either way).
 */
export interface ProviderOptions {
  background?: Background;
  compression?: number;
  moderation?: ProviderModeration;
}

/** An input image: one of the caller's own succeeded images, or a file it uploaded (POST /uploads). */
export type ImageRef = { id: string } | { upload: string };

/** Ids of images and uploads: 22 base64url characters (lib/domain/object-keys.ts). */
const REF_ID = /^[A-Za-z0-9_-]{22}$/;

/** One `{ "id": ... }` or `{ "upload": ... }`, or undefined. */
function imageRefOf(value: unknown): ImageRef | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  const entry = value as Record<string, unknown>;
  if (keys.length !== 1) return undefined;
  if (keys[0] === 'id' && typeof entry['id'] === 'string' && REF_ID.test(entry['id'])) return { id: entry['id'] };
  if (keys[0] === 'upload' && typeof entry['upload'] === 'string' && REF_ID.test(entry['upload'])) return { upload: entry['upload'] };
  return undefined;
}

const REF_SHAPE = 'must be {"id": "<one of your image ids>"} or {"upload": "<an upload id from POST /uploads>"}';

export interface RequestRules {
  defaultModel: string;
  allowedModels: readonly string[];
  maxPromptChars: number;
  prompt: HardenOptions;
}

export type ValidationResult = { ok: true; value: ImageRequest } | { ok: false; field: string; message: string };

const invalid = (field: string, message: string): ValidationResult => ({ ok: false, field, message });

/**
 * A field name as it may appear in a message and in the logs: an unknown key is the caller's text, so it is cut to
 * 64 characters and anything but printable ASCII becomes `?` (no control characters, no log injection, no 10 KB key).
 */
export const safeFieldName = (name: string): string => {
  const printable = [...name.slice(0, 200)].map((char) => (/^[\x20-\x7e]$/.test(char) && char !== '"' ? char : '?')).join('');
  return printable.length > 64 ? `${printable.slice(0, 64)}...` : printable;
};

const list = (values: readonly string[]): string => values.map((value) => `"${value}"`).join(', ');

/**
 * Validates a parsed JSON body. The message always names the field at fault.
 *
 * @example validateImageRequest({ prompt: 'a red fox' }, rules) // { ok: true, value: { prompt: 'a red fox', ... } }
 */
export function validateImageRequest(body: unknown, rules: RequestRules): ValidationResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalid('body', 'The request body must be a JSON object.');
  }
  // Checked first: valibot reports a missing key with the unknown-key message of a strict object.
  if (!Object.hasOwn(body, 'prompt')) return invalid('prompt', '"prompt" is required.');
  const parsed = v.safeParse(BodySchema, body, { abortEarly: true });
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const field = safeFieldName(issue.path?.map((item) => String(item.key)).join('.') ?? 'body');
    return invalid(field, `"${field}" ${issue.message}.`);
  }
  const { prompt: rawPrompt, model: asked = rules.defaultModel, size, quality, format, previews, webhook } = parsed.output;
  const { background, compression, moderation } = parsed.output;
  const { images: rawImages, mask: rawMask } = parsed.output;

  // `gpt-image-2` and `openai/gpt-image-2` name one model; the answer uses the spelling the deployment lists.
  const canonical = parseModelName(asked)?.canonical;
  const model = rules.allowedModels.find((allowed) => parseModelName(allowed)?.canonical === canonical);
  if (model === undefined) {
    return invalid('model', `"model" must be one of ${list(rules.allowedModels)}.`);
  }
  const family = familyOf(model);
  if (!family) return invalid('model', `"model" ${model} is not supported.`);

  // A cheap bound before normalising: the body limit already caps this, but normalising is O(n).
  if (rawPrompt.length > rules.maxPromptChars * 4) {
    return invalid('prompt', `"prompt" must be at most ${rules.maxPromptChars} characters.`);
  }
  const prompt = normalizePrompt(rawPrompt, Number.MAX_SAFE_INTEGER);
  if (prompt === '') return invalid('prompt', '"prompt" must contain visible text.');
  if (codePointLength(prompt) > rules.maxPromptChars) {
    return invalid('prompt', `"prompt" must be at most ${rules.maxPromptChars} characters.`);
  }
  // The model's own limit, less what the template adds, counted in UTF-16 code units: never fewer than code
  // points, so a prompt that passes here also passes a provider that counts either way (an emoji is 2 units).
  const modelMax = family.maxPromptChars - templateOverhead(rules.prompt);
  if (prompt.length > modelMax) {
    return invalid('prompt', `"prompt" is too long for model ${model}: at most ${modelMax} UTF-16 code units (an emoji counts 2).`);
  }

  // An edit of a GPT image model defaults to `auto`, as OpenAI's images.edit does: the output follows the input
  // (a portrait photo stays a portrait) instead of turning square.
  const chosenSize = size ?? (rawImages !== undefined && family.sizes.includes('auto') ? 'auto' : family.defaultSize);
  const badSize = sizeProblem(chosenSize, family);
  if (badSize !== undefined) {
    const rule = family.customSizes;
    const custom = rule
      ? `, or WIDTHxHEIGHT with both multiples of ${rule.multipleOf}, a long edge of at most ${rule.maxLongEdge}, an aspect ` +
        `ratio of at most ${rule.maxRatio}:1 and ${rule.minPixels}-${rule.maxPixels} pixels in all`
      : '';
    const why = rule && badSize !== 'unknown' ? ` (${chosenSize} needs ${badSize})` : '';
    return invalid('size', `"size" must be one of ${list(family.sizes)}${custom} for model ${model}${why}.`);
  }
  if (quality !== undefined && !family.qualities.includes(quality)) {
    return family.qualities.length === 0
      ? invalid('quality', `"quality" is not supported by model ${model}.`)
      : invalid('quality', `"quality" must be one of ${list(family.qualities)} for model ${model}.`);
  }
  if (format !== undefined && !family.formats.includes(format)) {
    return family.formats.length === 0
      ? invalid('format', `"format" is not supported by model ${model}: it answers PNG or JPEG as it chooses.`)
      : invalid('format', `"format" must be one of ${list(family.formats)} for model ${model}.`);
  }
  if (previews !== undefined && previews > family.maxPreviews) {
    return family.maxPreviews === 0
      ? invalid('previews', `"previews" is not supported by model ${model}: it does not stream partial images.`)
      : invalid('previews', `"previews" must be at most ${family.maxPreviews} for model ${model}.`);
  }
  if (previews) {
    const { width, height } = pixelSize(chosenSize, family, quality);
    if (width * height > MAX_PREVIEW_PIXELS) {
      return invalid(
        'previews',
        `"previews" is available for sizes of at most ${MAX_PREVIEW_PIXELS} pixels (2048x1536); ${chosenSize} has ${width * height}.`,
      );
    }
  }
  if (background !== undefined && !family.backgrounds.includes(background)) {
    // OpenAI's own refusal of a transparent gpt-image-2 image, word for word.
    if (background === 'transparent' && family.backgrounds.length > 0)
      return invalid('background', 'Transparent background is not supported for this model.');
    return family.backgrounds.length === 0
      ? invalid('background', `"background" is not supported by model ${model}.`)
      : invalid('background', `"background" must be one of ${list(family.backgrounds)} for model ${model}.`);
  }
  if (compression !== undefined) {
    if (!family.compression) return invalid('compression', `"compression" is not supported by model ${model}.`);
    if (format !== 'jpeg' && format !== 'webp') return invalid('compression', '"compression" applies to "format" "jpeg" or "webp" only.');
  }
  if (moderation !== undefined && !family.moderationLevels.includes(moderation)) {
    return invalid('moderation', `"moderation" is not supported by model ${model}: it has no content filter level to set.`);
  }
  const input = imageInputProblem(rawImages, rawMask, model);
  if ('field' in input) return input;
  const options: ProviderOptions = {
    ...(background === undefined || background === 'auto' ? {} : { background }),
    ...(compression === undefined ? {} : { compression }),
    ...(moderation === undefined || moderation === 'auto' ? {} : { moderation }),
  };
  return {
    ok: true,
    value: {
      prompt,
      model,
      size: chosenSize,
      quality,
      format,
      ...(previews ? { previews } : {}),
      ...(input.images ? { images: input.images } : {}),
      ...(input.mask ? { mask: input.mask } : {}),
      ...(webhook === undefined ? {} : { webhook }),
      ...(Object.keys(options).length > 0 ? { options } : {}),
    },
  };
}

/** `images` and `mask` checked against their shape and what the model takes; the refs when they are fine. */
function imageInputProblem(
  rawImages: unknown,
  rawMask: unknown,
  model: string,
): { ok: false; field: string; message: string } | { images?: ImageRef[]; mask?: ImageRef } {
  if (rawImages === undefined && rawMask === undefined) return {};
  if (rawImages === undefined)
    return { ok: false, field: 'mask', message: '"mask" needs "images": it marks the areas of the first one to change.' };
  if (!Array.isArray(rawImages) || rawImages.length === 0 || rawImages.length > MAX_INPUT_IMAGES) {
    return { ok: false, field: 'images', message: `"images" must be a list of 1 to ${MAX_INPUT_IMAGES} images.` };
  }
  const images: ImageRef[] = [];
  for (const [index, raw] of rawImages.entries()) {
    const ref = imageRefOf(raw);
    if (!ref) return { ok: false, field: `images[${index}]`, message: `"images[${index}]" ${REF_SHAPE}.` };
    images.push(ref);
  }
  const tooMany = inputCountProblem(model, images.length, false);
  if (tooMany) return { ok: false, ...tooMany };
  if (rawMask === undefined) return { images };
  const mask = imageRefOf(rawMask);
  if (!mask) return { ok: false, field: 'mask', message: `"mask" ${REF_SHAPE}.` };
  const noMask = inputCountProblem(model, images.length, true);
  if (noMask) return { ok: false, ...noMask };
  return { images, mask };
}
