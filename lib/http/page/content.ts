/**
 * The Generate page's content: its HTML document (written here, with each allowed model's options), its script
 * (app.js) and its style (app.css), both real files under the lint and the type check, inlined here as text by
 * esbuild's text loader. No framework: a form, a fetch loop and a list do not need one. Loaded by the page's first
 * request only (routes.ts, which owns the page's routes and headers).
 *
 * The script uses DOM APIs only (createElement, textContent), never HTML strings, so it runs under a strict CSP
 * with Trusted Types required. The key is kept in sessionStorage: gone with the tab.
 */
import { familyOf, imageInputOf } from '../../domain/models.js';
import script from './app.js' with { type: 'text' };
import style from './app.css' with { type: 'text' };

export const PAGE_SCRIPT: string = script;
export const PAGE_STYLE: string = style;

export interface PageOptions {
  models: readonly string[];
  defaultModel: string;
  /** Where images are served from, for the page's img-src. */
  imageOrigin: string;
}

interface ModelOptions {
  sizes: readonly string[];
  qualities: readonly string[];
  formats: readonly string[];
  /** How many partial images the model can stream (0: the Previews choice is not offered). */
  previews: number;
  /** How many input images the model takes (0: it cannot edit). */
  inputImages: number;
}

/** What the page may offer: each allowed model's sizes, qualities, formats, previews and image input (the domain's table). */
function modelOptions(models: readonly string[]): Record<string, ModelOptions> {
  const options: Record<string, ModelOptions> = {};
  for (const model of models) {
    const family = familyOf(model);
    if (family) {
      options[model] = {
        sizes: family.sizes,
        qualities: family.qualities,
        formats: family.formats,
        previews: family.maxPreviews,
        inputImages: imageInputOf(model).maxImages,
      };
    }
  }
  return options;
}

/** JSON safe inside a <script type="application/json"> block. */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

export function pageHtml(options: PageOptions): string {
  const config = scriptJson({ defaultModel: options.defaultModel, models: modelOptions(options.models) });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Generate an image</title>
<link rel="stylesheet" href="app.css">
</head>
<body>
<main>
<h1>Generate an image</h1>
<form id="generate" novalidate>
  <p><label for="key">API key</label>
  <input id="key" name="key" type="password" autocomplete="off" spellcheck="false" required aria-describedby="key-help">
  <small id="key-help">Or a JWT from your identity provider. Kept in this tab only (sessionStorage).</small></p>
  <p id="editing" hidden><span id="editing-text"></span> <button id="stop-editing" type="button" class="secondary">Stop editing</button></p>
  <p><label for="prompt">Prompt</label>
  <textarea id="prompt" name="prompt" rows="3" required maxlength="4000"></textarea></p>
  <div class="row">
    <p><label for="model">Model</label><select id="model" name="model"></select></p>
    <p><label for="size">Size</label><select id="size" name="size"></select></p>
    <p><label for="quality">Quality</label><select id="quality" name="quality"></select></p>
    <p><label for="format">Format</label><select id="format" name="format"></select></p>
    <p><label for="previews">Previews</label><select id="previews" name="previews" aria-describedby="previews-help"></select></p>
  </div>
  <p><small id="previews-help">Previews show the picture forming while it is made; each costs a little extra
  (100 image output tokens). Offered for models that stream them.</small></p>
  <p><button id="generate-button" type="submit">Generate</button></p>
</form>
<p id="status" role="status" aria-live="polite"></p>
<p id="elapsed" aria-hidden="true" hidden></p>
<p id="error" role="alert" hidden></p>
<section id="result" aria-labelledby="result-title" hidden>
  <h2 id="result-title" tabindex="-1">Your image</h2>
  <figure><img id="image" alt=""><figcaption id="details"></figcaption></figure>
</section>
<section aria-labelledby="recent-title">
  <h2 id="recent-title">Recent images</h2>
  <p id="usage" hidden></p>
  <p><button id="refresh" type="button">Refresh list</button></p>
  <ul id="recent"></ul>
</section>
</main>
<script type="application/json" id="config">${config}</script>
<script type="module" src="app.js"></script>
</body>
</html>
`;
}
