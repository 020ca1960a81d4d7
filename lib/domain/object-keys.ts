import { createHash, randomBytes } from 'node:crypto';

/**
 * Object keys. An id is 128 random bits in base64url (22 characters): unguessable, so the public prefix cannot
 * be enumerated, and unique, so a write never needs to overwrite. The date path keeps listings and lifecycle
 * rules cheap.
 */
export const newImageId = (): string => randomBytes(16).toString('base64url');

const datePath = (at: Date): string => {
  const yyyy = at.getUTCFullYear().toString().padStart(4, '0');
  const mm = (at.getUTCMonth() + 1).toString().padStart(2, '0');
  const dd = at.getUTCDate().toString().padStart(2, '0');
  return `${yyyy}/${mm}/${dd}`;
};

/** @example imageKey('images/', 'abc', new Date('2026-11-25'), 'png') // 'images/2026/11/25/abc.png' */
export const imageKey = (prefix: string, id: string, at: Date, extension: string): string => `${prefix}${datePath(at)}/${id}.${extension}`;

/**
 * A partial image's key: under the public prefix (served and granted like images), in a `previews/` folder that
 * the bucket's lifecycle rule expires; dated by the job's creation so all of a job's previews share a folder.
 *
 * @example previewKey('images/', 'abc', new Date('2026-11-25'), 1, 'png') // 'images/previews/2026/11/25/abc-1.png'
 */
export const previewKey = (prefix: string, id: string, at: Date, index: number, extension: string): string =>
  `${prefix}previews/${datePath(at)}/${id}-${index}.${extension}`;

/** @example recordKey('records/', 'abc', new Date('2026-11-25')) // 'records/2026/11/25/abc.json' */
export const recordKey = (prefix: string, id: string, at: Date): string => `${prefix}${datePath(at)}/${id}.json`;

/** The permanent URL of a key; each path segment is encoded, the slashes are kept. */
export const publicUrl = (baseUrl: string, key: string): string => `${baseUrl}/${key.split('/').map(encodeURIComponent).join('/')}`;

/** Where uploads go: a private prefix (never served), expired by the bucket's lifecycle rule. */
const UPLOAD_PREFIX = 'uploads/';

/**
 * An upload's key: under the caller's own folder (a hash of its principal key, so no name appears in it), so a
 * caller can only ever name its own uploads: the key is built from who is asking, never taken from the request.
 *
 * @example uploadKey('api-key:web-app', 'abc') // 'uploads/3f1c.../abc'
 */
export const uploadKey = (principalKey: string, id: string): string =>
  `${UPLOAD_PREFIX}${createHash('sha256').update(`uploads:${principalKey}`).digest('hex').slice(0, 32)}/${id}`;
