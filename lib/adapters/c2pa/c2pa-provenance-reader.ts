import { WasmReader } from '@contentauth/c2pa-wasm';
import type { Provenance } from '../../domain/image-job.js';
import type { ProvenanceReader } from '../../ports.js';
import { initC2pa } from './c2pa-wasm.js';

/** The manifest store as c2pa-rs reports it (the fields read here). */
interface ManifestStore {
  validation_state?: string;
}

interface Manifest {
  claim_generator?: string;
  claim_generator_info?: { name?: string; version?: string }[];
  signature_info?: { issuer?: string; common_name?: string };
  assertions?: { label?: string; data?: { actions?: { action?: string; digitalSourceType?: string }[] } }[];
}

/**
 * Content Credentials read with the Content Authenticity Initiative's own implementation, c2pa-rs compiled to
 * WebAssembly (`@contentauth/c2pa-wasm`): the manifest store of the file, validated against these exact bytes
 * (`validation_state` Valid or Trusted; Invalid when a signature or a hard binding fails). No C2PA parsing of our
 * own. Whose manifest it is (the provider's, or this service's) is the caller's to say: it knows whether it signed.
 */
export class C2paProvenanceReader implements ProvenanceReader {
  async read(bytes: Buffer, contentType: string): Promise<Provenance> {
    initC2pa();
    let reader: WasmReader;
    try {
      reader = await WasmReader.fromBytes(contentType, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    } catch (error) {
      // c2pa-rs answers "no manifest" with an error of its own: the file simply carries none.
      if (/ManifestNotFound|JumbfNotFound|no JUMBF|not found/i.test(String(error))) return { manifest: 'none', valid: null };
      throw error;
    }
    try {
      const store = reader.manifestStore() as ManifestStore;
      const active = reader.activeManifest() as Manifest | undefined;
      if (!active) return { manifest: 'none', valid: null };
      const generator =
        active.claim_generator ?? active.claim_generator_info?.map((info) => [info.name, info.version].filter(Boolean).join('/')).join(' ');
      const created = active.assertions
        ?.filter((assertion) => assertion.label?.startsWith('c2pa.actions'))
        .flatMap((assertion) => assertion.data?.actions ?? [])
        .find((action) => action.digitalSourceType !== undefined);
      return {
        manifest: 'provider',
        valid: store.validation_state === 'Valid' || store.validation_state === 'Trusted',
        ...(active.signature_info?.issuer ? { signer: active.signature_info.issuer } : {}),
        ...(generator ? { claimGenerator: generator } : {}),
        ...(created?.digitalSourceType ? { digitalSourceType: created.digitalSourceType } : {}),
      };
    } finally {
      reader.free();
    }
  }
}
