/**
 * Which models this service can call, through which provider, and what each accepts. A request is refused here
 * (400, free) instead of by the provider (billed latency, and a provider error we would have to translate).
 *
 * Names are `provider/model` as LiteLLM and Vercel's AI Gateway spell them (`openai/gpt-image-2`,
 * `azure/<deployment>`, `bedrock/stability.stable-image-core-v1:1`, `google/gemini-3.1-flash-image`); a bare name
 * (`gpt-image-2`) is OpenAI's, so clients written before providers existed keep working.
 *
 * Models retire: only models whose end of life has not passed (2026-11-25) are wired. Each family says where its
 * values came from and when. Not wired, because their end of life has passed: dall-e-2 and dall-e-3 (2026-05-12),
 * gpt-image-1 (2026-10-23), gemini-2.5-flash-image (2026-10-02), the gemini-3 image previews (2026-06-25), Amazon
 * Nova Canvas (2026-09-30) and Titan Image Generator.
 */

export type ProviderName = 'openai' | 'azure' | 'bedrock' | 'google';
const PROVIDERS: readonly ProviderName[] = ['openai', 'azure', 'bedrock', 'google'];

export type ModelFamily = 'gpt-image' | 'stability' | 'gemini-image';
export type OutputFormat = 'png' | 'jpeg' | 'webp';
export type Background = 'auto' | 'opaque' | 'transparent';
export type ProviderModeration = 'auto' | 'low';

export interface FamilyCapabilities {
  family: ModelFamily;
  /** The sizes offered by name (`1024x1024`, or an aspect ratio such as `16:9` for providers that take one). */
  sizes: readonly string[];
  defaultSize: string;
  /** Also any `WIDTHxHEIGHT` within these bounds (gpt-image-2 only). */
  customSizes?: CustomSizeRule;
  qualities: readonly string[];
  formats: readonly OutputFormat[];
  /** Longest prompt the provider accepts for this family, in UTF-16 code units (never fewer than characters). */
  maxPromptChars: number;
  /** Partial images the provider can stream while it generates (`previews`); 0 when it streams none. */
  maxPreviews: number;
  /** The `background` values the provider takes (`auto` is its default); empty when it takes none. */
  backgrounds: readonly Background[];
  /** Whether it takes an output compression (0-100) for jpeg and webp. */
  compression: boolean;
  /** The levels of its own content filter a request may ask for (`moderation`); empty when it has none to set. */
  moderationLevels: readonly ProviderModeration[];
  /** Where these values came from, and when. */
  source: string;
}

export interface CustomSizeRule {
  /** Width and height must be multiples of this. */
  multipleOf: number;
  /** Longest edge at most. */
  maxLongEdge: number;
  /** Aspect ratio (long edge / short edge) at most. */
  maxRatio: number;
  /** Total pixels, at least and at most. */
  minPixels: number;
  maxPixels: number;
}

/** Aspect ratios of Stable Image Core / Ultra and SD3.5 Large on Bedrock, with the pixel sizes they render. */
const STABILITY_RATIOS: Readonly<Record<string, { width: number; height: number }>> = {
  '1:1': { width: 1024, height: 1024 },
  '16:9': { width: 1344, height: 768 },
  '21:9': { width: 1536, height: 640 },
  '2:3': { width: 832, height: 1216 },
  '3:2': { width: 1216, height: 832 },
  '4:5': { width: 896, height: 1088 },
  '5:4': { width: 1088, height: 896 },
  '9:16': { width: 768, height: 1344 },
  '9:21': { width: 640, height: 1536 },
};

/** Gemini image aspect ratios, and the long edge of each `imageSize` (1K, 2K, 4K). */
const GEMINI_RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'] as const;
const GEMINI_LONG_EDGE: Readonly<Record<string, number>> = { '1K': 1024, '2K': 2048, '4K': 4096 };

