// SPDX-License-Identifier: MIT OR Apache-2.0
// Plays a live HLS URL with hls.js in headless Chromium and samples the latency hls.js reports
// (`hls.latency`: playlist edge + time since the playlist was loaded - currentTime) every
// --interval seconds for --seconds of playback after playback started. Also samples the wall-clock
// latency from EXT-X-PROGRAM-DATE-TIME (`Date.now() - hls.playingDate`; PDT is the wall clock at
// ingest, so this one includes the encoder -> packager leg), and hls.latency minus the playback
// time the player lost against the wall clock since it started (a player starved of CPU plays
// slower than real time, and at playback rate 1 never wins that back). Prints one JSON line.
//
//   node benches/latency.mjs --url URL [--low-latency 1] [--seconds 30] [--interval 0.5]
//                            [--config '{"liveSyncDuration":1}']
//
// Uses playwright-core and hls.js from tests/e2e/node_modules (npm ci there), Chromium as
// tests/e2e/play.mjs launches it. Exit 0 if playback ran without a fatal error, 1 otherwise.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const hlsSource = readFileSync(require.resolve('hls.js/dist/hls.min.js'), 'utf8');

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const url = args.url;
const lowLatency = args['low-latency'] === '1';
const seconds = Number(args.seconds ?? 30);
const interval = Number(args.interval ?? 0.5);
const startTimeout = Number(args['start-timeout'] ?? 30) * 1000;
const extra = args.config ? JSON.parse(args.config) : {};

function stats(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const q = (p) => {
    const i = (s.length - 1) * p;
    const lo = Math.floor(i);
    const hi = Math.ceil(i);
    return s[lo] + (s[hi] - s[lo]) * (i - lo);
  };
  return { n: s.length, p10: q(0.1), median: q(0.5), p90: q(0.9), min: s[0], max: s[s.length - 1] };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
const result = { url, lowLatency, config: extra, ok: false, errors: [] };
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`));
  // A blank page from the stream's own origin (answered by this route, not the server): no CORS.
  const blank = new URL('/__latency_player__.html', url).href;
  const html = '<!doctype html><video id="v" muted playsinline autoplay style="width:640px"></video>';
  await page.route(blank, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: html }));
  await page.goto(blank);
  await page.evaluate(({ url, lowLatency, extra, hlsSource }) => {
    const v = document.getElementById('v');
    window.__fatal = [];
    window.__stalls = 0;
    // Media element events with the time (ms since load) and currentTime: where playback waits.
    window.__events = [];
    const t0 = performance.now();
    for (const type of ['waiting', 'playing', 'seeking', 'seeked', 'stalled']) {
      v.addEventListener(type, () => window.__events.push([Math.round(performance.now() - t0), type, +v.currentTime.toFixed(3)]));
    }
    (0, eval)(hlsSource);
    const hls = new window.Hls({ enableWorker: true, lowLatencyMode: lowLatency, ...extra });
    window.__hls = hls;
    hls.on(window.Hls.Events.ERROR, (_e, d) => {
      if (d.fatal) window.__fatal.push(`hls.js fatal ${d.type} ${d.details}`);
      if (d.details === 'bufferStalledError') window.__stalls += 1;
    });
    hls.loadSource(url);
    hls.attachMedia(v);
    v.play().catch((e) => window.__fatal.push(`play(): ${e.message}`));
  }, { url, lowLatency, extra, hlsSource });

  const state = () => page.evaluate(() => {
    const v = document.getElementById('v');
    const h = window.__hls;
    const d = h.latestLevelDetails ?? null;
    return {
      t: v.currentTime,
      latency: h.latency,
      target: h.targetLatency,
      pdt: h.playingDate ? (Date.now() - h.playingDate.getTime()) / 1000 : null,
      rate: v.playbackRate,
      buffered: v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : 0,
      partHoldBack: d ? d.partHoldBack : null,
      partTarget: d ? d.partTarget : null,
      targetduration: d ? d.targetduration : null,
      fatal: window.__fatal,
      stalls: window.__stalls,
      events: window.__events,
    };
  });

  const t0 = Date.now();
  let s = await state();
  while (s.t <= 0 && Date.now() - t0 < startTimeout && s.fatal.length === 0) {
    await page.waitForTimeout(100);
    s = await state();
  }
  result.startupMs = Date.now() - t0;
  if (s.t <= 0) throw new Error(`playback did not start within ${startTimeout / 1000} s ${JSON.stringify(s.fatal)}`);
  const start = s;
  const w0 = Date.now();
  const samples = [];
  for (let k = 1; Date.now() - w0 < seconds * 1000 && s.fatal.length === 0; k++) {
    await page.waitForTimeout(Math.max(0, w0 + k * interval * 1000 - Date.now()));
    s = await state();
    const at = (Date.now() - w0) / 1000;
    // Playback time lost against the wall clock since the first sample (a starved player plays
    // slower than real time; at rate 1 every second lost is a second of latency added).
    const lost = at - (s.t - start.t);
    samples.push({ at, t: s.t, latency: s.latency, lost, pdt: s.pdt, buffered: s.buffered, rate: s.rate });
  }
  const wall = (Date.now() - w0) / 1000;
  Object.assign(result, {
    wallSeconds: wall,
    advancedSeconds: s.t - start.t,
    latency: stats(samples.map((x) => x.latency)),
    // hls.latency minus the playback time lost since playback started: the latency a player
    // keeping real time would have had (what the server and the start position account for).
    latencyLessLost: stats(samples.map((x) => x.latency - x.lost)),
    pdtLatency: stats(samples.map((x) => x.pdt)),
    buffered: stats(samples.map((x) => x.buffered)),
    targetLatency: s.target,
    partHoldBack: s.partHoldBack,
    partTarget: s.partTarget,
    targetduration: s.targetduration,
    stalls: s.stalls,
    waiting: s.events.filter((e) => e[1] === 'waiting').length,
    events: s.events.slice(0, 40),
    rates: [...new Set(samples.map((x) => x.rate))],
    fatal: s.fatal,
    samples: 'samples' in args ? samples : undefined,
  });
  result.ok = s.fatal.length === 0 && result.errors.length === 0 && result.advancedSeconds >= 0.8 * wall;
} catch (e) {
  result.errors.push(`${e.stack ?? e}`);
}
console.log(JSON.stringify(result));
await browser.close();
process.exit(result.ok ? 0 : 1);
