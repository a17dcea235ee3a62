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
// Passes (exit 0) only if currentTime advanced >= 80 % of the wall time watched after playback started
// (for a live stream: of what its live edge advanced, when the stream runs behind real time),
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
      window.__waiting = 0;
      v.addEventListener('waiting', () => { window.__waiting += 1; });
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
    // The live edge (end of the seekable range): how far the stream itself got.
    edge: v.seekable && v.seekable.length ? v.seekable.end(v.seekable.length - 1) : null,
    waiting: window.__waiting ?? 0,
    isLive: window.__hls
      ? Boolean(window.__hls.latestLevelDetails && window.__hls.latestLevelDetails.live)
      : v.duration === Infinity,
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
  // mode page: what each entry of the list says once played (its details).
  if (mode === 'page') result.entries = await page.locator('#streams li').allTextContents();
  if (args.screenshot) await page.screenshot({ path: args.screenshot });
  // A live player cannot play faster than its stream is produced: on a loaded 2-core machine
  // the encoder and the packager may run behind real time, which is not the player's fault. So
  // for a live stream the player must keep up with its live edge (>= 80 % of what the edge
  // advanced, capped by the wall time), and the edge itself must keep moving (>= 40 % of the
  // wall time: the stream is being produced). A VOD, or a live stream without a seekable range,
  // is held to the wall time.
  const live = s.isLive && start.edge !== null && s.edge !== null;
  const edgeAdvanced = live ? s.edge - start.edge : null;
  Object.assign(result, { live, edgeAdvancedSeconds: edgeAdvanced, waiting: s.waiting });
  let needed = 0.8 * wall;
  if (live) {
    needed = 0.8 * Math.min(wall, edgeAdvanced);
    if (edgeAdvanced < 0.4 * wall) result.errors.push(`the live edge advanced ${edgeAdvanced.toFixed(1)} s in ${wall.toFixed(1)} s`);
  }
  result.ok = start.t > 0 && advanced >= needed && (s.frames > 0 || 'audio-only' in args) && s.fatal.length === 0 && result.errors.length === 0;
  if (!result.ok && start.t <= 0) result.errors.push(`playback did not start within ${startTimeout / 1000} s`);
});
