// SPDX-License-Identifier: MIT OR Apache-2.0
// Drives the origin's page (`/`) in headless Chromium while a stream comes and goes, and reports what the
// page showed, as one JSON line.
//
//   node page.mjs --url BASE/ --add-from SRC --add-to DEST --stream NAME [--timeout 90]
//
// Opens the page, waits until it follows /api/events (body[data-transport] is "websocket" or
// "long-poll"), then copies SRC (a file or a directory) to DEST (through a hidden sibling renamed into
// place, so watchers never see half of it), waits for the entry of stream NAME to appear without a
// reload, removes DEST and waits for the entry to disappear.
// Reports: transport (when the entry appeared), entry text, whether a packaging progress indicator was
// seen, timings. Exit 0 if the entry appeared and disappeared without a reload, 1 otherwise, 2 on
// harness errors. hls.js from elsewhere than the origin's embedded copy is answered from node_modules.
import { cpSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { launch, parseArgs, report, routeHlsjs } from './harness.mjs';

const args = parseArgs();
const timeout = Number(args.timeout ?? 90) * 1000;

const browser = await launch();
const result = { url: args.url, stream: args.stream, ok: false, errors: [], console: [] };
await report(browser, result, async () => {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') result.console.push(m.text()); });
  page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`));
  await routeHlsjs(page);
  await page.goto(args.url, { waitUntil: 'load' });
  await page.evaluate(() => { window.__notReloaded = true; });
  await page.waitForFunction(() => ['websocket', 'long-poll'].includes(document.body.dataset.transport), null, { timeout: 20000 });
  result.transportAtStart = await page.evaluate(() => document.body.dataset.transport);
  // Record whether a packaging progress line ever shows (the default run's package.progress).
  await page.evaluate(() => {
    window.__sawProgress = false;
    new MutationObserver(() => {
      if (document.querySelector('#packaging li')) window.__sawProgress = true;
    }).observe(document.getElementById('packaging'), { childList: true, subtree: true });
  });

  const entry = `#streams li[data-stream="${args.stream}"]`;
  const tmp = join(dirname(args['add-to']), `.${basename(args['add-to'])}.e2e-tmp`);
  const t0 = Date.now();
  cpSync(args['add-from'], tmp, { recursive: true });
  renameSync(tmp, args['add-to']);
  await page.waitForSelector(entry, { timeout });
  result.appearedMs = Date.now() - t0;
  // The details (kind, duration…) follow from a snapshot shortly after.
  await page.waitForFunction((sel) => /(vod|live|event).*(avc1|hvc1|mp4a)/.test(document.querySelector(sel)?.textContent ?? ''), entry, { timeout: 10000 })
    .catch(() => {});
  result.entryText = await page.locator(entry).textContent();
  result.transport = await page.evaluate(() => document.body.dataset.transport);
  result.sawProgress = await page.evaluate(() => window.__sawProgress);

  const t1 = Date.now();
  rmSync(args['add-to'], { recursive: true, force: true });
  await page.waitForSelector(entry, { state: 'detached', timeout });
  result.removedMs = Date.now() - t1;
  result.channel = await page.evaluate(() => window.__events);
  result.notReloaded = await page.evaluate(() => window.__notReloaded === true);
  result.ok = result.notReloaded && result.errors.length === 0;
});
