import { existsSync } from 'node:fs';

/**
 * The system's Chromium (Debian's `chromium`, installed by .ci/run; Google Chrome on GitHub's Ubuntu runners), never
 * a browser download. CHROMIUM_PATH overrides.
 */
export function chromiumPath(): string {
  const candidates = [
    process.env['CHROMIUM_PATH'],
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
  ];
  const found = candidates.find((path): path is string => typeof path === 'string' && path !== '' && existsSync(path));
  if (!found) throw new Error("No Chromium found: install Debian's chromium (bash .ci/run does) or set CHROMIUM_PATH");
  return found;
}

/** Flags for a headless Chromium on a closed network, as root in CI. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
