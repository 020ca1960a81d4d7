/** A WebAssembly module's bytes, inlined by esbuild's binary loader (serverless.yml) and by Jest's wasm transform. */
declare module '*.wasm' {
  const bytes: Uint8Array;
  export default bytes;
}
