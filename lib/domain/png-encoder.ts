import { crc32, deflateSync } from 'node:zlib';

/**
 * A minimal truecolour PNG encoder (8-bit RGB, or RGBA with `channels` 4; filter 0). Written here because the
 * offline generator needs only this and every PNG library would add weight to the Lambda bundle; node:zlib does
 * the compression and the CRCs.
 */
export function encodePng(width: number, height: number, rgb: Uint8Array, channels: 3 | 4 = 3): Buffer {
  const stride = width * channels;
  if (rgb.length !== stride * height) throw new RangeError(`pixel length does not match width x height x ${channels}`);
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y += 1) {
    // Each scanline starts with its filter type byte (0 = none).
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  // Bit depth 8, colour type RGB (2) or RGBA (6), deflate, filter 0, no interlace.
  header.set([8, channels === 4 ? 6 : 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
