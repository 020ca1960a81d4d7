// A stylesheet imported `with { type: 'text' }` (the Generate page's app.css): esbuild's text loader inlines the
// file as a string in the bundle; Jest's text transform (tests/support/text-transform.cjs) does the same.
declare module '*.css' {
  const text: string;
  export default text;
}
