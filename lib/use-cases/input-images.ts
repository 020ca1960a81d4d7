/**
 * An image job's input images, read from the bucket and verified before any provider sees them: each a complete
 * PNG, JPEG or WebP within the size and pixel bounds, a mask a PNG with transparency the size of the first image.
 * What fails is the caller's to fix (400 `invalid_request` naming the entry) and nothing was spent.
 */
import { AppError } from '../errors.js';
import { ImageVerificationError, verifyImage, type ImageInfo } from '../domain/image-format.js';
import type { InputImage, JobInputs } from '../domain/image-job.js';
import { INPUT_MAX_SIDE, INPUT_MIN_SIDE, MAX_INPUT_IMAGE_BYTES, MAX_MASK_BYTES } from '../domain/models.js';
import type { ImageStore, InputImageBytes } from '../ports.js';

export interface LoadedInputs {
  images: InputImageBytes[];
  mask?: InputImageBytes | undefined;
}

const refused = (field: string, message: string): AppError =>
  new AppError('invalid_request', `"${field}" ${message}`, { details: { field } });

async function load(
  store: ImageStore,
  input: InputImage,
  field: string,
  maxBytes: number,
  deadline: number,
): Promise<{ bytes: Buffer; info: ImageInfo }> {
  let bytes: Buffer;
  try {
    bytes = await store.read(input.key, maxBytes, deadline);
  } catch (error) {
    if (error instanceof AppError && error.code === 'not_found') {
      throw refused(
        field,
        'upload' in input.ref
          ? 'names no upload: it was never completed, or has expired (uploads are kept one day).'
          : 'names an image that is no longer stored.',
      );
    }
    if (error instanceof AppError && error.code === 'payload_too_large') throw refused(field, `is larger than ${maxBytes} bytes.`);
    throw error;
  }
  let info: ImageInfo;
  try {
    info = verifyImage(bytes);
  } catch (error) {
    if (error instanceof ImageVerificationError) throw refused(field, 'is not a complete PNG, JPEG or WebP image.');
    throw error;
  }
  const sides = [info.width, info.height];
  if (sides.some((side) => side < INPUT_MIN_SIDE || side > INPUT_MAX_SIDE)) {
    throw refused(field, `must be ${INPUT_MIN_SIDE} to ${INPUT_MAX_SIDE} pixels on each side (it is ${info.width}x${info.height}).`);
  }
  return { bytes, info };
}

export async function loadInputs(store: ImageStore, inputs: JobInputs | undefined, deadline: number): Promise<LoadedInputs | undefined> {
  if (!inputs) return undefined;
  const loaded = await Promise.all(
    inputs.images.map((input, index) => load(store, input, `images[${index}]`, MAX_INPUT_IMAGE_BYTES, deadline)),
  );
  const images = loaded.map(({ bytes, info }) => ({ bytes, contentType: info.contentType }));
  if (!inputs.mask) return { images };
  const mask = await load(store, inputs.mask, 'mask', MAX_MASK_BYTES, deadline);
  const first = loaded[0]?.info;
  if (mask.info.format !== 'png' || !mask.info.alpha) throw refused('mask', 'must be a PNG with transparency (where to edit).');
  if (first && (mask.info.width !== first.width || mask.info.height !== first.height)) {
    throw refused(
      'mask',
      `must be the size of the first image (${first.width}x${first.height}; it is ${mask.info.width}x${mask.info.height}).`,
    );
  }
  return { images, mask: { bytes: mask.bytes, contentType: mask.info.contentType } };
}
