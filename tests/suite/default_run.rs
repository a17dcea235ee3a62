// SPDX-License-Identifier: MIT OR Apache-2.0
//! The default run (`hlsorigin` with no subcommand): packages media/ into playlists/, serves it, the page
//! at `/` lists and plays the sample in real Chromium, and a file dropped into media/ is packaged once it
//! has stopped growing — never while half-copied.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use crate::common::server::play;
use crate::common::{bin, fixtures, work_dir};

struct Run {
    child: Child,
    lines: Receiver<String>,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Run {
    fn wait_for(&self, what: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => continue,
                Err(_) => panic!("no output line containing {what:?} within {timeout:?}"),
            }
        }
    }
}

/// Starts the default run in `root` on a free port.
fn start(root: &Path) -> Run {
    let mut child = Command::new(bin())
        .current_dir(root)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start hlsorigin");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Run { child, lines: rx }
}

fn streams(base: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", &format!("{base}/api/streams")])
        .output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(_) => http_get(base, "/api/streams"),
    }
}

/// Minimal HTTP/1.1 GET (no curl needed).
fn http_get(base: &str, path: &str) -> String {
    use std::io::Read;
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()
}

#[test]
fn default_run_packages_watches_serves_and_plays() {
    let root = work_dir().join("default-run");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("media")).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("media/sample.mp4");
    std::fs::copy(&sample, root.join("media/sample.mp4")).expect("the repo ships media/sample.mp4");

    let run = start(&root);
    let serving = run.wait_for("http://", Duration::from_secs(30));
    let base = serving[serving.find("http://").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    run.wait_for("sample/master.m3u8", Duration::from_secs(60));
    assert!(root.join("playlists/sample/master.m3u8").exists());

    // The page lists the sample and plays it (hls.js forced; the native path is covered elsewhere).
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("default-run-page.png");
    let report = play(
        &format!("{base}/?engine=hlsjs"),
        "page",
        6,
        &["--screenshot", shot.to_str().unwrap()],
    );
    assert_eq!(report["ok"], true, "page playback: {report}");
    let listed: Vec<String> = serde_json::from_value(report["streams"].clone()).unwrap_or_default();
    assert!(
        listed.iter().any(|s| s.contains("sample/master.m3u8")),
        "page lists the sample: {listed:?}"
    );
    assert!(shot.exists(), "screenshot kept as a test artifact");
    // Without ?engine the page uses native HLS where canPlayType says so (Chromium does), else hls.js.
    let report = play(&format!("{base}/"), "page", 4, &[]);
    assert_eq!(
        report["ok"], true,
        "page playback, default engine: {report}"
    );

    // A file copied in slowly is not packaged while it grows, then is packaged once complete.
    let fresh = fixtures::by_name("h264_aac.mp4");
    let bytes = std::fs::read(&fresh).unwrap();
    let dest = root.join("media/dropped.mp4");
    let mut f = std::fs::File::create(&dest).unwrap();
    // Copy it in 12 pieces, 300 ms apart (a slow copy): it must not be packaged meanwhile.
    for piece in bytes.chunks(bytes.len().div_ceil(12)) {
        f.write_all(piece).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !root.join("playlists/dropped").exists(),
            "a half-copied file must not be packaged"
        );
    }
    drop(f);
    run.wait_for("dropped/master.m3u8", Duration::from_secs(60));
    let listed = streams(&base);
    assert!(
        listed.contains("dropped/master.m3u8"),
        "new stream listed: {listed}"
    );
    let report = play(&format!("{base}/dropped/master.m3u8"), "hlsjs", 3, &[]);
    assert_eq!(report["ok"], true, "dropped stream plays: {report}");
    drop(run);

    // A restart skips what is already up to date (same source size and mtime).
    let run = start(&root);
    let line = run.wait_for("sample/master.m3u8", Duration::from_secs(60));
    assert!(
        line.starts_with("up to date"),
        "restart does not repackage: {line}"
    );
}
