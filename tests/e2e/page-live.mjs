// SPDX-License-Identifier: MIT OR Apache-2.0
// The origin's page (`/`) while a live run goes on, in headless Chromium; one JSON line.
//
//   node page-live.mjs --url BASE/ --stream NAME [--seconds 5]
//
// Waits for the entry of NAME to get its LIVE badge (stream.live), clicks it, plays for --seconds with
// hls.js (the page's ?engine=hlsjs), reads what the player shows (rendition, latency), then waits for
// the entry to show ENDED (stream.ended when the encoder stops). Exit 0 if all of that happened without
// a reload and page error, 1 otherwise, 2 on harness errors.
import { chromium } from 'playwright-core';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]?.startsWith('--') ? '' : all[i + 1]]] : acc), []),
);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
const result = { url: args.url, stream: args.stream, ok: false, errors: [] };
try {
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
} catch (e) {
  result.errors.push(`harness: ${e.stack ?? e}`);
  console.log(JSON.stringify(result));
  await browser.close();
  process.exit(2);
}
console.log(JSON.stringify(result));
await browser.close();
process.exit(result.ok ? 0 : 1);
