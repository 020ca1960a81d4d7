// The Generate page's script: plain browser JavaScript, type-checked as such (lib/http/page/tsconfig.json, with the
// DOM's types) and linted with the rest; served as text at /app.js (content.ts imports it with esbuild's text loader)
// and loaded as a module script (strict, deferred, its names its own).
/**
 * The element with this id, as the type the page's HTML gives it (content.ts); a page without it is a bug.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function byId(id, type) {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`the page has no #${id}`);
  return element;
}
/**
 * What the page knows of each model (content.ts writes it into the #config block).
 * @typedef {{ sizes: string[], qualities: string[], formats: string[], previews: number, inputImages: number }} ModelOptions
 * @type {{ defaultModel: string, models: Record<string, ModelOptions | undefined> }}
 */
const config = JSON.parse(byId('config', HTMLScriptElement).textContent || '{}');
// Served at /app/ on the CloudFront domain, the API is at /api there; served by the API itself, at its root.
const API = location.pathname.indexOf('/app/') === 0 ? '/api' : '';
const form = byId('generate', HTMLFormElement);
const keyInput = byId('key', HTMLInputElement);
const promptInput = byId('prompt', HTMLTextAreaElement);
const button = byId('generate-button', HTMLButtonElement);
const statusLine = byId('status', HTMLElement);
const errorLine = byId('error', HTMLElement);
const result = byId('result', HTMLElement);
const image = byId('image', HTMLImageElement);
const details = byId('details', HTMLElement);
const recent = byId('recent', HTMLUListElement);
const elapsed = byId('elapsed', HTMLElement);
const usageLine = byId('usage', HTMLElement);
const resultTitle = byId('result-title', HTMLElement);
const editingLine = byId('editing', HTMLElement);
const editingText = byId('editing-text', HTMLElement);
const refreshButton = byId('refresh', HTMLButtonElement);
let busy = false;
// The image being edited (its id), from a list item's Edit button; the next Generate uses it as its input.
let editing = '';
/** @param {string} id the image to edit, or '' to stop editing */
function editImage(id) {
  editing = id;
  editingText.textContent = id ? `Editing image ${id}: describe the change in the prompt.` : '';
  editingLine.hidden = !id;
  if (id) {
    say(`Editing image ${id}.`);
    promptInput.focus();
  }
}
byId('stop-editing', HTMLButtonElement).addEventListener('click', () => {
  editImage('');
  say('Not editing.');
  promptInput.focus();
});
/** @type {Record<'model' | 'size' | 'quality' | 'format' | 'previews', HTMLSelectElement>} */
const selects = {
  model: byId('model', HTMLSelectElement),
  size: byId('size', HTMLSelectElement),
  quality: byId('quality', HTMLSelectElement),
  format: byId('format', HTMLSelectElement),
  previews: byId('previews', HTMLSelectElement),
};
const MAX_POLL_MS = 10 * 60 * 1000;
// How long the API may hold a request before answering 202 (Prefer: wait); ?wait=N on the page's URL changes it.
const waitParam = Number(new URLSearchParams(location.search).get('wait'));
const waitGiven = Number.isInteger(waitParam) && waitParam >= 0 && waitParam <= 25 && location.search.indexOf('wait=') >= 0;
const WAIT_SECONDS = waitGiven ? waitParam : 20;

keyInput.value = sessionStorage.getItem('durable-image-api-key') || '';
keyInput.addEventListener('change', () => {
  sessionStorage.setItem('durable-image-api-key', keyInput.value.trim());
  loadRecent();
});

/**
 * @param {HTMLSelectElement} select
 * @param {string[]} values
 * @param {boolean} withDefault
 */
function fill(select, values, withDefault) {
  select.replaceChildren();
  if (withDefault) select.append(new Option('default', ''));
  values.forEach((value) => {
    select.append(new Option(value, value));
  });
}
fill(selects.model, Object.keys(config.models), false);
selects.model.value = config.defaultModel;
function modelChanged() {
  const options = config.models[selects.model.value] || { sizes: [], qualities: [], formats: [], previews: 0, inputImages: 0 };
  fill(selects.size, options.sizes, true);
  fill(selects.quality, options.qualities, true);
  const counts = [];
  for (let count = 0; count <= options.previews; count += 1) counts.push(String(count));
  fill(selects.previews, counts, false);
  selects.previews.disabled = options.previews === 0;
  fill(selects.format, options.formats, true);
  selects.quality.disabled = options.qualities.length === 0;
}
selects.model.addEventListener('change', modelChanged);
modelChanged();

