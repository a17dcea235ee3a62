// SPDX-License-Identifier: MIT OR Apache-2.0
// Plays a cbcs-encrypted HLS stream (fMP4, METHOD=SAMPLE-AES) with Shaka Player in headless Chromium
// through Encrypted Media Extensions and Chromium's built-in ClearKey CDM. One JSON line out.
//
//   node drm.mjs --url URL [--keys KIDHEX:KEYHEX[,…]] [--seconds 4] [--expect failure]
//
// The key: Shaka fetches an EXT-X-KEY with KEYFORMAT "identity" from its URI and hands it to the
// ClearKey CDM itself; --keys adds Shaka's drm.clearKeys configuration ({key ID: key}).
// Passes (exit 0) when playback reaches --seconds of media time, the video element decoded frames
// with media keys set on it (EME decrypted them), and no error occurred; with --expect failure,
// when that did not happen. Exit 1 otherwise, 2 on harness errors. The report lists the paths the
// page fetched (`fetched`: init segments and keys of each key period, under key rotation).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { launch, parseArgs, report } from './harness.mjs';

const args = parseArgs();
const url = args.url;
const seconds = Number(args.seconds ?? 4);
const keys = Object.fromEntries((args.keys ?? '').split(',').filter(Boolean).map((p) => p.split(':')));
const expectFailure = args.expect === 'failure';
const require = createRequire(import.meta.url);
const source = readFileSync(require.resolve('shaka-player/dist/shaka-player.compiled.js'), 'utf8');

const browser = await launch();
const result = { url, ok: false, errors: [], console: [], fetched: [] };
await report(browser, result, async () => {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') result.console.push(m.text()); });
  page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`));
  page.on('requestfinished', (r) => result.fetched.push(new URL(r.url()).pathname));
  const html = '<!doctype html><video id="v" muted playsinline autoplay style="width:640px"></video>';
  const blank = new URL('/__e2e_drm__.html', url).href;
  await page.route(blank, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: html }));
  await page.goto(blank);
  await page.evaluate((s) => (0, eval)(s), source);
  await page.evaluate(async ({ url, keys }) => {
    window.__fatal = [];
    const v = document.getElementById('v');
    window.shaka.polyfill.installAll();
    const player = new window.shaka.Player();
    player.addEventListener('error', (e) => window.__fatal.push(`shaka error ${e.detail.code}`));
    // Shaka's ClearKey configuration: { key ID (hex): key (hex) } (drm.clearKeys).
    if (Object.keys(keys).length) player.configure({ drm: { clearKeys: keys } });
    await player.attach(v);
    try {
      await player.load(url);
    } catch (e) {
      window.__fatal.push(`load: ${e.code ?? e.message}`);
      return;
    }
    v.play().catch((e) => window.__fatal.push(`play(): ${e.message}`));
  }, { url, keys });
  const state = () => page.evaluate(() => {
    const v = document.getElementById('v');
    const q = v.getVideoPlaybackQuality();
    return {
      t: v.currentTime,
      frames: q.totalVideoFrames,
      mediaKeys: v.mediaKeys !== null,
      error: v.error ? v.error.message || String(v.error.code) : null,
      fatal: window.__fatal,
    };
  });
  const t0 = Date.now();
  let s = await state();
  while (Date.now() - t0 < 30000 && s.t < seconds && s.fatal.length === 0 && !s.error) {
    await page.waitForTimeout(200);
    s = await state();
  }
  Object.assign(result, s);
  const played = s.t >= seconds && s.frames > 0 && s.mediaKeys && s.fatal.length === 0 && !s.error;
  result.ok = expectFailure ? !played : played;
});
