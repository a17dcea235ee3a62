// SPDX-License-Identifier: MIT OR Apache-2.0
// Plays an HLS URL in headless Chromium (Debian) and reports what the player did, as one JSON line.
//
//   node play.mjs --url URL [--mode hlsjs|native|page] [--seconds 8] [--screenshot out.png]
//
// mode hlsjs:  about:blank + hls.js from node_modules (no network) attached to a muted <video>.
// mode native: <video src=URL> — Chromium's own HLS support (reports canPlayType too).
// mode page:   opens URL as a page (the origin's `/`), clicks the first stream link, and watches its <video>;
//              the page's default hls.js is the one the origin embeds (served by it, not intercepted); a
//              --hlsjs-url elsewhere (a CDN) is answered from node_modules (tests never download).
// Passes (exit 0) only if currentTime advanced >= 80 % of the wall time watched after playback started,
// frames were decoded, and no fatal error occurred. Exit 1 otherwise, 2 on harness errors.
import { hlsSource as readHlsjs, launch, parseArgs, report, routeHlsjs } from './harness.mjs';

const args = parseArgs();
const url = args.url;
const mode = args.mode ?? 'hlsjs';
const seconds = Number(args.seconds ?? 8);
const startTimeout = Number(args['start-timeout'] ?? 30) * 1000;
const hlsSource = readHlsjs();

const browser = await launch();
const result = { url, mode, ok: false, errors: [], console: [] };
await report(browser, result, async () => {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') result.console.push(m.text()); });
  page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`));
  await routeHlsjs(page, hlsSource);

  if (mode === 'page') {
    await page.goto(url, { waitUntil: 'load' });
    const link = page.locator('[data-src]').first();
    await link.waitFor({ timeout: 10000 });
    result.streams = await page.locator('[data-src]').evaluateAll((els) => els.map((e) => e.getAttribute('data-src')));
    await link.click();
  } else {
    // A blank page served (by the route below, not the server) from the stream's own origin, so the test
    // needs no CORS; CORS has tests of its own. Add --cross-origin to load from about:blank instead.
    const html = '<!doctype html><video id="v" muted playsinline autoplay style="width:640px"></video>';
    if ('cross-origin' in args) {
      await page.setContent(html);
    } else {
      const blank = new URL('/__e2e_player__.html', url).href;
      await page.route(blank, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: html }));
      await page.goto(blank);
    }
    if (mode === 'native') {
      result.canPlayType = await page.evaluate(() => document.getElementById('v').canPlayType('application/vnd.apple.mpegurl'));
    }
    await page.evaluate(({ url, mode, hlsSource }) => {
      const v = document.getElementById('v');
      window.__fatal = [];
      v.addEventListener('error', () => window.__fatal.push(`media error ${v.error && v.error.code} ${v.error && v.error.message}`));
      if (mode === 'native') {
        v.src = url;
      } else {
        (0, eval)(hlsSource);
        const hls = new window.Hls({ enableWorker: true, lowLatencyMode: true });
        window.__hls = hls;
        hls.on(window.Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.__fatal.push(`hls.js fatal ${d.type} ${d.details}`); });
        hls.loadSource(url);
        hls.attachMedia(v);
      }
      v.play().catch((e) => window.__fatal.push(`play(): ${e.message}`));
    }, { url, mode, hlsSource });
  }

  const video = page.locator('video').first();
  const state = () => video.evaluate((v) => ({
    t: v.currentTime,
    frames: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0,
    dropped: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().droppedVideoFrames : 0,
    paused: v.paused, ended: v.ended, readyState: v.readyState, duration: v.duration,
    fatal: window.__fatal ?? [],
    latency: window.__hls ? window.__hls.latency : null,
  }));

  // Wait for playback to start (currentTime > 0), bounded.
  const t0 = Date.now();
  let s = await state();
  while (s.t <= 0 && Date.now() - t0 < startTimeout && s.fatal.length === 0) {
    await page.waitForTimeout(100);
    s = await state();
  }
  result.startupMs = Date.now() - t0;
  const start = s;
  const w0 = Date.now();
  const samples = [];
  while (Date.now() - w0 < seconds * 1000 && !s.ended && s.fatal.length === 0) {
    await page.waitForTimeout(250);
    s = await state();
    samples.push([Date.now() - w0, s.t]);
  }
  const wall = (Date.now() - w0) / 1000;
  const advanced = s.t - start.t;
  Object.assign(result, {
    wallSeconds: wall, advancedSeconds: advanced, startTime: start.t, endTime: s.t, frames: s.frames,
    dropped: s.dropped, ended: s.ended, duration: s.duration, fatal: s.fatal, latency: s.latency,
  });
  if (args.screenshot) await page.screenshot({ path: args.screenshot });
  // An ended VOD counts as advancing the whole wall time it needed to play out.
  const needed = 0.8 * wall;
  result.ok = start.t > 0 && advanced >= needed && (s.frames > 0 || 'audio-only' in args) && s.fatal.length === 0 && result.errors.length === 0;
  if (!result.ok && start.t <= 0) result.errors.push(`playback did not start within ${startTimeout / 1000} s`);
});
