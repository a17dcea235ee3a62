// SPDX-License-Identifier: MIT OR Apache-2.0
// Plays a ladder's master playlist with hls.js or Shaka Player in headless Chromium and exercises its
// renditions: lists the audio and text tracks (with their languages), switches audio, switches
// subtitles (cues must show up as TextTrack cues) and switches variants, checking that playback goes on.
// One JSON line out.
//
//   node tracks.mjs --url URL --player hlsjs|shaka [--audio en,fr] [--text en,fr] [--seconds 3]
//
// Passes (exit 0) when the languages listed equal --audio/--text (in any order), the switch to the
// second audio language and to the second text language took effect, the selected text track holds
// cues, a variant of another height was selected, currentTime advanced after each switch, and no fatal
// error occurred. Exit 1 otherwise, 2 on harness errors.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hlsSource, launch, parseArgs, report } from './harness.mjs';

const args = parseArgs();
const url = args.url;
const player = args.player ?? 'hlsjs';
const wantAudio = (args.audio ?? 'en,fr').split(',').sort();
const wantText = (args.text ?? 'en,fr').split(',').sort();
const seconds = Number(args.seconds ?? 3);
const require = createRequire(import.meta.url);
const source = player === 'shaka'
  ? readFileSync(require.resolve('shaka-player/dist/shaka-player.compiled.js'), 'utf8')
  : hlsSource();

