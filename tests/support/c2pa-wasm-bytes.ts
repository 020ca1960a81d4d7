import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Jest's stand-in for esbuild's binary loader (serverless.yml `loader: { '.wasm': binary }`): the C2PA module's bytes,
 * where the bundle has them inlined. Mapped in jest.config.js (Jest would otherwise instantiate the `.wasm` itself).
 * Found from the package's own manifest: the `c2pa.wasm` subpath is the name this file is mapped to.
 */
const packageRoot = dirname(createRequire(import.meta.url).resolve('@contentauth/c2pa-wasm/package.json'));
const bytes: Uint8Array = readFileSync(join(packageRoot, 'pkg/c2pa_bg.wasm'));
export default bytes;
