// SPDX-License-Identifier: MIT OR Apache-2.0
//! The default run (`hlsorigin` with no subcommand): packages media/ into playlists/, serves it, the page
//! at `/` lists and plays the sample in real Chromium, and a file dropped into media/ is packaged once it
//! has stopped growing — never while half-copied.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use crate::common::server::{page_harness, play};
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
        self.wait_until(what, timeout, |l| l.contains(what))
    }

    /// Waits for a line starting with `start` and containing `what`.
    fn wait_line(&self, start: &str, what: &str, timeout: Duration) -> String {
        let desc = format!("{start}…{what}");
        self.wait_until(&desc, timeout, |l| l.starts_with(start) && l.contains(what))
    }

    fn wait_until(&self, desc: &str, timeout: Duration, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(_) => continue,
                Err(_) => panic!("no output line like {desc:?} within {timeout:?}"),
            }
        }
    }

    /// Every line until `n` lines satisfied `want` (all lines seen, in order).
    fn lines_until(&self, n: usize, timeout: Duration, want: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let (mut seen, mut hits) = (Vec::new(), 0);
        while hits < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!("only {hits} of {n} expected lines within {timeout:?}: {seen:#?}")
            });
            hits += usize::from(want(&line));
            seen.push(line);
        }
        seen
    }
}

/// Starts the default run in `root` on a free port; its stdout and stderr lines arrive on one channel.
fn start(root: &Path) -> Run {
    let mut child = Command::new(bin())
        .current_dir(root)
        .args(["--listen", "127.0.0.1:0", "--no-ingest"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hlsorigin");
    let (tx, rx) = channel();
    let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().unwrap());
    let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().unwrap());
    for pipe in [out, err] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("  | {line}");
                let _ = tx.send(line);
            }
        });
    }
    Run { child, lines: rx }
}

