import wasmBytes from '@contentauth/c2pa-wasm/c2pa.wasm';
import { initSync } from '@contentauth/c2pa-wasm';

let initialised = false;

/**
 * Compiles c2pa-rs's WebAssembly module once per container (about 100 ms), on the first read or signature. The
 * 8.7 MB module is inlined into this adapter's chunk by esbuild's binary loader (serverless.yml), so only the
 * functions that store images carry it.
 */
export function initC2pa(): void {
  if (initialised) return;
  initSync({ module: wasmBytes });
  initialised = true;
}

/**
 * The bytes of an image handed to c2pa-rs's builder, which takes a browser `Blob` and reads it with the browser's
 * `FileReaderSync` (c2pa-wasm's `wasm_builder.rs`). Node has neither a synchronous Blob read nor FileReaderSync, so
 * the builder gets this in-memory stand-in ({size, slice}) and the reader below answers for it alone.
 */
export class BytesBlob {
  constructor(readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  slice(start?: number, end?: number): BytesBlob {
    return new BytesBlob(this.bytes.subarray(start, end));
  }
  /** This object where c2pa-wasm's types ask for a Blob: it reads only `size` and `slice`, then FileReaderSync. */
  asBlob(): Blob {
    // A structural stand-in, not a DOM Blob: what the builder calls on it is the two members above.
    return this as unknown as Blob;
  }
}

class BytesBlobReader {
  readAsArrayBuffer(blob: unknown): ArrayBuffer {
    if (!(blob instanceof BytesBlob)) throw new TypeError('FileReaderSync here reads only in-memory image bytes');
    const { bytes } = blob;
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
  }
}

/** Defines FileReaderSync for BytesBlob where the runtime has none (Node, Lambda); a browser's is left alone. */
export function provideFileReaderSync(): void {
  const scope = globalThis as { FileReaderSync?: unknown };
  scope.FileReaderSync ??= BytesBlobReader;
}
