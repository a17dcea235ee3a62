// SPDX-License-Identifier: MIT OR Apache-2.0
// Plays an HLS URL with Shaka Player (node_modules, no network) in headless Chromium, one JSON line out.
//
//   node shaka-play.mjs --url URL [--seconds 6]
//
// Passes (exit 0) when currentTime reached --seconds within 45 s, frames were decoded, and neither
// Shaka nor the <video> reported an error. Exit 1 otherwise, 2 on harness errors.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { launch, parseArgs, report } from './harness.mjs';

const args = parseArgs();
const url = args.url;
const seconds = Number(args.seconds ?? 6);
const require = createRequire(import.meta.url);
const source = readFileSync(require.resolve('shaka-player/dist/shaka-player.compiled.js'), 'utf8');

const browser = await launch();
const result = { url, player: 'shaka', ok: false, errors: [], console: [] };
await report(browser, result, async () => {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') result.console.push(m.text()); });
  page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`));
  const html = '<!doctype html><video id="v" muted playsinline autoplay style="width:640px"></video>';
  const blank = new URL('/__e2e_shaka__.html', url).href;
  await page.route(blank, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: html }));
  await page.goto(blank);
  await page.evaluate((s) => (0, eval)(s), source);
  await page.evaluate(async (url) => {
    window.__fatal = [];
    const v = document.getElementById('v');
    window.shaka.polyfill.installAll();
    const player = new window.shaka.Player();
    player.addEventListener('error', (e) => window.__fatal.push(`shaka error ${e.detail.code}`));
    await player.attach(v);
    try {
      await player.load(url);
    } catch (e) {
      window.__fatal.push(`load: ${e.code ?? e.message}`);
      return;
    }
    v.play().catch((e) => window.__fatal.push(`play(): ${e.message}`));
  }, url);
  const state = () => page.evaluate(() => {
    const v = document.getElementById('v');
    const q = v.getVideoPlaybackQuality();
    return {
      t: v.currentTime,
      frames: q.totalVideoFrames,
      error: v.error ? v.error.message || String(v.error.code) : null,
      fatal: window.__fatal,
    };
  });
  const t0 = Date.now();
  let s = await state();
  while (Date.now() - t0 < 45000 && s.t < seconds && s.fatal.length === 0 && !s.error) {
    await page.waitForTimeout(200);
    s = await state();
  }
  Object.assign(result, s);
  result.ok = s.t >= seconds && s.frames > 0 && s.fatal.length === 0 && !s.error;
});
