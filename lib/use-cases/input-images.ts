/**
 * An image job's input images, read from the bucket and verified before any provider sees them: each a complete
 * PNG, JPEG or WebP within the size and pixel bounds, a mask a PNG with transparency the size of the first image.
 * What fails is the caller's to fix (400 `invalid_request` naming the entry) and nothing was spent.
 */
import { AppError } from '../errors.js';
import { ImageVerificationError, probeImage, verifyImage, type ImageHeader, type ImageInfo } from '../domain/image-format.js';
import type { InputImage, JobInputs } from '../domain/image-job.js';
import {
  INPUT_MAX_SIDE,
  INPUT_MIN_SIDE,
  MAX_INPUT_IMAGE_BYTES,
  MAX_MASK_BYTES,
  inputImagesProblem,
  type InputImageShape,
} from '../domain/models.js';
import type { ImageStore, InputImageBytes } from '../ports.js';

export interface LoadedInputs {
  images: InputImageBytes[];
  mask?: InputImageBytes | undefined;
  /** What each image's header says (format and pixels), for the models that may take them (fallbacks). */
  shapes: { images: InputImageShape[]; mask?: InputImageShape | undefined };
}

const refused = (field: string, message: string): AppError =>
  new AppError('invalid_request', `"${field}" ${message}`, { details: { field } });

/** A read of an input image that failed, as the caller's error where it is theirs. */
function readFailure(error: unknown, input: InputImage, field: string, maxBytes: number): unknown {
  if (error instanceof AppError && error.code === 'not_found') {
    return refused(
      field,
      'upload' in input.ref
        ? 'names no upload: it was never completed, or has expired (uploads are kept one day).'
        : 'names an image that is no longer stored.',
    );
  }
  if (error instanceof AppError && error.code === 'payload_too_large') return refused(field, `is larger than ${maxBytes} bytes.`);
  if (error instanceof ImageVerificationError) return refused(field, 'is not a complete PNG, JPEG or WebP image.');
  return error;
}

/** What the model cannot take (inputImagesProblem) as the caller's 400, naming the entry at fault. */
function refuseUnfit(model: string, images: readonly InputImageShape[], mask: InputImageShape | undefined): void {
  const problem = inputImagesProblem(model, images, mask);
  if (problem) throw new AppError('invalid_request', problem.message, { details: { field: problem.field } });
}

function checkSides(field: string, { width, height }: { width: number; height: number }): void {
  if ([width, height].some((side) => side < INPUT_MIN_SIDE || side > INPUT_MAX_SIDE)) {
    throw refused(field, `must be ${INPUT_MIN_SIDE} to ${INPUT_MAX_SIDE} pixels on each side (it is ${width}x${height}).`);
  }
}

async function load(
  store: ImageStore,
  input: InputImage,
  field: string,
  maxBytes: number,
  deadline: number,
): Promise<{ bytes: Buffer; info: ImageInfo }> {
  let bytes: Buffer;
  let info: ImageInfo;
  try {
    bytes = await store.read(input.key, maxBytes, deadline);
    info = verifyImage(bytes);
  } catch (error) {
    throw readFailure(error, input, field, maxBytes);
  }
  checkSides(field, info);
  return { bytes, info };
}

/** Enough for any PNG's IHDR, any WebP's first chunk, and a JPEG's frame header behind its usual EXIF/ICC/XMP. */
const INPUT_HEAD_BYTES = 64 * 1024;

/** An input image's header by a ranged read; the whole file (within its limit) when the header lies further in. */
async function inspect(store: ImageStore, input: InputImage, field: string, maxBytes: number, deadline: number): Promise<ImageHeader> {
  let header: ImageHeader | undefined;
  try {
    const { head, size } = await store.readHead(input.key, INPUT_HEAD_BYTES, maxBytes, deadline);
    header = probeImage(head) ?? (size > head.length ? probeImage(await store.read(input.key, maxBytes, deadline)) : undefined);
  } catch (error) {
    throw readFailure(error, input, field, maxBytes);
  }
  if (!header) throw refused(field, 'is not a complete PNG, JPEG or WebP image.');
  checkSides(field, header);
  return header;
}

/**
 * Admission's look at the input images, before anything is reserved or any moderation call is made: each exists
 * (400 otherwise, as the worker would answer), is within its byte limit, is a PNG, JPEG or WebP by its header of a
 * size the service takes, and the model takes them all as they are (inputImagesProblem: SD3.5's pixel limits, the
 * mask's format and size). One ranged read per image. The worker verifies the whole files again before a provider
 * sees them.
 */
export async function inspectInputs(store: ImageStore, inputs: JobInputs, model: string, deadline: number): Promise<void> {
  const [images, mask] = await Promise.all([
    Promise.all(inputs.images.map((input, index) => inspect(store, input, `images[${index}]`, MAX_INPUT_IMAGE_BYTES, deadline))),
    inputs.mask ? inspect(store, inputs.mask, 'mask', MAX_MASK_BYTES, deadline) : undefined,
  ]);
  refuseUnfit(model, images, mask);
}

const shapeOf = (info: ImageInfo): InputImageShape => ({ format: info.format, width: info.width, height: info.height });

/**
 * Reads and verifies the job's input images for `model`: each complete and within the service's bounds, then what
 * the model takes (inputImagesProblem), the mask a PNG with transparency. The same rules ran at admission on the
 * headers; they run again on the bytes the provider will get, which the caller could have replaced meanwhile.
 */
export async function loadInputs(
  store: ImageStore,
  inputs: JobInputs | undefined,
  deadline: number,
  model: string,
): Promise<LoadedInputs | undefined> {
  if (!inputs) return undefined;
  const loaded = await Promise.all(
    inputs.images.map((input, index) => load(store, input, `images[${index}]`, MAX_INPUT_IMAGE_BYTES, deadline)),
  );
  const images = loaded.map(({ bytes, info }) => ({ bytes, contentType: info.contentType }));
  const mask = inputs.mask ? await load(store, inputs.mask, 'mask', MAX_MASK_BYTES, deadline) : undefined;
  const shapes = { images: loaded.map(({ info }) => shapeOf(info)), ...(mask ? { mask: shapeOf(mask.info) } : {}) };
  refuseUnfit(model, shapes.images, shapes.mask);
  if (!mask) return { images, shapes };
  if (!mask.info.alpha) throw refused('mask', 'must be a PNG with transparency (where to edit).');
  return { images, mask: { bytes: mask.bytes, contentType: mask.info.contentType }, shapes };
}
