// Jest's stand-in for esbuild's text loader: a file imported `with { type: 'text' }` (the Generate page's app.js
// and app.css) becomes an ES module whose default export is the file's text, as in the shipped bundle.
module.exports = {
  process(sourceText) {
    return { code: `export default ${JSON.stringify(sourceText)};\n` };
  },
};