/// `http://ADDR` from the "serving … on URL/" line.
fn base_of(run: &Run) -> String {
    let serving = run.wait_for("serving", Duration::from_secs(30));
    serving[serving.find("http://").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned()
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
    let base = base_of(&run);
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

/// The page follows `/api/events` over a WebSocket: a file dropped into media/ shows up as a VOD
/// entry without a reload, and deleting the file removes the entry.
#[test]
fn default_run_page_shows_a_dropped_file_and_its_removal_without_reload() {
    let root = fresh_root("default-run-page-events");
    let run = start(&root);
    let base = base_of(&run);
    let media = root.join("media");
    let report = page_harness(&[
        "--url",
        &format!("{base}/"),
        "--add-from",
        fixtures::by_name("h264_aac.mp4").to_str().unwrap(),
        "--add-to",
        media.join("dropped.mp4").to_str().unwrap(),
        "--stream",
        "dropped",
    ]);
    assert_eq!(report["ok"], true, "page: {report}");
    assert_eq!(report["transport"], "websocket", "{report}");
    let text = report["entryText"].as_str().unwrap_or("");
    assert!(
        text.contains("dropped/master.m3u8") && text.contains("vod") && text.contains("avc1"),
        "entry shows the playlist, its kind and codecs (from the snapshot's entries): {report}"
    );
    assert!(!root.join("playlists/dropped").exists());
}

/// A fresh default-run directory with an empty `media/`.
fn fresh_root(name: &str) -> std::path::PathBuf {
    let root = work_dir().join(name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("media")).unwrap();
    root
}

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("media/sample.mp4")
}

/// The stream names `/api/streams` lists (`NAME/master.m3u8` → `NAME`), sorted.
fn listed(base: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&streams(base)).expect("/api/streams is JSON");
    let mut names: Vec<String> = v["streams"]
        .as_array()
        .expect("streams array")
        .iter()
        .filter_map(|s| s.as_str()?.strip_suffix("/master.m3u8").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// What a packaged stream holds, per m3u8-rs: (has video, total EXTINF seconds of its first variant).
fn shape(dir: &Path) -> (bool, f64) {
    let text = std::fs::read(dir.join("master.m3u8")).expect("master.m3u8");
    let Ok(m3u8_rs::Playlist::MasterPlaylist(master)) = m3u8_rs::parse_playlist_res(&text) else {
        panic!("{}: not a multivariant playlist", dir.display());
    };
    let variant = master
        .variants
        .iter()
        .find(|v| !v.is_i_frame)
        .expect("a variant");
    let video = variant.codecs.as_deref().unwrap_or("").contains("avc");
    let text = std::fs::read(dir.join(&variant.uri)).expect("media playlist");
    let Ok(m3u8_rs::Playlist::MediaPlaylist(media)) = m3u8_rs::parse_playlist_res(&text) else {
        panic!("{}: {} is not a media playlist", dir.display(), variant.uri);
    };
    (
        video,
        media.segments.iter().map(|s| f64::from(s.duration)).sum(),
    )
}

/// Writes `bytes` to `dest` the way a slow copy (scp, a network share) does: small pieces, a 4 s stall
/// half way, then the rest appended.
fn paused_copy(bytes: &[u8], dest: &Path) {
    let mut f = std::fs::File::create(dest).unwrap();
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    for piece in first.chunks(8192) {
        f.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_secs(4));
    for piece in rest.chunks(8192) {
        f.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn default_run_keeps_packaging_after_a_paused_copy() {
    let root = fresh_root("default-run-paused");
    let run = start(&root);
    let base = base_of(&run);

    // A copy that stalls half way: the half file may be tried (and fail), the whole file is packaged.
    paused_copy(
        &std::fs::read(sample()).unwrap(),
        &root.join("media/one.mp4"),
    );
    run.wait_line("packaged", "one/master.m3u8", Duration::from_secs(120));

    // Every later file is still packaged (it used to wait behind one 1.5 s check per write event of
    // the paused copy: minutes here, hours for a large file).
    std::fs::copy(
        fixtures::by_name("h264_aac.mp4"),
        root.join("media/two.mp4"),
    )
    .unwrap();
    run.wait_line("packaged", "two/master.m3u8", Duration::from_secs(60));
    assert_eq!(listed(&base), ["one", "two"]);
    let (video, secs) = shape(&root.join("playlists/one"));
    assert!(
        video && (secs - 20.0).abs() < 0.5,
        "one: the whole 20 s sample, got {secs} s"
    );
}

#[test]
fn default_run_names_clashing_sources_apart_and_removes_deleted_ones() {
    let root = fresh_root("default-run-names");
    let media = root.join("media");
    let ts = fixtures::by_name("h264_aac.ts");
    let av = fixtures::by_name("h264_aac.mp4");
    for (from, to) in [
        (sample(), "clip.mp4"),
        (ts, "clip.ts"),
        (fixtures::by_name("aac_only.m4a"), "a b.m4a"),
        (av.clone(), "a_b.mp4"),
    ] {
        std::fs::copy(from, media.join(to)).unwrap();
    }
    let run = start(&root);
    let base = base_of(&run);
    let lines = run.lines_until(4, Duration::from_secs(120), |l| l.starts_with("packaged"));
    for (file, name) in [("clip.ts", "clip-ts"), ("a_b.mp4", "a_b-mp4")] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("{file} is served as {name}"))),
            "the log says {file} is served as {name}: {lines:#?}"
        );
    }
    assert_eq!(listed(&base), ["a_b", "a_b-mp4", "clip", "clip-ts"]);
    // Each stream holds its own source (20 s sample, 5 s fixtures, the audio-only one without video).
    let want = [
        ("clip", true, 20.0),
        ("clip-ts", true, 5.0),
        ("a_b", false, 5.0),
        ("a_b-mp4", true, 5.0),
    ];
    for (name, video, secs) in want {
        let (v, s) = shape(&root.join("playlists").join(name));
        assert!(
            v == video && (s - secs).abs() < 0.5,
            "{name}: video {v}, {s} s"
        );
    }

    // A file dropped in while running, then a source deleted while running.
    std::fs::copy(&av, media.join("late.mp4")).unwrap();
    run.wait_line("packaged", "late/master.m3u8", Duration::from_secs(60));
    std::fs::remove_file(media.join("clip.ts")).unwrap();
    run.wait_line("removed stream clip-ts", "clip.ts", Duration::from_secs(30));
    assert!(!root.join("playlists/clip-ts").exists());
    let status = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("{base}/clip-ts/master.m3u8"))
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        "404",
        "a removed stream is not served"
    );
    assert_eq!(listed(&base), ["a_b", "a_b-mp4", "clip", "late"]);
    drop(run);

    // A source deleted while stopped leaves on the next start; every other stream is up to date
    // (the late one too) and keeps its name.
    std::fs::remove_file(media.join("a b.m4a")).unwrap();
    let run = start(&root);
    let base = base_of(&run);
    let lines = run.lines_until(3, Duration::from_secs(60), |l| l.starts_with("up to date"));
    assert!(
        lines.iter().any(|l| l.starts_with("removed stream a_b:")),
        "{lines:#?}"
    );
    for name in ["clip", "a_b-mp4", "late"] {
        let url = format!("/{name}/master.m3u8");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("up to date") && l.ends_with(&url)),
            "{name} is up to date after a restart: {lines:#?}"
        );
    }
    assert!(
        !lines.iter().any(|l| l.starts_with("packaged")),
        "{lines:#?}"
    );
    assert_eq!(listed(&base), ["a_b-mp4", "clip", "late"]);
}

#[test]
fn default_run_errors_and_warnings_name_the_file_once() {
    let root = fresh_root("default-run-errors");
    let bytes = std::fs::read(sample()).unwrap();
    // The sample cut in half: a 'mdat' warning, then an error.
    std::fs::write(root.join("media/broken.mp4"), &bytes[..bytes.len() / 2]).unwrap();
    let run = start(&root);
    let warn = run.wait_for("'mdat' box", Duration::from_secs(60));
    assert!(
        warn.contains("media/broken.mp4"),
        "the warning names the file: {warn}"
    );
    let error = run.wait_for("ERROR", Duration::from_secs(30));
    assert_eq!(
        error.matches("broken.mp4").count(),
        1,
        "one line naming the file once: {error}"
    );
}

#[test]
fn default_run_serves_a_favicon() {
    let root = fresh_root("default-run-favicon");
    let run = start(&root);
    let base = base_of(&run);
    let icon = root.join("favicon.ico");
    let out = Command::new("curl")
        .args(["-s", "-o"])
        .arg(&icon)
        .args([
            "-w",
            "%{http_code} %{content_type}",
            &format!("{base}/favicon.ico"),
        ])
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 image/x-icon");
    let streams = crate::common::probe::streams(&icon);
    assert!(
        streams.len() == 1 && streams[0].kind == "video" && streams[0].codec == "png",
        "ffprobe reads one image: {streams:?}"
    );
}
