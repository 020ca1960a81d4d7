import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startStackProcess } from '../../scripts/stack-process.mjs';
import { CHROMIUM_ARGS, chromiumPath } from '../support/browser.js';
import { ROOT } from '../support/processes.js';

const run = promisify(execFile);

/**
 * The Generate page in a real browser (Debian's Chromium through playwright-core) against `npm start`: what a
 * user does, by the labels and roles a screen reader would use.
 */

const API_KEY = 'page-test-key-0123456789';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

let stack: Awaited<ReturnType<typeof startStackProcess>>;
let browser: Browser;
let page: Page;
/** Everything the page logged to the browser's console. */
const consoleMessages: string[] = [];
/** The id (or, for a list button, the label) of the element with the keyboard focus. */
const focused = (): Promise<unknown> =>
  page.evaluate(
    "document.activeElement && (document.activeElement.id || document.activeElement.getAttribute('aria-label') || document.activeElement.tagName)",
  );

/**
 * The width of the named image as the browser decoded it: polled while its source loads until it is the offline
 * generator's 1024 (bounded, 5 s), 0 if it never loaded. No DOM types in this project: the element is read
 * structurally.
 */
async function loadedWidth(name: RegExp): Promise<number> {
  const width = () =>
    page.getByRole('img', { name }).evaluate((element) => {
      const img = element as unknown as { complete: boolean; naturalWidth: number };
      return img.complete ? img.naturalWidth : 0;
    });
  for (let tries = 0; tries < 50 && (await width()) !== 1024; tries += 1) await page.waitForTimeout(100);
  return width();
}

beforeAll(async () => {
  // Both are started at once; whichever fails, what did start is kept so that afterAll stops it (a stack left
  // running would keep rebuilding .esbuild from the sources it watches).
  const [started, launched] = await Promise.allSettled([
    // A delay so the page shows its progress for a few seconds; the image arrives within the page's wait. With 2
    // previews they come 2 s apart, twice the page's polling interval, so the page shows each of them.
    startStackProcess({ apiKey: API_KEY, env: { OPENAI_API_KEY: '', OFFLINE_DELAY_MS: '6000' } }),
    (async () => chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true }))(),
  ]);
  if (started.status === 'fulfilled') stack = started.value;
  if (launched.status === 'fulfilled') browser = launched.value;
  if (started.status === 'rejected') throw started.reason;
  if (launched.status === 'rejected') throw launched.reason;
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('console', (message) => consoleMessages.push(message.text()));
  await page.goto(`http://127.0.0.1:${stack.ports.api}/`);
}, 130_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
}, 30_000);

