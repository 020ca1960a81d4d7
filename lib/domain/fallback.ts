/**
 * Fallback between models (pure): which failures may move a job on to the next model, and how a request's size,
 * quality and format map to the nearest a fallback model offers.
 */
import type { AppError } from '../errors.js';
import {
  familyOf,
  inputCountProblem,
  inputImagesProblem,
  pixelSize,
  sizeProblem,
  type FamilyCapabilities,
  type InputImageShape,
  type OutputFormat,
} from './models.js';

/**
 * Whether a provider's failure certainly did not bill, so another model may be tried: busy (429, 503), or not
 * reached at all (a refused connection, a key that could not be read, a model or key it does not know), as the
 * adapters report with `mayBeBilled` unset. Never a refusal (trying another provider would be shopping for a
 * weaker filter), never the caller's own input, never a timeout or a bad answer (sent: it may have billed).
 */
export const certainlyUnbilled = (error: AppError): boolean =>
  !error.mayBeBilled && (error.code === 'provider_busy' || error.code === 'provider_error');

export interface ModelChoice {
  size: string;
  quality: string | undefined;
  format: OutputFormat | undefined;
}

/** Why a fallback model cannot take the request (undefined when it can). */
export function unfitFor(
  model: string,
  request: {
    previews?: number | undefined;
    providerPrompt: string;
    /** The input images' headers (format, pixels), as the worker verified them. */
    inputs?: { images: readonly InputImageShape[]; mask?: InputImageShape | undefined } | undefined;
  },
):
  | 'unknown model'
  | 'no previews'
  | 'prompt too long'
  | 'too many input images'
  | 'no mask'
  | 'input images outside its limits'
  | undefined {
  const family = familyOf(model);
  if (!family) return 'unknown model';
  if ((request.previews ?? 0) > family.maxPreviews) return 'no previews';
  const inputs = request.inputs;
  if (inputs) {
    const counted = inputCountProblem(model, inputs.images.length, inputs.mask !== undefined);
    if (counted) return counted.field === 'mask' ? 'no mask' : 'too many input images';
    if (inputImagesProblem(model, inputs.images, inputs.mask)) return 'input images outside its limits';
  }
  if (request.providerPrompt.length > family.maxPromptChars) return 'prompt too long';
  return undefined;
}

const aspect = (size: { width: number; height: number }): number => size.width / size.height;

/**
 * The request's size, quality and format on another model, as near as it offers: the same `WIDTHxHEIGHT` where
 * it takes it, else its listed size or aspect ratio closest in shape; the resolution tier (Gemini) nearest the
 * pixels asked for, a GPT image quality by tier (1K medium, 2K and 4K high); the same format where it has it,
 * else PNG (which every model writes).
 *
 * @example mapRequest({ size: '1536x1024', quality: 'low', format: 'webp' }, 'gpt-image-2', 'bedrock/stability.stable-image-core-v1:1')
 * // { size: '3:2', quality: undefined, format: 'png' }
 */
export function mapRequest(request: ModelChoice, from: string, to: string): ModelChoice {
  const source = familyOf(from);
  const target = familyOf(to);
  if (!source || !target) return request;
  const pixels = pixelSize(request.size, source, request.quality);
  const size = nearestSize(request.size, pixels, target);
  return { size, quality: nearestQuality(request.quality, pixels, source, target), format: nearestFormat(request.format, target) };
}

function nearestSize(size: string, pixels: { width: number; height: number }, target: FamilyCapabilities): string {
  if (size !== 'auto' && sizeProblem(size, target) === undefined) return size;
  const wanted = Math.log(aspect(pixels));
  let best = target.defaultSize;
  let distance = Number.POSITIVE_INFINITY;
  for (const candidate of target.sizes) {
    if (candidate === 'auto') continue;
    const gap = Math.abs(Math.log(aspect(pixelSize(candidate, target))) - wanted);
    if (gap < distance) {
      best = candidate;
      distance = gap;
    }
  }
  return best;
}

function nearestQuality(
  quality: string | undefined,
  pixels: { width: number; height: number },
  source: FamilyCapabilities,
  target: FamilyCapabilities,
): string | undefined {
  if (target.qualities.length === 0) return undefined;
  if (quality !== undefined && source.family === target.family) return quality;
  if (target.family === 'gemini-image') {
    const long = Math.max(pixels.width, pixels.height);
    return long <= 1536 ? '1K' : long <= 3072 ? '2K' : '4K';
  }
  if (source.family === 'gemini-image') return quality === '1K' ? 'medium' : quality === undefined ? undefined : 'high';
  // From a model without qualities (Stability): the target's default.
  return undefined;
}

function nearestFormat(format: OutputFormat | undefined, target: FamilyCapabilities): OutputFormat | undefined {
  if (format === undefined || target.formats.includes(format)) return format;
  // A model that takes no format (Gemini) makes what it makes; any other writes PNG.
  return target.formats.length === 0 ? undefined : 'png';
}