const browser = await launch();
const result = { url, player, ok: false, errors: [], console: [], steps: [] };
await report(browser, result, async () => {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') result.console.push(m.text()); });
  page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`));
  const html = '<!doctype html><video id="v" muted playsinline autoplay style="width:640px"></video>';
  const blank = new URL('/__e2e_tracks__.html', url).href;
  await page.route(blank, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: html }));
  await page.goto(blank);
  await page.evaluate(({ source }) => (0, eval)(source), { source });
  // The page-side API: load(), tracks(), selectAudio(lang), selectText(lang), selectOtherVariant().
  await page.evaluate(player === 'shaka' ? shakaApi : hlsjsApi);
  await page.evaluate(({ url, text }) => window.__api.load(url, text), { url, text: (args.text ?? 'en,fr').split(',')[0] });

  const time = () => page.evaluate(() => document.getElementById('v').currentTime);
  const fatal = () => page.evaluate(() => window.__fatal);
  /** Waits until currentTime moved 0.5 s past `from` (bounded), returns whether it did. */
  const advances = async (from) => {
    const t0 = Date.now();
    while (Date.now() - t0 < 20000) {
      if ((await time()) >= from + 0.5) return true;
      if ((await fatal()).length) return false;
      await page.waitForTimeout(100);
    }
    return false;
  };
  const step = async (name, fn) => {
    const before = await time();
    const got = await fn();
    const moved = await advances(before);
    await page.waitForTimeout(seconds * 1000);
    result.steps.push({ name, got, moved, t: await time() });
    return moved;
  };
  let ok = await advances(0);
  result.started = ok;
  const tracks = await page.evaluate(() => window.__api.tracks());
  result.tracks = tracks;
  const sameSet = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify(b);
  ok = ok && sameSet(tracks.audio, wantAudio) && sameSet(tracks.text, wantText);
  const otherAudio = tracks.audio.find((l) => l !== tracks.activeAudio) ?? wantAudio[1];
  const otherText = wantText[1];
  ok = (await step('audio', () => page.evaluate((l) => window.__api.selectAudio(l), otherAudio))) && ok;
  const audioNow = await page.evaluate(() => window.__api.tracks().activeAudio);
  result.audioSwitched = audioNow === otherAudio;
  ok = (await step('text', () => page.evaluate((l) => window.__api.selectText(l), otherText))) && ok;
  // Cues reach the TextTrack once its segments are loaded; give it a few seconds.
  let cues = [];
  for (let i = 0; i < 50 && cues.length === 0; i++) {
    cues = await page.evaluate((l) => window.__api.cues(l), otherText);
    if (cues.length === 0) await page.waitForTimeout(200);
  }
  result.cues = cues;
  ok = (await step('variant', () => page.evaluate(() => window.__api.selectOtherVariant()))) && ok;
  // The new variant shows once its segments are fetched and appended: on a loaded machine
  // that can take longer than the step's pause, so wait for it (bounded, 20 s).
  const wantedHeight = result.steps.at(-1).got;
  let height = await page.evaluate(() => window.__api.height());
  for (let i = 0; i < 100 && height !== wantedHeight; i++) {
    await page.waitForTimeout(200);
    height = await page.evaluate(() => window.__api.height());
  }
  result.heightAfterSwitch = height;
  result.fatal = await fatal();
  result.ok = ok && result.audioSwitched && cues.length > 0 && height === wantedHeight
    && result.fatal.length === 0 && result.errors.length === 0;
});

/** hls.js: audioTracks/subtitleTracks, audioTrack/subtitleTrack setters, currentLevel for variants. */
function hlsjsApi() {
  const v = document.getElementById('v');
  window.__fatal = [];
  let hls;
  window.__api = {
    load(url) {
      hls = new window.Hls({ enableWorker: true });
      window.__hls = hls;
      hls.on(window.Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.__fatal.push(`hls.js fatal ${d.type} ${d.details}`); });
      hls.loadSource(url);
      hls.attachMedia(v);
      v.play().catch((e) => window.__fatal.push(`play(): ${e.message}`));
    },
    tracks() {
      return {
        audio: hls.audioTracks.map((t) => t.lang),
        text: hls.subtitleTracks.map((t) => t.lang),
        activeAudio: hls.audioTracks[hls.audioTrack]?.lang,
      };
    },
    selectAudio(lang) { hls.audioTrack = hls.audioTracks.findIndex((t) => t.lang === lang); return lang; },
    selectText(lang) {
      hls.subtitleDisplay = true;
      hls.subtitleTrack = hls.subtitleTracks.findIndex((t) => t.lang === lang);
      return lang;
    },
    cues(lang) {
      const t = [...v.textTracks].find((tt) => tt.language === lang && tt.mode !== 'disabled');
      return t && t.cues ? [...t.cues].map((c) => [c.startTime, c.text]) : [];
    },
    selectOtherVariant() {
      const current = hls.levels[hls.currentLevel]?.height;
      const i = hls.levels.findIndex((l) => l.height !== current);
      hls.currentLevel = i;
      return hls.levels[i].height;
    },
    height() { return v.videoHeight; },
  };
}

/** Shaka Player: languages, selectAudioLanguage/selectTextLanguage, selectVariantTrack with ABR off. */
function shakaApi() {
  const v = document.getElementById('v');
  window.__fatal = [];
  let player;
  window.__api = {
    async load(url, firstText) {
      window.shaka.polyfill.installAll();
      player = new window.shaka.Player();
      // Text from the start: Shaka places text cues with the timestamp offset it learns from
      // video appends made while a text stream is selected, and a 12 s clip is wholly buffered
      // before a later switch (a viewer's preferred language does the same).
      player.configure({ preferredText: [{ language: firstText, role: '', format: '', forced: false }] });
      window.__player = player;
      player.addEventListener('error', (e) => window.__fatal.push(`shaka error ${e.detail.code}`));
      await player.attach(v);
      await player.load(url);
      v.play().catch((e) => window.__fatal.push(`play(): ${e.message}`));
    },
    tracks() {
      const audio = player.getAudioTracks();
      return {
        audio: audio.map((t) => t.language),
        text: player.getTextTracks().map((t) => t.language),
        activeAudio: audio.find((t) => t.active)?.language,
      };
    },
    selectAudio(lang) { player.selectAudioTrack(player.getAudioTracks().find((t) => t.language === lang)); return lang; },
    async selectText(lang) {
      // Shaka 4 hides text until made visible; Shaka 5 shows the track selected.
      if (player.setTextTrackVisibility) await player.setTextTrackVisibility(true);
      const t = player.getTextTracks().find((tt) => tt.language === lang);
      player.selectTextTrack(t);
      return lang;
    },
    cues() {
      // Shaka's default displayer renders into a TextTrack of the video element.
      const t = [...v.textTracks].find((tt) => tt.mode === 'showing' || tt.mode === 'hidden');
      return t && t.cues ? [...t.cues].map((c) => [c.startTime, c.text]) : [];
    },
    selectOtherVariant() {
      player.configure({ abr: { enabled: false } });
      const tracks = player.getVariantTracks();
      const active = tracks.find((t) => t.active);
      const other = tracks.find((t) => t.height !== active.height && t.language === active.language);
      player.selectVariantTrack(other, true);
      return other.height;
    },
    height() { return v.videoHeight; },
  };
}