const FAMILIES: Readonly<Record<ModelFamily, FamilyCapabilities>> = Object.freeze({
  'gpt-image': {
    family: 'gpt-image',
    sizes: ['auto', '1024x1024', '1536x1024', '1024x1536'],
    defaultSize: '1024x1024',
    customSizes: { multipleOf: 16, maxLongEdge: 3840, maxRatio: 3, minPixels: 655_360, maxPixels: 8_294_400 },
    qualities: ['auto', 'low', 'medium', 'high'],
    formats: ['png', 'jpeg', 'webp'],
    maxPromptChars: 32_000,
    maxPreviews: 3,
    // `transparent` is refused by OpenAI for gpt-image-2 (400 "Transparent background is not supported for this
    // model.", before anything is generated): a preview from 2026-08-21 ended 2026-09-30 (docs.apiyi.com, "OpenAI
    // shut down transparent backgrounds for gpt-image-2", 2026-10-15; observed also in dev.to/owen_fox, 2026-08-24).
    backgrounds: ['auto', 'opaque'],
    compression: true,
    moderationLevels: ['auto', 'low'],
    source:
      'OpenAI image generation guide for gpt-image-2 (custom sizes: both sides multiples of 16, long edge at most ' +
      '3840, aspect ratio at most 3:1, 655,360 to 8,294,400 pixels) and the Images API reference in the openai ' +
      'package 7.57.0 (prompt at most 32,000 characters; `stream` with `partial_images` 0-3), read 2026-11-30',
  },
  stability: {
    family: 'stability',
    sizes: Object.keys(STABILITY_RATIOS),
    defaultSize: '1:1',
    qualities: [],
    formats: ['png', 'jpeg'],
    maxPromptChars: 10_000,
    maxPreviews: 0,
    backgrounds: [],
    compression: false,
    moderationLevels: [],
    source:
      'Amazon Bedrock user guide, Stability AI models (Stable Image Core/Ultra, SD3.5 Large request and response: ' +
      'aspect_ratio, output_format png|jpeg, prompt at most 10,000 characters), read 2026-11-25',
  },
  'gemini-image': {
    family: 'gemini-image',
    sizes: GEMINI_RATIOS,
    defaultSize: '1:1',
    // Gemini's imageSize: the resolution tier, which is what its price depends on.
    qualities: ['1K', '2K', '4K'],
    // The Gemini API takes no output format (imageConfig has aspectRatio and imageSize only) and answers PNG or
    // JPEG as the model chooses (image/jpeg from gemini-3.1-flash-image: googleapis/python-genai#2346). A requested
    // format could not be honoured, so none is accepted; the image is stored as the bytes say.
    formats: [],
    // The Gemini API takes far more input than this (its limit is in tokens); 32,000 is this service's own bound,
    // the same as OpenAI's, so no prompt is accepted for one provider and refused for another.
    maxPromptChars: 32_000,
    maxPreviews: 0,
    backgrounds: [],
    compression: false,
    moderationLevels: [],
    source:
      'Gemini API image generation guide and GenerationConfig.imageConfig reference (aspectRatio, imageSize ' +
      '1K|2K|4K, images returned as inline data with their mimeType); model list from the Gemini deprecations page, read 2026-11-25',
  },
});

/**
 * A GPT image model deployed on Azure OpenAI: OpenAI's capabilities without webp, which Azure's image generation
 * documentation does not list among its output formats (png, jpeg; read 2026-11-30). Previews stream as on OpenAI:
 * Azure documents `stream` with `partial_images` 0-3 for GPT image models since 2025-09 (MicrosoftDocs/azure-ai-docs,
 * "Stream partial images"), with OpenAI's event types, and this service speaks only its v1 API (`/openai/v1`), which
 * carries every such parameter without an api-version.
 */
const AZURE_GPT_IMAGE: FamilyCapabilities = Object.freeze({
  ...FAMILIES['gpt-image'],
  formats: ['png', 'jpeg'] as const,
  source:
    `${FAMILIES['gpt-image'].source}; on Azure OpenAI without webp (Azure OpenAI image generation how-to, ` +
    'output_format png|jpeg, read 2026-11-30; partial_images streaming documented since 2025-09)',
});

/** Whether an id is one of OpenAI's wired GPT image models (what an Azure deployment may be said to run). */
export const isWiredOpenAIModel = (id: string): boolean => /^gpt-image-2(-\d{4}-\d{2}-\d{2})?$/.test(id);

/** The wired models by provider: which ids each provider serves, and their family. */
const WIRED: Readonly<Record<ProviderName, (id: string) => ModelFamily | undefined>> = {
  // gpt-image-2 and its dated snapshots (gpt-image-2-2026-04-21).
  openai: (id) => (isWiredOpenAIModel(id) ? 'gpt-image' : undefined),
  // An Azure deployment is named by its owner; which model it runs is configuration (AZURE_OPENAI_DEPLOYMENTS),
  // checked at start against the OpenAI models above.
  azure: (id) => (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id) ? 'gpt-image' : undefined),
  bedrock: (id) =>
    ['stability.stable-image-core-v1:1', 'stability.stable-image-ultra-v1:1', 'stability.sd3-5-large-v1:0'].includes(id)
      ? 'stability'
      : undefined,
  google: (id) => (['gemini-3.1-flash-image', 'gemini-3-pro-image'].includes(id) ? 'gemini-image' : undefined),
};

