// SPDX-License-Identifier: MIT OR Apache-2.0
// The origin's page (`/`) while a live run goes on, in headless Chromium; one JSON line.
//
//   node page-live.mjs --url BASE/ --stream NAME [--seconds 5]
//
// Waits for the entry of NAME to get its LIVE badge (stream.live), clicks it, plays for --seconds with
// hls.js (the page's ?engine=hlsjs), reads what the player shows (rendition, latency), then waits for
// the entry to show ENDED (stream.ended when the encoder stops). Exit 0 if all of that happened without
// a reload and page error, 1 otherwise, 2 on harness errors.
import { launch, parseArgs, report } from './harness.mjs';

const args = parseArgs();
const browser = await launch();
const result = { url: args.url, stream: args.stream, ok: false, errors: [] };
await report(browser, result, async () => {
  const page = await browser.newPage();
  page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`));
  const url = new URL(args.url);
  url.searchParams.set('engine', 'hlsjs');
  await page.goto(url.href, { waitUntil: 'load' });
  await page.evaluate(() => { window.__notReloaded = true; });
  const entry = `#streams li[data-stream="${args.stream}"]`;
  await page.waitForSelector(`${entry}[data-state="live"]`, { timeout: 60000 });
  result.liveText = await page.locator(entry).textContent();
  result.transport = await page.evaluate(() => document.body.dataset.transport);
  await page.click(`${entry} button`);
  await page.waitForFunction(() => window.__player.latency !== null && window.__player.rendition, null, { timeout: 30000 });
  await page.waitForTimeout(Number(args.seconds ?? 5) * 1000);
  result.player = await page.evaluate(() => ({
    rendition: window.__player.rendition, latency: window.__player.latency, error: window.__player.error,
    shown: document.getElementById('playing').textContent,
  }));
  await page.waitForSelector(`${entry}[data-state="ended"]`, { timeout: 90000 });
  result.endedText = await page.locator(entry).textContent();
  result.notReloaded = await page.evaluate(() => window.__notReloaded === true);
  result.ok = result.notReloaded && result.errors.length === 0;
});
