// SPDX-License-Identifier: MIT OR Apache-2.0
// What the browser harnesses (play.mjs, page.mjs, page-live.mjs) share: `--flag value` arguments,
// headless Chromium with the flags this machine needs, hls.js answered from node_modules (tests never
// download), and the one-JSON-line report with its exit status.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** `--name value` pairs of the command line (a flag without a value maps to ''). */
export function parseArgs() {
  return Object.fromEntries(
    process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]?.startsWith('--') ? '' : all[i + 1]]] : acc), []),
  );
}

/** Headless Chromium (Debian's, or $CHROMIUM). */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** The hls.js of node_modules, as a script's source. */
export function hlsSource() {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve('hls.js/dist/hls.min.js'), 'utf8');
}

/** Answers any hls.js the page loads from elsewhere than the origin's embedded copy from node_modules. */
export async function routeHlsjs(page, source = hlsSource()) {
  await page.route((u) => /hls(\.min|\.light\.min)?\.js$/.test(u.pathname) && !u.pathname.startsWith('/_hlsorigin/'), (route) =>
    route.fulfill({ status: 200, contentType: 'application/javascript', body: source }));
}

/** Runs `body`, prints `result` as one JSON line, closes the browser and exits: 0 when `result.ok`,
 * 1 otherwise, 2 when the harness itself failed (the error is in `result.errors`). */
export async function report(browser, result, body) {
  let status;
  try {
    await body();
    status = result.ok ? 0 : 1;
  } catch (e) {
    result.errors.push(`harness: ${e.stack ?? e}`);
    status = 2;
  }
  console.log(JSON.stringify(result));
  await browser.close();
  process.exit(status);
}