export interface ModelRef {
  provider: ProviderName;
  /** The provider's own id (or, on Azure, the deployment name). */
  id: string;
  /** `provider/id`: the one spelling to compare names by. */
  canonical: string;
}

/**
 * The most input images (references, or the image to edit) a request may carry, whatever the model takes: each is
 * read into the worker's memory (up to MAX_INPUT_IMAGE_BYTES) and encoded once more for the provider, so 4 keep a
 * request with the largest output image within the 256 MB worker, and each adds to the estimate before any runs.
 */
export const MAX_INPUT_IMAGES = 4;

/** The largest input image (upload or reference) accepted, and a mask's (OpenAI: a PNG under 4 MB). */
export const MAX_INPUT_IMAGE_BYTES = 8 * 1024 * 1024;
export const MAX_MASK_BYTES = 4 * 1024 * 1024;

/** Input image pixel bounds: each side at least this and at most INPUT_MAX_SIDE. */
export const INPUT_MIN_SIDE = 16;
export const INPUT_MAX_SIDE = 4096;

export interface ImageInputCapabilities {
  /** How many input images the model takes (0: none), within MAX_INPUT_IMAGES. */
  maxImages: number;
  /** Whether it takes a mask (the areas of the first image to edit). */
  mask: boolean;
  /** Each input image's bounds beyond the service's own (INPUT_MIN_SIDE..INPUT_MAX_SIDE, MAX_INPUT_IMAGE_BYTES). */
  limits?: InputImageLimits;
}

export interface InputImageLimits {
  minSide: number;
  minPixels: number;
  maxPixels: number;
  /** Long edge over short edge, at most. */
  maxRatio: number;
  source: string;
}

/**
 * SD3.5 Large's image-to-image input (Stability AI's API reference for SD3 image-to-image, which Bedrock follows;
 * read 2026-12-07): each side at least 64 pixels, 4,096 to 9,437,184 pixels, aspect ratio between 1:2.5 and 2.5:1.
 * Outside these, Bedrock answers a ValidationException after admission; they are refused before it instead.
 */
const SD35_INPUT: InputImageLimits = Object.freeze({
  minSide: 64,
  minPixels: 4_096,
  maxPixels: 9_437_184,
  maxRatio: 2.5,
  source: 'Stability AI SD3 image-to-image reference (each side >= 64 px, 4,096-9,437,184 pixels, 1:2.5-2.5:1)',
});

/**
 * What a model takes as image input, from the providers' references (read 2026-11-30): OpenAI's and Azure's GPT
 * image models edit through `images.edit`, up to 16 images (png, webp or jpg under 50 MB) and a PNG mask with
 * transparency the size of the first image (the Images API reference in openai 7.57.0); the Gemini 3 image models
 * take reference images as parts of the request (Gemini image generation guide: up to 14), no mask; on Bedrock only
 * SD3.5 Large takes an image (its image-to-image mode, one image, SD35_INPUT), no mask; Stable Image Core and Ultra
 * take none.
 */
export function imageInputOf(model: string): ImageInputCapabilities {
  const ref = parseModelName(model);
  const family = familyOf(model);
  if (!ref || !family) return { maxImages: 0, mask: false };
  if (family.family === 'gpt-image') return { maxImages: Math.min(16, MAX_INPUT_IMAGES), mask: true };
  if (family.family === 'gemini-image') return { maxImages: Math.min(14, MAX_INPUT_IMAGES), mask: false };
  return ref.id === 'stability.sd3-5-large-v1:0' ? { maxImages: 1, mask: false, limits: SD35_INPUT } : { maxImages: 0, mask: false };
}

/**
 * Why a model cannot take this many input images, or a mask (the field and a message for a 400); undefined when it
 * can. Request validation asks it of the refs, admission and the fallbacks of the images' headers.
 */
export function inputCountProblem(model: string, images: number, mask: boolean): { field: string; message: string } | undefined {
  const takes = imageInputOf(model);
  if (images > takes.maxImages) {
    return takes.maxImages === 0
      ? { field: 'images', message: `"images" is not supported by model ${model}: it takes no input image.` }
      : { field: 'images', message: `"images" must have at most ${takes.maxImages} for model ${model}.` };
  }
  if (mask && !takes.mask) return { field: 'mask', message: `"mask" is not supported by model ${model}.` };
  return undefined;
}

/** An input image as its header describes it. */
export interface InputImageShape {
  format: 'png' | 'jpeg' | 'webp';
  width: number;
  height: number;
}

