/**
 * The Generate page: one static HTML document and one script, no framework (a form, a fetch loop and a list do
 * not need one). Served by the API function itself at `GET /` and `GET /app.js`, and
 * deployed also at `/app/` on the CloudFront domain, where the API is at `/api/` (serverless.yml maps the paths).
 * Either way page and API share one origin: no CORS to configure, and the API URL is the page's own.
 *
 * The script uses DOM APIs only (createElement, textContent), never HTML strings, so it runs under a strict CSP
 * with Trusted Types required. The key is kept in sessionStorage: gone with the tab.
 */
import { familyOf, imageInputOf } from '../domain/models.js';

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
<script src="app.js" defer></script>
</body>
</html>
`;
}

export const PAGE_STYLE = `body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
main{max-width:52rem;margin:0 auto;padding:1.5rem}
label{display:block;font-weight:600;margin-bottom:.25rem}
input,textarea,select{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #8a94a3;border-radius:.375rem;
background:#fff}
small{color:#4a5563}
.row{display:grid;grid-template-columns:repeat(auto-fit,minmax(8rem,1fr));gap:.75rem}
button{font:inherit;padding:.6rem 1.2rem;border-radius:.375rem;border:1px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer}
button[aria-disabled=true]{opacity:.6;cursor:progress}
#elapsed{color:#4a5563;margin-top:-.5rem}
button.secondary{background:#fff;color:#1d4ed8}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
#error{color:#9f1239;background:#ffe4e6;padding:.75rem;border-radius:.375rem}
#image{max-width:100%;border-radius:.5rem;display:block}
#recent{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.75rem}
#recent li{background:#fff;border-radius:.5rem;padding:.5rem;font-size:.85rem}
#recent img{width:100%;border-radius:.375rem}
`;

/** The page's script: plain browser JavaScript (no template literals, so it can live in this TypeScript string). */
export const PAGE_SCRIPT = `'use strict';
(function () {
  var config = JSON.parse(document.getElementById('config').textContent);
  // Served at /app/ on the CloudFront domain, the API is at /api there; served by the API itself, at its root.
  var API = location.pathname.indexOf('/app/') === 0 ? '/api' : '';
  var form = document.getElementById('generate');
  var keyInput = document.getElementById('key');
  var promptInput = document.getElementById('prompt');
  var button = document.getElementById('generate-button');
  var statusLine = document.getElementById('status');
  var errorLine = document.getElementById('error');
  var result = document.getElementById('result');
  var image = document.getElementById('image');
  var details = document.getElementById('details');
  var recent = document.getElementById('recent');
  var elapsed = document.getElementById('elapsed');
  var usageLine = document.getElementById('usage');
  var resultTitle = document.getElementById('result-title');
  var editingLine = document.getElementById('editing');
  var editingText = document.getElementById('editing-text');
  var busy = false;
  // The image being edited (its id), from a list item's Edit button; the next Generate uses it as its input.
  var editing = '';
  function editImage(id) {
    editing = id;
    editingText.textContent = id ? 'Editing image ' + id + ': describe the change in the prompt.' : '';
    editingLine.hidden = !id;
    if (id) { say('Editing image ' + id + '.'); promptInput.focus(); }
  }
  document.getElementById('stop-editing').addEventListener('click', function () { editImage(''); say('Not editing.'); promptInput.focus(); });
  var selects = {
    model: document.getElementById('model'),
    size: document.getElementById('size'),
    quality: document.getElementById('quality'),
    format: document.getElementById('format'),
    previews: document.getElementById('previews')
  };
  var MAX_POLL_MS = 10 * 60 * 1000;
  // How long the API may hold a request before answering 202 (Prefer: wait); ?wait=N on the page's URL changes it.
  var waitParam = Number(new URLSearchParams(location.search).get('wait'));
  var waitGiven = Number.isInteger(waitParam) && waitParam >= 0 && waitParam <= 25 && location.search.indexOf('wait=') >= 0;
  var WAIT_SECONDS = waitGiven ? waitParam : 20;

  keyInput.value = sessionStorage.getItem('durable-image-api-key') || '';
  keyInput.addEventListener('change', function () {
    sessionStorage.setItem('durable-image-api-key', keyInput.value.trim());
    loadRecent();
  });

  function fill(select, values, withDefault) {
    select.replaceChildren();
    if (withDefault) select.append(new Option('default', ''));
    values.forEach(function (value) { select.append(new Option(value, value)); });
  }
  fill(selects.model, Object.keys(config.models), false);
  selects.model.value = config.defaultModel;
  function modelChanged() {
    var options = config.models[selects.model.value] || { sizes: [], qualities: [], formats: [], previews: 0 };
    fill(selects.size, options.sizes, true);
    fill(selects.quality, options.qualities, true);
    var counts = [];
    for (var count = 0; count <= options.previews; count += 1) counts.push(String(count));
    fill(selects.previews, counts, false);
    selects.previews.disabled = options.previews === 0;
    fill(selects.format, options.formats, true);
    selects.quality.disabled = options.qualities.length === 0;
  }
  selects.model.addEventListener('change', modelChanged);
  modelChanged();

  function say(text) { statusLine.textContent = text; }
  function showError(text) { errorLine.textContent = text; errorLine.hidden = text === ''; }
  function headers(extra) {
    var all = { authorization: 'Bearer ' + keyInput.value.trim() };
    Object.keys(extra || {}).forEach(function (name) { all[name] = extra[name]; });
    return all;
  }
  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }
  function whenText(seconds) {
    var at = new Date(Date.now() + seconds * 1000);
    return at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  var MESSAGES = {
    unauthorized: 'The API key (or token) was not accepted. Check it and try again.',
    quota_exceeded: 'You have reached your daily limit.',
    spend_cap_reached: 'The service has reached its daily spending cap for everyone.',
    content_policy_violation: 'This prompt is not allowed. Change it and try again.',
    provider_busy: 'The image service is busy.',
    provider_timeout: 'The image took too long to generate. Try again, or choose a lower quality.',
    invalid_request: 'The request is not valid.',
    payload_too_large: 'The prompt is too long.',
    generation_interrupted: 'The generation was interrupted. It was not charged twice; try again.',
    service_starting: 'The local API is still starting; try again in a moment.'
  };
  function describe(status, body, response) {
    var error = (body && body.error) || {};
    var text = MESSAGES[error.code] || 'Something went wrong (' + (error.code || 'HTTP ' + status) + ').';
    if (error.code === 'invalid_request' && error.message) text = error.message;
    var retryAfter = response && Number(response.headers.get('retry-after'));
    var daily = error.code === 'quota_exceeded' || error.code === 'spend_cap_reached';
    if (daily && retryAfter > 0) text += ' It resets at ' + whenText(retryAfter) + '.';
    else if (retryAfter > 0) text += ' Retry in ' + retryAfter + ' s.';
    if (error.requestId) text += ' (request ' + error.requestId + ')';
    return text;
  }

  // The latest preview of a running image, in place of the image until it is ready ("preview 1 of 2").
  var shownPreview = '';
  function showPreview(resource, asked) {
    var latest = resource.previews && resource.previews[resource.previews.length - 1];
    if (!latest || latest.url === shownPreview) return false;
    shownPreview = latest.url;
    var which = 'preview ' + (latest.index + 1) + ' of ' + asked;
    image.alt = 'Preview of the image being generated (' + which + '): ' + promptInput.value.trim().slice(0, 120);
    image.src = latest.url;
    details.textContent = 'This is ' + which + ', not the final image.';
    result.hidden = false;
    say('Still generating: ' + which + '...');
    return true;
  }

  function show(resource) {
    image.alt = 'Generated image: ' + promptInput.value.trim().slice(0, 120);
    image.src = resource.url;
    details.textContent = resource.width + ' x ' + resource.height + ', ' + resource.contentType + ', ' +
      Math.round(resource.bytes / 1024) + ' KB, ' + resource.model + ' - ';
    var link = document.createElement('a');
    link.href = resource.url;
    link.textContent = 'permanent URL';
    details.append(link);
    result.hidden = false;
  }

  async function readJson(response) { try { return await response.json(); } catch (e) { return undefined; } }

  // The first words of each prompt this browser sent, by image id: the list shows them on its cards. The API keeps
  // a prompt only in the image's private record, never in the list it answers, so the page keeps its own record
  // (this browser's localStorage, the latest 100 images).
  var PROMPTS_KEY = 'durable-image-api-prompts';
  function promptsSeen() {
    try { return JSON.parse(localStorage.getItem(PROMPTS_KEY) || '{}') || {}; } catch (e) { return {}; }
  }
  function rememberPrompt(id, text) {
    var seen = promptsSeen();
    seen[id] = text.trim().split(/\\s+/).slice(0, 8).join(' ');
    var ids = Object.keys(seen);
    ids.slice(0, Math.max(0, ids.length - 100)).forEach(function (old) { delete seen[old]; });
    try { localStorage.setItem(PROMPTS_KEY, JSON.stringify(seen)); } catch (e) { /* full or off: cards show no prompt */ }
  }

  // What the previous key showed is not this key's: on a refused key, the list, the usage and the image go.
  function forgetShown() {
    listVersion += 1;
    recent.replaceChildren();
    usageLine.hidden = true;
    usageLine.textContent = '';
    result.hidden = true;
    image.removeAttribute('src');
    shownPreview = '';
  }

  async function generate(event) {
    event.preventDefault();
    showError('');
    if (busy) return;
    if (keyInput.value.trim() === '') { showError('Enter your API key first.'); keyInput.focus(); return; }
    if (promptInput.value.trim() === '') { showError('Describe the image in the prompt first.'); promptInput.focus(); return; }
    sessionStorage.setItem('durable-image-api-key', keyInput.value.trim());
    var body = { prompt: promptInput.value };
    ['model', 'size', 'quality', 'format'].forEach(function (name) {
      if (selects[name].value && !selects[name].disabled) body[name] = selects[name].value;
    });
    var previews = selects.previews.disabled ? 0 : Number(selects.previews.value) || 0;
    if (previews > 0) body.previews = previews;
    if (editing) {
      var chosen = config.models[selects.model.value] || { inputImages: 0 };
      if (!chosen.inputImages) { showError('The model ' + selects.model.value + ' cannot edit images: choose another, or stop editing.'); return; }
      body.images = [{ id: editing }];
    }
    shownPreview = '';
    // Busy, not disabled: a disabled button loses the keyboard focus (it would drop to the top of the page).
    busy = true;
    button.setAttribute('aria-disabled', 'true');
    say('Generating your image...');
    // The time since Generate was pressed, every second, beside the status (not in it: a live region that
    // changed every second would be read out every second).
    var pressed = Date.now();
    function tick() { elapsed.textContent = Math.floor((Date.now() - pressed) / 1000) + ' s since you pressed Generate'; }
    tick();
    elapsed.hidden = false;
    var ticker = setInterval(tick, 1000);
    var lastSaid = '';
    try {
      // With previews, answered at once and polled every second, so each preview shows as it arrives; without,
      // the API holds the request until the image is ready (or its wait ends).
      var response = await fetch(API + '/images', {
        method: 'POST',
        headers: headers({ 'content-type': 'application/json', prefer: previews > 0 ? 'respond-async' : 'wait=' + WAIT_SECONDS }),
        body: JSON.stringify(body)
      });
      var resource = await readJson(response);
      if (resource && resource.id) rememberPrompt(resource.id, promptInput.value);
      if (response.status === 401) forgetShown();
      var started = Date.now();
      while (response.status === 202 && Date.now() - started < MAX_POLL_MS) {
        var now = resource.status === 'queued'
          ? 'Still generating: waiting for a worker to start...'
          : 'Still generating: the image is being made...';
        if (previews > 0 && showPreview(resource, previews)) lastSaid = statusLine.textContent;
        else if (now !== lastSaid && !shownPreview) { say(now); lastSaid = now; }
        await sleep(previews > 0 ? 1000 : 1000 * Math.max(1, Number(response.headers.get('retry-after')) || 5));
        response = await fetch(API + '/images/' + encodeURIComponent(resource.id), { headers: headers() });
        resource = await readJson(response);
        if (response.ok && (resource.status === 'queued' || resource.status === 'running')) {
          response = new Response(JSON.stringify(resource), { status: 202, headers: { 'retry-after': '5' } });
        }
      }
      if (response.ok && resource && resource.status === 'succeeded') {
        editImage('');
        show(resource);
        say('Your image is ready.');
        // To the new image, where the user goes next (the status above is announced as well).
        resultTitle.focus();
        loadRecent();
      } else if (response.ok && resource && resource.status === 'failed') {
        say('');
        showError(describe(200, { error: resource.error }, undefined));
      } else {
        say('');
        showError(describe(response.status, resource, response));
      }
    } catch (e) {
      say('');
      showError('The service could not be reached. Check your connection and try again.');
    } finally {
      clearInterval(ticker);
      elapsed.hidden = true;
      busy = false;
      button.removeAttribute('aria-disabled');
    }
  }
  form.addEventListener('submit', generate);

  function dollars(amount) { return '$' + amount.toFixed(2); }
  // The caller's day (GET /usage); hidden where the deployment counts none (404) or it cannot be read.
  async function loadUsage() {
    var response = await fetch(API + '/usage', { headers: headers() });
    // A refused key: the list's own load (loadRecent) clears the rest and says so.
    if (response.status === 401) { usageLine.hidden = true; return; }
    var usage = response.ok ? await readJson(response) : undefined;
    if (!usage) { usageLine.hidden = true; return; }
    var spent = usage.spendUsd.settled + usage.spendUsd.reserved;
    usageLine.textContent = usage.images.used + ' of ' + usage.images.limit + ' images today, ' +
      dollars(spent) + ' of ' + dollars(usage.spendUsd.limit) +
      (usage.serviceCapReached ? ' (the service has reached its daily cap)' : '');
    usageLine.hidden = false;
  }

  // Each load of the list, or a Delete, supersedes the loads still in flight: a list read before a Delete must not
  // bring the deleted image back.
  var listVersion = 0;
  async function loadRecent() {
    if (keyInput.value.trim() === '') return;
    var version = ++listVersion;
    loadUsage().catch(function () { usageLine.hidden = true; });
    var key = keyInput.value.trim();
    var response = await fetch(API + '/images?limit=12', { headers: headers() });
    if (response.status === 401) {
      // Only for the key still in the field, and the latest load: a late answer for an earlier key changes nothing.
      if (version !== listVersion || key !== keyInput.value.trim()) return;
      forgetShown();
      showError(MESSAGES.unauthorized);
      return;
    }
    if (!response.ok) return;
    var page = await readJson(response);
    if (version !== listVersion) return;
    recent.replaceChildren();
    var prompts = promptsSeen();
    (page.data || []).forEach(function (item) {
      var entry = document.createElement('li');
      var words = prompts[item.id];
      if (item.status === 'succeeded') {
        var thumbnail = document.createElement('img');
        thumbnail.src = item.url;
        thumbnail.alt = words ? 'Image: ' + words : 'Image ' + item.id;
        entry.append(thumbnail);
      } else if (item.status === 'running' || item.status === 'queued') {
        // A running image shows its latest preview, when it streams some (the list itself carries none).
        showLatestPreview(entry, item, version, words);
      }
      if (words) {
        var title = document.createElement('p');
        title.className = 'prompt';
        title.textContent = words;
        entry.append(title);
      }
      var label = document.createElement('p');
      label.textContent = item.status + ', ' + new Date(item.createdAt).toLocaleString();
      var remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'secondary';
      remove.textContent = 'Delete';
      remove.setAttribute('aria-label', 'Delete image ' + item.id);
      remove.addEventListener('click', async function () {
        var answer = await fetch(API + '/images/' + encodeURIComponent(item.id), { method: 'DELETE', headers: headers() });
        if (answer.status === 204 || answer.status === 404) {
          // Focus goes to the next image's Delete (or the previous one's, or Refresh), not back to the page top.
          var neighbour = entry.nextElementSibling || entry.previousElementSibling;
          var next = neighbour && neighbour.querySelector('button[aria-label^="Delete image"]');
          listVersion += 1;
          entry.remove();
          (next || document.getElementById('refresh')).focus();
          if (image.src === item.url) { result.hidden = true; image.removeAttribute('src'); }
          say('Image deleted.');
        } else {
          showError(describe(answer.status, await readJson(answer), answer));
        }
      });
      if (item.status === 'succeeded') {
        var edit = document.createElement('button');
        edit.type = 'button';
        edit.className = 'secondary';
        edit.textContent = 'Edit';
        edit.setAttribute('aria-label', 'Edit image ' + item.id);
        edit.addEventListener('click', function () { editImage(item.id); });
        entry.append(label, edit, remove);
      } else {
        entry.append(label, remove);
      }
      recent.append(entry);
    });
    if (!page.data || page.data.length === 0) {
      var empty = document.createElement('li');
      empty.textContent = 'No images yet.';
      recent.append(empty);
    }
  }
  async function showLatestPreview(entry, item, version, words) {
    var answer = await fetch(API + '/images/' + encodeURIComponent(item.id), { headers: headers() });
    var resource = answer.ok ? await readJson(answer) : undefined;
    var latest = resource && resource.previews && resource.previews[resource.previews.length - 1];
    if (!latest || version !== listVersion) return;
    var preview = document.createElement('img');
    preview.src = latest.url;
    preview.alt = 'Preview ' + (latest.index + 1) + ' of ' + (words ? 'the image: ' + words : 'image ' + item.id) + ' (still generating)';
    entry.prepend(preview);
  }
  document.getElementById('refresh').addEventListener('click', loadRecent);
  loadRecent();
})();
`;

/** The page's CSP: its own script and style, its API, images from the image origin; nothing else. */
export const pageCsp = (imageOrigin: string): string =>
  [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    `img-src ${imageOrigin}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
  ].join('; ');
