// SPDX-License-Identifier: MIT OR Apache-2.0
//! The default run with `--playlists s3://BUCKET/PREFIX`: media/ is packaged into SeaweedFS,
//! the page and origin serve the prefix from storage (ffprobe decodes the stream through it,
//! `/api/streams` lists it), a restart finds it up to date from the record in storage, and a
//! deleted source takes its stream out of storage; an RTMP publisher's stream goes there too.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use crate::common::seaweed::{hlsorigin, request, Seaweed, BUCKET};
use crate::common::{fixtures, work_dir};
use crate::suite::live::harness::{encoder, Proc};

struct Run {
    _proc: Proc,
    lines: Receiver<String>,
    base: String,
}

impl Run {
    fn start(weed: &Seaweed, root: &Path) -> Run {
        Self::start_with(weed, root, "site", &["--no-ingest"])
    }

    fn start_with(weed: &Seaweed, root: &Path, prefix: &str, args: &[&str]) -> Run {
        let mut child = hlsorigin(weed)
            .current_dir(root)
            .args(["--listen", "127.0.0.1:0", "--playlists"])
            .arg(format!("s3://{BUCKET}/{prefix}"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hlsorigin");
        let (tx, lines) = channel();
        let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().expect("stdout"));
        let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().expect("stderr"));
        for pipe in [out, err] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    eprintln!("hlsorigin: {line}");
                    let _ = tx.send(line);
                }
            });
        }
        let mut run = Run {
            _proc: Proc(child),
            lines,
            base: String::new(),
        };
        let serving = run.wait_for(&format!("serving s3://{BUCKET}/{prefix} on "));
        run.base = serving
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("URL")
            .trim_end_matches('/')
            .to_owned();
        run
    }

    fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line with {what:?}"),
            }
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = request(self.base.trim_start_matches("http://"), "GET", path, &[])
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

#[test]
fn default_run_packages_media_into_storage_and_serves_it() {
    let weed = Seaweed::start("default-run");
    let root = work_dir().join("storage-default-run");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("media")).expect("media");
    std::fs::copy(
        fixtures::by_name("h264_aac.mp4"),
        root.join("media/clip.mp4"),
    )
    .expect("copy");
    {
        let run = Run::start(&weed, &root);
        run.wait_for("packaged ");
        let keys = weed.keys("site/clip/");
        assert!(
            keys.contains(&"site/clip/master.m3u8".to_owned()),
            "{keys:?}"
        );
        assert!(
            keys.contains(&"site/clip/.hlsorigin-source".to_owned()),
            "{keys:?}"
        );
        assert!(
            !root.join("playlists").exists(),
            "nothing on the local disk"
        );
        // The page and the listing it plays from.
        let (status, page) = run.get("/");
        assert_eq!(status, 200);
        assert!(
            page.contains("<html") || page.contains("<!doctype"),
            "{page}"
        );
        let (status, streams) = run.get("/api/streams");
        assert_eq!(status, 200);
        assert!(streams.contains("clip/master.m3u8"), "{streams}");
        // The record is a dot-object: never served.
        assert_eq!(run.get("/clip/.hlsorigin-source").0, 404);
        // ffprobe decodes the stream through the origin.
        let url = format!("{}/clip/master.m3u8", run.base);
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type",
                "-of",
                "csv=p=0",
            ])
            .arg(&url)
            .output()
            .expect("ffprobe");
        let kinds = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            kinds.contains("video") && kinds.contains("audio"),
            "{kinds}"
        );
    }
    // A restart: the record in storage says it is up to date (no second run).
    let run = Run::start(&weed, &root);
    run.wait_for("up to date: ");
    let runs = weed.keys("site/clip/.hlsorigin/runs/").len();
    assert_eq!(runs, 1, "one packaging run");
    // Its source deleted: the stream leaves storage.
    std::fs::remove_file(root.join("media/clip.mp4")).expect("rm");
    run.wait_for("removed stream clip");
    assert!(
        weed.keys("site/clip/").is_empty(),
        "{:?}",
        weed.keys("site/clip/")
    );
    assert!(!run.get("/api/streams").1.contains("clip/master.m3u8"));
    let _ = std::fs::remove_dir_all(&root);
}