/**
 * Why a model cannot take these input images (the field and a message for a 400), or undefined when it can: the
 * count, the mask, and each image's pixel bounds. OpenAI edits a masked image only when "the image to edit and
 * mask [are] of the same format and size" (Images API reference): the mask is a PNG, so the first image must be
 * one, the mask's size.
 */
export function inputImagesProblem(
  model: string,
  images: readonly InputImageShape[],
  mask?: InputImageShape,
): { field: string; message: string } | undefined {
  const counted = inputCountProblem(model, images.length, mask !== undefined);
  if (counted) return counted;
  const limits = imageInputOf(model).limits;
  if (limits) {
    for (const [index, { width, height }] of images.entries()) {
      const pixels = width * height;
      const ratio = Math.max(width, height) / Math.min(width, height);
      if (Math.min(width, height) < limits.minSide || pixels < limits.minPixels || pixels > limits.maxPixels || ratio > limits.maxRatio) {
        return {
          field: `images[${index}]`,
          message:
            `"images[${index}]" is ${width}x${height}; model ${model} takes images with each side at least ${limits.minSide} ` +
            `pixels, ${limits.minPixels}-${limits.maxPixels} pixels in all and an aspect ratio of at most ${limits.maxRatio}:1.`,
        };
      }
    }
  }
  const first = images[0];
  if (mask && first) {
    if (mask.format !== 'png') return { field: 'mask', message: '"mask" must be a PNG with transparency (where to edit).' };
    if (first.format !== 'png') {
      return {
        field: 'images[0]',
        message: `"images[0]" must be a PNG when a mask is given: the image to edit and the mask must be of the same format (it is ${first.format}).`,
      };
    }
    if (mask.width !== first.width || mask.height !== first.height) {
      return {
        field: 'mask',
        message: `"mask" must be the size of the first image (${first.width}x${first.height}; it is ${mask.width}x${mask.height}).`,
      };
    }
  }
  return undefined;
}

/** Splits a model name into provider and id; a bare name is OpenAI's. Undefined for an unknown provider. */
export function parseModelName(name: string): ModelRef | undefined {
  const slash = name.indexOf('/');
  if (slash === -1) return { provider: 'openai', id: name, canonical: `openai/${name}` };
  const provider = name.slice(0, slash) as ProviderName;
  const id = name.slice(slash + 1);
  if (!PROVIDERS.includes(provider) || id === '') return undefined;
  return { provider, id, canonical: `${provider}/${id}` };
}

/** The capabilities of a model name, or undefined for a model this service does not call. */
export function familyOf(model: string): FamilyCapabilities | undefined {
  const ref = parseModelName(model);
  const family = ref ? WIRED[ref.provider](ref.id) : undefined;
  if (family && ref?.provider === 'azure') return AZURE_GPT_IMAGE;
  return family ? FAMILIES[family] : undefined;
}

/** Why `size` is not accepted for this family (undefined when it is). */
export function sizeProblem(size: string, family: FamilyCapabilities): string | undefined {
  if (family.sizes.includes(size)) return undefined;
  const rule = family.customSizes;
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(size);
  if (!rule || !match) return 'unknown';
  const width = Number(match[1]);
  const height = Number(match[2]);
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  if (short === 0 || width % rule.multipleOf !== 0 || height % rule.multipleOf !== 0) {
    return `width and height must be multiples of ${rule.multipleOf}`;
  }
  if (long > rule.maxLongEdge) return `a long edge of at most ${rule.maxLongEdge} pixels`;
  if (long / short > rule.maxRatio) return `an aspect ratio of at most ${rule.maxRatio}:1`;
  const pixels = width * height;
  if (pixels < rule.minPixels || pixels > rule.maxPixels) return `between ${rule.minPixels} and ${rule.maxPixels} pixels in all`;
  return undefined;
}

/** The pixel size a request renders at: `1536x1024`, an aspect ratio at a resolution tier, or `auto`. */
export function pixelSize(size: string, family: FamilyCapabilities, quality?: string): { width: number; height: number } {
  const resolved = size === 'auto' ? family.defaultSize : size;
  if (family.family === 'stability') return STABILITY_RATIOS[resolved] ?? { width: 1024, height: 1024 };
  if (family.family === 'gemini-image') {
    const [w = 1, h = 1] = resolved.split(':').map(Number);
    const long = GEMINI_LONG_EDGE[quality ?? '1K'] ?? 1024;
    const scale = long / Math.max(w, h);
    // Multiples of 16, as image models render them.
    return { width: Math.round((w * scale) / 16) * 16, height: Math.round((h * scale) / 16) * 16 };
  }
  const [width, height] = resolved.split('x').map(Number);
  return { width: width ?? 1024, height: height ?? 1024 };
}
