// SPDX-License-Identifier: MIT OR Apache-2.0
//! Starting `hlsorigin serve` on a free loopback port, and the browser harness (tests/e2e/play.mjs).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::bin;

pub struct Server {
    child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `hlsorigin serve ROOT --listen 127.0.0.1:0 ARGS…` and waits for its "listening on" line.
pub fn serve(root: &Path, args: &[&str]) -> Server {
    let mut child = Command::new(bin())
        .arg("serve")
        .arg(root)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn hlsorigin serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(pos) = line.find("http://") {
                let url = line[pos..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches('/')
                    .to_owned();
                let _ = tx.send(url);
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("hlsorigin serve printed its URL within 30 s");
    Server { child, base }
}

/// Runs the browser harness; returns its JSON report. Requires `npm ci` in tests/e2e (the README test
/// command does it) — a missing harness is a test failure, not a skip.
pub fn play(url: &str, mode: &str, seconds: u32, extra: &[&str]) -> serde_json::Value {
    let seconds = seconds.to_string();
    let mut args = vec!["--url", url, "--mode", mode, "--seconds", &seconds];
    args.extend_from_slice(extra);
    node("play.mjs", &args)
}

/// Runs tests/e2e/page.mjs (the page at `/` follows a stream coming and going); returns its JSON
/// report.
pub fn page_harness(args: &[&str]) -> serde_json::Value {
    node("page.mjs", args)
}

/// Runs tests/e2e/page-live.mjs (the page at `/` follows a live run and plays it).
pub fn page_live_harness(args: &[&str]) -> serde_json::Value {
    node("page-live.mjs", args)
}

/// Runs tests/e2e/drm.mjs (Shaka Player + EME ClearKey on a cbcs stream).
pub fn drm_harness(args: &[&str]) -> serde_json::Value {
    node("drm.mjs", args)
}

/// Runs tests/e2e/tracks.mjs (a ladder's audio/text tracks and variants switched in hls.js or
/// Shaka Player); returns its JSON report.
pub fn tracks_harness(args: &[&str]) -> serde_json::Value {
    node("tracks.mjs", args)
}

/// The failures of [`tracks_harness`] over `urls` in Shaka Player and hls.js, with the
/// audio renditions `en,fr` and the subtitles `en,fr` switched (one line each).
pub fn ladder_tracks_failures(urls: &[String]) -> Vec<String> {
    let mut failures = Vec::new();
    for player in ["shaka", "hlsjs"] {
        for url in urls {
            let args = ["--url", url, "--player", player];
            let more = ["--audio", "en,fr", "--text", "en,fr", "--seconds", "1"];
            let report = tracks_harness(&[&args[..], &more].concat());
            if report["ok"] != true {
                failures.push(format!("{player} {url}: {report}"));
            }
        }
    }
    failures
}

/// Runs tests/e2e/shaka-play.mjs (Shaka Player plays a URL); returns its JSON report.
pub fn shaka_play_harness(args: &[&str]) -> serde_json::Value {
    node("shaka-play.mjs", args)
}

/// Runs the browser harness `script` of tests/e2e with `args`; its last stdout line is the report.
fn node(script: &str, args: &[&str]) -> serde_json::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "tests/e2e/node_modules missing: run `npm ci --prefix tests/e2e` (the README test command does)"
    );
    // One browser at a time across test processes (the 10-minute live run plays while the
    // rest of the suite runs): two Chromiums decoding on a 2-core CI machine would starve each
    // other's playback. The lock is released when the file is closed.
    let lock = std::fs::File::create(super::work_dir().join("browser.lock")).expect("lock file");
    lock.lock().expect("browser lock");
    let started = Instant::now();
    let out = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let report: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "browser harness output is not JSON ({e}) after {:?}: {stdout}\n{}",
            started.elapsed(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    report
}