/// Live ingest of the default run with `--playlists s3://…`: an RTMP publisher's stream NAME
/// goes into `PREFIX/NAME/` in storage and the page's origin serves it from there.
#[test]
fn default_run_ingest_into_storage() {
    let weed = Seaweed::start("default-run-ingest");
    let root = work_dir().join("storage-default-run-ingest");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("media")).expect("media");
    let args = [
        "--ingest-rtmp",
        "127.0.0.1:0",
        "--ingest-srt",
        "127.0.0.1:0",
    ];
    let run = Run::start_with(&weed, &root, "site2", &args);
    let obs = run.wait_for("OBS: Server rtmp://");
    let server = obs
        .split_whitespace()
        .find(|w| w.starts_with("rtmp://"))
        .expect("rtmp URL")
        .to_owned();
    let _publisher = encoder(
        &format!("{server}/cam"),
        &["-f", "flv"],
        Some(300),
        Stdio::null(),
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, text) = run.get("/cam/stream.m3u8");
        let listed = match m3u8_rs::parse_playlist_res(text.as_bytes()) {
            // Whole segments only (not EXT-X-GAP: a slow storage write may leave one out).
            Ok(m3u8_rs::Playlist::MediaPlaylist(m)) if status == 200 => m
                .segments
                .iter()
                .filter(|s| !s.unknown_tags.iter().any(|t| t.tag == "X-GAP"))
                .count(),
            _ => 0,
        };
        if listed >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no live stream from storage: {status} {text}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let keys = weed.keys("site2/cam/");
    assert!(keys.iter().any(|k| k.ends_with("/stream.m3u8")), "{keys:?}");
    assert!(keys.iter().any(|k| k.ends_with(".m4s")), "{keys:?}");
    assert!(
        !root.join("playlists").exists(),
        "nothing on the local disk"
    );
    let url = format!("{}/cam/master.m3u8", run.base);
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type",
            "-of",
            "csv=p=0",
        ])
        .arg(&url)
        .output()
        .expect("ffprobe");
    let kinds = String::from_utf8_lossy(&out.stdout);
    assert!(
        kinds.contains("video") && kinds.contains("audio"),
        "{kinds}: {}\nthe media playlist then: {:?}",
        String::from_utf8_lossy(&out.stderr),
        run.get("/cam/stream.m3u8")
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// The run directories under `prefix/` (not the dot-objects).
fn runs(weed: &Seaweed, prefix: &str) -> std::collections::BTreeSet<String> {
    weed.keys(&format!("{prefix}/"))
        .iter()
        .filter_map(|k| k.strip_prefix(&format!("{prefix}/")))
        .filter(|k| !k.starts_with('.') && k.contains('/'))
        .filter_map(|k| k.split('/').next().map(str::to_owned))
        .collect()
}

/// `--gc-grace` as `package` has it: a re-packaged video's superseded run stays until a later
/// packaging of the same video after the grace, then is deleted.
#[test]
fn default_run_gc_grace_collects_old_runs_of_a_repackaged_video() {
    let weed = Seaweed::start("default-run-gc");
    let root = work_dir().join("storage-default-run-gc");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("media")).expect("media");
    let source = fixtures::by_name("h264_aac.mp4");
    // A new copy renamed over the video: new mtime, so the record says it changed.
    let replace = || {
        let tmp = root.join("clip.tmp");
        std::fs::copy(&source, &tmp).expect("copy");
        std::fs::rename(&tmp, root.join("media/clip.mp4")).expect("rename");
    };
    replace();
    let run = Run::start_with(&weed, &root, "gc", &["--no-ingest", "--gc-grace", "4s"]);
    run.wait_for("packaged ");
    let first = runs(&weed, "gc/clip");
    assert_eq!(first.len(), 1, "{first:?}");
    std::thread::sleep(Duration::from_millis(1100));
    replace();
    run.wait_for("packaged ");
    let second = runs(&weed, "gc/clip");
    assert_eq!(
        second.len(),
        2,
        "the old run stays within the grace: {second:?}"
    );
    assert!(second.is_superset(&first));
    std::thread::sleep(Duration::from_secs(5));
    replace();
    run.wait_for("packaged ");
    let third = runs(&weed, "gc/clip");
    assert_eq!(third.len(), 2, "{third:?}");
    assert!(
        third.is_disjoint(&first),
        "the first run, superseded more than the grace ago, is deleted: {third:?}"
    );
    let (status, _) = run.get("/clip/master.m3u8");
    assert_eq!(status, 200);
    let _ = std::fs::remove_dir_all(&root);
}