describe('the Generate page', () => {
  it('labels every control and announces status changes', async () => {
    await expect(page.getByLabel('API key').count()).resolves.toBe(1);
    await expect(page.getByLabel('Prompt').count()).resolves.toBe(1);
    await expect(page.getByRole('button', { name: 'Generate' }).count()).resolves.toBe(1);
    await expect(page.getByRole('status').getAttribute('aria-live')).resolves.toBe('polite');
    // The model choices are the deployment's.
    await expect(page.getByLabel('Model').locator('option').allTextContents()).resolves.toEqual(['gpt-image-2']);
  });

  it('loads without Permissions-Policy errors in the console (only features the browser knows)', () => {
    expect(consoleMessages.filter((text) => /Permissions-Policy/i.test(text))).toEqual([]);
  });

  it('shows a clear message for a wrong key', async () => {
    await page.getByLabel('API key').fill('not-the-key');
    await page.getByLabel('Prompt').fill('a red fox in the snow');
    await page.getByRole('button', { name: 'Generate' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor({ state: 'visible' });
    await expect(alert.textContent()).resolves.toContain('API key');
    // The keyboard focus stays on the button (a disabled button would have dropped it to the page top).
    await expect(focused()).resolves.toBe('generate-button');
  });

  it('generates an image, shows it from its permanent URL, and lists it', async () => {
    // Act: keyboard only, as a keyboard user would.
    await page.getByLabel('API key').fill(API_KEY);
    await page.getByLabel('API key').dispatchEvent('change');
    await page.getByLabel('Prompt').fill('a lighthouse on a cliff at dawn, watercolour');
    await page.getByRole('button', { name: 'Generate' }).focus();
    await page.keyboard.press('Enter');
    // Assess
    await page.getByRole('status').filter({ hasText: 'Your image is ready.' }).waitFor({ timeout: 30_000 });
    // The focus moves to the new image's heading, where the user goes next.
    await expect(focused()).resolves.toBe('result-title');
    const image = page.getByRole('img', { name: /^Generated image: a lighthouse/ });
    await image.waitFor();
    await expect(loadedWidth(/^Generated image: a lighthouse/)).resolves.toBe(1024);
    await expect(image.getAttribute('src')).resolves.toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${stack.ports.s3}/local-images/images/`));
    // The offline generator adds no Content Credentials; the service signed its own (the test certificate locally).
    await expect(page.locator('#credentials').textContent()).resolves.toBe(
      " Content Credentials: this service's, valid, signed by C2PA Test Signing Cert.",
    );
    // No error on screen (its text, when there is one, is what the failure shows).
    const alert = page.getByRole('alert');
    await expect((await alert.isHidden()) ? '' : await alert.textContent()).toBe('');
    await page
      .getByRole('button', { name: /^Delete image / })
      .first()
      .waitFor();
    // The caller's day, from GET /usage (the offline generator costs nothing).
    await page
      .locator('#usage')
      .filter({ hasText: /^1 of 50 images today, \$0\.00 of \$5\.00$/ })
      .waitFor({ timeout: 5_000 });
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('generate-page.png', ARTIFACTS).pathname, fullPage: true });
  }, 40_000);

  it('shows progress while a slower image is generated (202, then polling) and then the image', async () => {
    // ?wait=0: the API answers 202 at once and the page polls the image resource.
    await page.goto(`http://127.0.0.1:${stack.ports.api}/?wait=0`);
    await page.getByLabel('Prompt').fill('a heron in the reeds, ink');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /^Still generating/ })
      .waitFor({ timeout: 10_000 });
    // The time counts from the press, every second, beside the status (which says what is happening, no numbers).
    await page
      .locator('#elapsed')
      .filter({ hasText: /^2 s since you pressed Generate$/ })
      .waitFor({ timeout: 5_000 });
    await expect(page.getByRole('status').textContent()).resolves.toMatch(
      /^Still generating: (waiting for a worker to start|the image is being made)\.\.\.$/,
    );
    await page.getByRole('status').filter({ hasText: 'Your image is ready.' }).waitFor({ timeout: 30_000 });
    await expect(page.locator('#elapsed').isHidden()).resolves.toBe(true);
    await page.getByRole('img', { name: /^Generated image: a heron/ }).waitFor();
  }, 45_000);

  it('shows each preview while the image is made, with an accessible status, then the final image', async () => {
    await page.goto(`http://127.0.0.1:${stack.ports.api}/`);
    await page.getByLabel('Prompt').fill('a kingfisher on a branch, oil');
    await page.getByLabel('Previews').selectOption('2');
    await page.getByRole('button', { name: 'Generate' }).click();
    const sources: string[] = [];
    for (const which of ['preview 1 of 2', 'preview 2 of 2']) {
      await page
        .getByRole('status')
        .filter({ hasText: `Still generating: ${which}...` })
        .waitFor({ timeout: 15_000 });
      const name = new RegExp(`^Preview of the image being generated \\(${which}\\): a kingfisher`);
      await page.getByRole('img', { name }).waitFor();
      await expect(loadedWidth(name)).resolves.toBe(1024);
      sources.push((await page.getByRole('img', { name }).getAttribute('src')) ?? '');
      await expect(page.locator('#details').textContent()).resolves.toBe(`This is ${which}, not the final image.`);
      if (which === 'preview 1 of 2') {
        // The list meanwhile: the running image's card shows its latest preview and the prompt's first words.
        await page.getByRole('button', { name: 'Refresh list' }).click();
        await page
          .locator('#recent')
          .getByRole('img', { name: /^Preview [12] of the image: a kingfisher on a branch, oil \(still generating\)$/ })
          .waitFor({ timeout: 5_000 });
      }
    }
    // Two stored previews, at their own public URLs under the previews prefix.
    expect(sources).toEqual([
      expect.stringMatching(/\/images\/previews\/.+-0\.png$/),
      expect.stringMatching(/\/images\/previews\/.+-1\.png$/),
    ]);
    await page.getByRole('status').filter({ hasText: 'Your image is ready.' }).waitFor({ timeout: 15_000 });
    await page.getByRole('img', { name: /^Generated image: a kingfisher/ }).waitFor();
    await expect(loadedWidth(/^Generated image: a kingfisher/)).resolves.toBe(1024);
  }, 45_000);

  it('edits an image of the list: Edit, a prompt, Generate sends it as the input image', async () => {
    await page.goto(`http://127.0.0.1:${stack.ports.api}/`);
    const edit = page.getByRole('button', { name: /^Edit image / }).first();
    await edit.waitFor();
    const id = ((await edit.getAttribute('aria-label')) ?? '').replace('Edit image ', '');
    await edit.click();
    await page
      .getByRole('status')
      .filter({ hasText: `Editing image ${id}.` })
      .waitFor();
    await expect(focused()).resolves.toBe('prompt');
    await expect(page.locator('#editing').isVisible()).resolves.toBe(true);
    const sent: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/images') sent.push(request.postData() ?? '');
    });
    await page.getByLabel('Prompt').fill('the same lighthouse, in snow');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.getByRole('status').filter({ hasText: 'Your image is ready.' }).waitFor({ timeout: 30_000 });
    expect(JSON.parse(sent[0] ?? '{}')).toMatchObject({ prompt: 'the same lighthouse, in snow', images: [{ id }] });
    // Done editing: the next Generate is a new image again.
    await expect(page.locator('#editing').isHidden()).resolves.toBe(true);
  }, 45_000);

  it("shows each recent card's prompt, and a wrong key clears what the previous key showed", async () => {
    // Prepare: the page with the right key, its list loaded (cards of the images made above, with their prompts).
    await page.goto(`http://127.0.0.1:${stack.ports.api}/`, { waitUntil: 'networkidle' });
    await page.getByLabel('API key').fill(API_KEY);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByText('a lighthouse on a cliff at dawn,', { exact: false }).first().waitFor();
    await expect(page.getByRole('img', { name: /^Image: a lighthouse on a cliff/ }).count()).resolves.toBeGreaterThan(0);
    // Act: another key, refused.
    await page.getByLabel('API key').fill('someone-elses-wrong-key');
    await page.getByRole('button', { name: 'Refresh' }).click();
    // Assess: the alert, and nothing of the previous caller left on screen.
    await page.getByRole('alert').waitFor({ state: 'visible' });
    await expect(page.getByRole('alert').textContent()).resolves.toContain('API key');
    await expect(page.getByRole('button', { name: /^Delete image / }).count()).resolves.toBe(0);
    await expect(page.getByText('a lighthouse on a cliff at dawn,', { exact: false }).count()).resolves.toBe(0);
    await expect(page.locator('#usage').isHidden()).resolves.toBe(true);
    // The right key again, kept for the next page load (the page keeps the key of the tab on change).
    await page.getByLabel('API key').fill(API_KEY);
    await page.getByLabel('API key').dispatchEvent('change');
  });

  it('deletes an image from the list', async () => {
    // A fresh page whose list has loaded and settled: a refresh still in flight from the test before would
    // re-render the list under the click.
    await page.goto(`http://127.0.0.1:${stack.ports.api}/`, { waitUntil: 'networkidle' });
    const remove = page.getByRole('button', { name: /^Delete image / });
    await remove.first().waitFor();
    const before = await remove.count();
    expect(before).toBeGreaterThan(0);
    await remove.first().click();
    await page.getByRole('status').filter({ hasText: 'Image deleted.' }).waitFor();
    await expect(remove.count()).resolves.toBe(before - 1);
    // The focus goes to the next image's Delete button, not back to the top of the page.
    await expect(focused()).resolves.toMatch(/^Delete image /);
  });

  it('works with a key the operator issued (npm run keys), which sees only its own images', async () => {
    const { stdout } = await run(process.execPath, [`${ROOT}scripts/keys.mjs`, 'create', '--name', 'page-partner', '--json'], {
      cwd: ROOT,
      env: { ...process.env, LOCAL_S3_DIR: stack.s3Directory, STATE_TABLE: '' },
    });
    const issued = (JSON.parse(stdout) as { key: string }).key;
    await page.goto(`http://127.0.0.1:${stack.ports.api}/`, { waitUntil: 'networkidle' });
    await page.getByLabel('API key').fill(issued);
    await page.getByLabel('API key').dispatchEvent('change');
    await page.getByLabel('Prompt').fill('a kite over the dunes');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.getByRole('status').filter({ hasText: 'Your image is ready.' }).waitFor({ timeout: 30_000 });
    await page.getByRole('img', { name: /^Generated image: a kite over the dunes/ }).waitFor();
    // Its list holds its own image only, none of the other key's.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page
      .getByRole('button', { name: /^Delete image / })
      .first()
      .waitFor();
    await expect(page.getByRole('button', { name: /^Delete image / }).count()).resolves.toBe(1);
  }, 45_000);
});
