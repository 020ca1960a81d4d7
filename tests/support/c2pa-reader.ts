import { WasmReader, initSync } from '@contentauth/c2pa-wasm';
import wasmBytes from '@contentauth/c2pa-wasm/c2pa.wasm';

/** What the CAI's reader says of a file: the manifest store's validation state and its active manifest (c2pa-rs JSON). */
export interface C2paReport {
  validationState: string;
  /** The validation failures c2pa-rs lists for the active manifest (codes such as `assertion.dataHash.mismatch`). */
  failures: string[];
  // biome-ignore lint/suspicious/noExplicitAny: c2pa-rs's manifest JSON, checked field by field by the tests
  active: Record<string, any>;
}

/**
 * The Content Authenticity Initiative's own reader (c2pa-rs in WebAssembly, from npm), called here directly: an
 * independent check of what the service stored, outside the service's adapter.
 */
export async function readC2pa(bytes: Buffer, contentType: string): Promise<C2paReport> {
  initSync({ module: wasmBytes });
  const reader = await WasmReader.fromBytes(contentType, new Uint8Array(bytes));
  try {
    const store = reader.manifestStore() as {
      validation_state: string;
      validation_results?: { activeManifest?: { failure?: { code: string }[] } };
    };
    return {
      validationState: store.validation_state,
      failures: (store.validation_results?.activeManifest?.failure ?? []).map((failure) => failure.code),
      active: reader.activeManifest() as Record<string, unknown>,
    };
  } finally {
    reader.free();
  }
}