/** @param {string} text */
function say(text) {
  statusLine.textContent = text;
}
/** @param {string} text */
function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = text === '';
}
/**
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
function headers(extra) {
  /** @type {Record<string, string>} */
  const all = { authorization: `Bearer ${keyInput.value.trim()}` };
  Object.entries(extra || {}).forEach((entry) => {
    all[entry[0]] = entry[1];
  });
  return all;
}
/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
}
/** @param {number} seconds */
function whenText(seconds) {
  const at = new Date(Date.now() + seconds * 1000);
  return at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** @type {Record<string, string>} */
const MESSAGES = {
  unauthorized: 'The API key (or token) was not accepted. Check it and try again.',
  quota_exceeded: 'You have reached your daily limit.',
  spend_cap_reached: 'The service has reached its daily spending cap for everyone.',
  content_policy_violation: 'This prompt is not allowed. Change it and try again.',
  provider_busy: 'The image service is busy.',
  provider_timeout: 'The image took too long to generate. Try again, or choose a lower quality.',
  invalid_request: 'The request is not valid.',
  payload_too_large: 'The prompt is too long.',
  generation_interrupted: 'The generation was interrupted. It was not charged twice; try again.',
  service_starting: 'The local API is still starting; try again in a moment.',
};
/**
 * @typedef {{ code?: string, message?: string, requestId?: string }} ApiError
 * @param {number} status
 * @param {{ error?: ApiError } | undefined} body
 * @param {Response | undefined} response
 */
function describe(status, body, response) {
  /** @type {ApiError} */
  const error = body?.error || {};
  let text = (error.code && MESSAGES[error.code]) || `Something went wrong (${error.code || `HTTP ${status}`}).`;
  if (error.code === 'invalid_request' && error.message) text = error.message;
  const retryAfter = response ? Number(response.headers.get('retry-after')) : 0;
  const daily = error.code === 'quota_exceeded' || error.code === 'spend_cap_reached';
  if (daily && retryAfter > 0) text += ` It resets at ${whenText(retryAfter)}.`;
  else if (retryAfter > 0) text += ` Retry in ${retryAfter} s.`;
  if (error.requestId) text += ` (request ${error.requestId})`;
  return text;
}

// The latest preview of a running image, in place of the image until it is ready ("preview 1 of 2").
let shownPreview = '';
/**
 * An image resource as the API answers it (GET /images/{id}, POST /images).
 * @typedef {{ id: string, status: string, url: string, width: number, height: number, contentType: string,
 *   bytes: number, model: string, createdAt: string, error?: ApiError,
 *   previews?: { index: number, url: string }[], provenance?: Provenance }} Resource
 * @typedef {{ manifest: 'provider' | 'service' | 'none', valid: boolean | null, signer?: string }} Provenance
 * @param {Resource} resource
 * @param {number} asked
 */
function showPreview(resource, asked) {
  const latest = resource.previews?.[resource.previews.length - 1];
  if (!latest || latest.url === shownPreview) return false;
  shownPreview = latest.url;
  const which = `preview ${latest.index + 1} of ${asked}`;
  image.alt = `Preview of the image being generated (${which}): ${promptInput.value.trim().slice(0, 120)}`;
  image.src = latest.url;
  details.textContent = `This is ${which}, not the final image.`;
  result.hidden = false;
  say(`Still generating: ${which}...`);
  return true;
}

/** @param {Resource} resource */
function show(resource) {
  image.alt = `Generated image: ${promptInput.value.trim().slice(0, 120)}`;
  image.src = resource.url;
  details.textContent =
    resource.width +
    ' x ' +
    resource.height +
    ', ' +
    resource.contentType +
    ', ' +
    Math.round(resource.bytes / 1024) +
    ' KB, ' +
    resource.model +
    ' - ';
  const link = document.createElement('a');
  link.href = resource.url;
  link.textContent = 'permanent URL';
  details.append(link);
  if (resource.provenance) {
    const credentials = document.createElement('span');
    credentials.id = 'credentials';
    credentials.textContent = ` Content Credentials: ${credentialsText(resource.provenance)}.`;
    details.append(credentials);
  }
  result.hidden = false;
}

/**
 * What the image's C2PA manifest says, in words (the API's `provenance`).
 * @param {Provenance} provenance
 */
function credentialsText(provenance) {
  if (provenance.manifest === 'none') return provenance.valid === null ? 'none' : 'none readable';
  const whose = provenance.manifest === 'provider' ? "the provider's" : "this service's";
  const state = provenance.valid === true ? 'valid' : provenance.valid === false ? 'NOT valid for this file' : 'not checked';
  return `${whose}, ${state}${provenance.signer ? `, signed by ${provenance.signer}` : ''}`;
}

/**
 * The answer's JSON, or undefined when it has none.
 * @param {Response} response
 * @returns {Promise<any>} any: the API's answers are typed where they are read (Resource, the usage, the list)
 */
async function readJson(response) {
  try {
    return await response.json();
  } catch (_e) {
    return undefined;
  }
}

// The first words of each prompt this browser sent, by image id: the list shows them on its cards. The API keeps
// a prompt only in the image's private record, never in the list it answers, so the page keeps its own record
// (this browser's localStorage, the latest 100 images).
const PROMPTS_KEY = 'durable-image-api-prompts';
/** @returns {Record<string, string>} */
function promptsSeen() {
  try {
    return JSON.parse(localStorage.getItem(PROMPTS_KEY) || '{}') || {};
  } catch (_e) {
    return {};
  }
}
/**
 * @param {string} id
 * @param {string} text
 */
function rememberPrompt(id, text) {
  const seen = promptsSeen();
  seen[id] = text.trim().split(/\s+/).slice(0, 8).join(' ');
  const ids = Object.keys(seen);
  ids.slice(0, Math.max(0, ids.length - 100)).forEach((old) => {
    delete seen[old];
  });
  try {
    localStorage.setItem(PROMPTS_KEY, JSON.stringify(seen));
  } catch (_e) {
    /* full or off: cards show no prompt */
  }
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

/** @param {SubmitEvent} event */
async function generate(event) {
  event.preventDefault();
  showError('');
  if (busy) return;
  if (keyInput.value.trim() === '') {
    showError('Enter your API key first.');
    keyInput.focus();
    return;
  }
  if (promptInput.value.trim() === '') {
    showError('Describe the image in the prompt first.');
    promptInput.focus();
    return;
  }
  sessionStorage.setItem('durable-image-api-key', keyInput.value.trim());
  /** @type {Record<string, unknown>} */
  const body = { prompt: promptInput.value };
  /** @type {('model' | 'size' | 'quality' | 'format')[]} */ (['model', 'size', 'quality', 'format']).forEach((name) => {
    if (selects[name].value && !selects[name].disabled) body[name] = selects[name].value;
  });
  const previews = selects.previews.disabled ? 0 : Number(selects.previews.value) || 0;
  if (previews > 0) body.previews = previews;
  if (editing) {
    const chosen = config.models[selects.model.value] || { inputImages: 0 };
    if (!chosen.inputImages) {
      showError(`The model ${selects.model.value} cannot edit images: choose another, or stop editing.`);
      return;
    }
    body.images = [{ id: editing }];
  }
  shownPreview = '';
  // Busy, not disabled: a disabled button loses the keyboard focus (it would drop to the top of the page).
  busy = true;
  button.setAttribute('aria-disabled', 'true');
  say('Generating your image...');
  // The time since Generate was pressed, every second, beside the status (not in it: a live region that
  // changed every second would be read out every second).
  const pressed = Date.now();
  function tick() {
    elapsed.textContent = `${Math.floor((Date.now() - pressed) / 1000)} s since you pressed Generate`;
  }
  tick();
  elapsed.hidden = false;
  const ticker = setInterval(tick, 1000);
  let lastSaid = '';
  try {
    // With previews, answered at once and polled every second, so each preview shows as it arrives; without,
    // the API holds the request until the image is ready (or its wait ends).
    let response = await fetch(`${API}/images`, {
      method: 'POST',
      headers: headers({ 'content-type': 'application/json', prefer: previews > 0 ? 'respond-async' : `wait=${WAIT_SECONDS}` }),
      body: JSON.stringify(body),
    });
    /** @type {Resource} */
    let resource = await readJson(response);
    if (resource?.id) rememberPrompt(resource.id, promptInput.value);
    if (response.status === 401) forgetShown();
    const started = Date.now();
    while (response.status === 202 && Date.now() - started < MAX_POLL_MS) {
      const now =
        resource.status === 'queued'
          ? 'Still generating: waiting for a worker to start...'
          : 'Still generating: the image is being made...';
      if (previews > 0 && showPreview(resource, previews)) lastSaid = statusLine.textContent;
      else if (now !== lastSaid && !shownPreview) {
        say(now);
        lastSaid = now;
      }
      await sleep(previews > 0 ? 1000 : 1000 * Math.max(1, Number(response.headers.get('retry-after')) || 5));
      response = await fetch(`${API}/images/${encodeURIComponent(resource.id)}`, { headers: headers() });
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
  } catch (_e) {
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

/** @param {number} amount */
function dollars(amount) {
  return `$${amount.toFixed(2)}`;
}
// The caller's day (GET /usage); hidden where the deployment counts none (404) or it cannot be read.
async function loadUsage() {
  const response = await fetch(`${API}/usage`, { headers: headers() });
  // A refused key: the list's own load (loadRecent) clears the rest and says so.
  if (response.status === 401) {
    usageLine.hidden = true;
    return;
  }
  const usage = response.ok ? await readJson(response) : undefined;
  if (!usage) {
    usageLine.hidden = true;
    return;
  }
  const spent = usage.spendUsd.settled + usage.spendUsd.reserved;
  usageLine.textContent =
    usage.images.used +
    ' of ' +
    usage.images.limit +
    ' images today, ' +
    dollars(spent) +
    ' of ' +
    dollars(usage.spendUsd.limit) +
    (usage.serviceCapReached ? ' (the service has reached its daily cap)' : '');
  usageLine.hidden = false;
}

// Each load of the list, or a Delete, supersedes the loads still in flight: a list read before a Delete must not
// bring the deleted image back.
let listVersion = 0;
async function loadRecent() {
  if (keyInput.value.trim() === '') return;
  const version = ++listVersion;
  loadUsage().catch(() => {
    usageLine.hidden = true;
  });
  const key = keyInput.value.trim();
  const response = await fetch(`${API}/images?limit=12`, { headers: headers() });
  if (response.status === 401) {
    // Only for the key still in the field, and the latest load: a late answer for an earlier key changes nothing.
    if (version !== listVersion || key !== keyInput.value.trim()) return;
    forgetShown();
    showError(MESSAGES.unauthorized);
    return;
  }
  if (!response.ok) return;
  /** @type {{ data?: Resource[] }} */
  const page = await readJson(response);
  if (version !== listVersion) return;
  recent.replaceChildren();
  const prompts = promptsSeen();
  (page.data || []).forEach((item) => {
    const entry = document.createElement('li');
    const words = prompts[item.id];
    if (item.status === 'succeeded') {
      const thumbnail = document.createElement('img');
      thumbnail.src = item.url;
      thumbnail.alt = words ? `Image: ${words}` : `Image ${item.id}`;
      entry.append(thumbnail);
    } else if (item.status === 'running' || item.status === 'queued') {
      // A running image shows its latest preview, when it streams some (the list itself carries none).
      showLatestPreview(entry, item, version, words);
    }
    if (words) {
      const title = document.createElement('p');
      title.className = 'prompt';
      title.textContent = words;
      entry.append(title);
    }
    const label = document.createElement('p');
    label.textContent = `${item.status}, ${new Date(item.createdAt).toLocaleString()}`;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'secondary';
    remove.textContent = 'Delete';
    remove.setAttribute('aria-label', `Delete image ${item.id}`);
    remove.addEventListener('click', async () => {
      const answer = await fetch(`${API}/images/${encodeURIComponent(item.id)}`, { method: 'DELETE', headers: headers() });
      if (answer.status === 204 || answer.status === 404) {
        // Focus goes to the next image's Delete (or the previous one's, or Refresh), not back to the page top.
        const neighbour = entry.nextElementSibling || entry.previousElementSibling;
        const next = neighbour?.querySelector('button[aria-label^="Delete image"]');
        listVersion += 1;
        entry.remove();
        (next instanceof HTMLElement ? next : refreshButton).focus();
        if (image.src === item.url) {
          result.hidden = true;
          image.removeAttribute('src');
        }
        say('Image deleted.');
      } else {
        showError(describe(answer.status, await readJson(answer), answer));
      }
    });
    if (item.status === 'succeeded') {
      const edit = document.createElement('button');
      edit.type = 'button';
      edit.className = 'secondary';
      edit.textContent = 'Edit';
      edit.setAttribute('aria-label', `Edit image ${item.id}`);
      edit.addEventListener('click', () => {
        editImage(item.id);
      });
      entry.append(label, edit, remove);
    } else {
      entry.append(label, remove);
    }
    recent.append(entry);
  });
  if (!page.data || page.data.length === 0) {
    const empty = document.createElement('li');
    empty.textContent = 'No images yet.';
    recent.append(empty);
  }
}
/**
 * @param {HTMLLIElement} entry
 * @param {Resource} item
 * @param {number} version
 * @param {string | undefined} words
 */
async function showLatestPreview(entry, item, version, words) {
  const answer = await fetch(`${API}/images/${encodeURIComponent(item.id)}`, { headers: headers() });
  /** @type {Resource | undefined} */
  const resource = answer.ok ? await readJson(answer) : undefined;
  const latest = resource?.previews?.[resource.previews.length - 1];
  if (!latest || version !== listVersion) return;
  const preview = document.createElement('img');
  preview.src = latest.url;
  preview.alt = `Preview ${latest.index + 1} of ${words ? `the image: ${words}` : `image ${item.id}`} (still generating)`;
  entry.prepend(preview);
}
refreshButton.addEventListener('click', loadRecent);
loadRecent();
