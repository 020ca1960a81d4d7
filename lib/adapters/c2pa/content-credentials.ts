/** The Content Credentials adapters, one chunk (with c2pa-rs's WebAssembly) loaded by the first image stored. */
export { C2paProvenanceReader } from './c2pa-provenance-reader.js';
export { C2paSigner } from './c2pa-signer.js';
