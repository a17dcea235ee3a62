// SPDX-License-Identifier: MIT OR Apache-2.0
//! The driver fed by hand: a transport stream from ffmpeg cut into datagrams, with garbage
//! and lost datagrams, an encoder restart, the end of input, and a second run continuing
//! the playlist. Skipped when ffmpeg (with libx264 and aac) is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use media::live::LiveConfig;
use media::package::Format;
use tokio::time::Instant;

use super::driver::{Driver, DriverConfig, OnInputLoss};
use super::IngestEvent;

fn source(dir: &Path) -> Option<PathBuf> {
    let path = dir.join("input.ts");
    if path.exists() {
        return Some(path);
    }
    let tmp = dir.join("input.tmp.ts");
    let ok = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=30",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t",
            "8",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
        ])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts"])
        .arg(&tmp)
        .status()
        .is_ok_and(|s| s.success());
    (ok && std::fs::rename(&tmp, &path).is_ok()).then_some(path)
}

fn config(dir: &Path) -> DriverConfig {
    DriverConfig {
        live: LiveConfig {
            format: Format::Fmp4,
            segment_duration: 1.0,
            window: 4,
            ..LiveConfig::default()
        },
        dir: dir.to_path_buf(),
        input_timeout: Duration::from_secs(5),
        on_loss: OnInputLoss::End,
    }
}

/// Feeds `ts` as 1316-byte datagrams; every 40th is garbage, every 97th is lost.
fn feed(driver: &mut Driver, ts: &[u8], wall: SystemTime) {
    let now = Instant::now();
    for (i, chunk) in ts.chunks(1316).enumerate() {
        let data = match i {
            i if i % 97 == 96 => continue,
            i if i % 40 == 39 => Bytes::from(vec![0x47; 700]),
            _ => Bytes::copy_from_slice(chunk),
        };
        driver
            .handle(IngestEvent::Data(data), wall, now)
            .expect("data");
    }
}

fn listed(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn media_sequence(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn garbage_loss_restart_end_and_continue() {
    let work = std::env::temp_dir().join("hlsorigin-liveio-driver");
    let _ = std::fs::create_dir_all(&work);
    let Some(input) = source(&work) else {
        return;
    };
    let ts = std::fs::read(&input).expect("input");
    let dir = work.join("out");
    let _ = std::fs::remove_dir_all(&dir);
    let wall = SystemTime::now();
    let now = Instant::now();

    let mut driver = Driver::new(config(&dir), None).expect("driver");
    let session = |peer: &str| IngestEvent::Session { peer: peer.into() };
    driver.handle(session("a"), wall, now).expect("session");
    feed(&mut driver, &ts, wall);
    // The encoder restarts: same timestamps again, a new session.
    driver
        .handle(IngestEvent::Closed, wall, now)
        .expect("closed");
    driver.handle(session("b"), wall, now).expect("session");
    feed(&mut driver, &ts, wall);
    driver.handle(IngestEvent::End, wall, now).expect("end");

    let playlist = dir.join("stream.m3u8");
    let text = std::fs::read_to_string(&playlist).expect("playlist");
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    // The restart's discontinuity has slid out of the 4-segment window by now.
    assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), "{text}");
    assert!(dir.join("master.m3u8").exists());
    for uri in listed(&text) {
        assert!(dir.join(uri).exists(), "{uri} listed but missing");
    }
    let first_run = media_sequence(&text) + listed(&text).len() as u64;
    assert!(first_run >= 8, "two 8 s inputs in 1 s segments: {text}");

    // A second run (after a crash or not) continues the playlist.
    let mut driver = Driver::new(config(&dir), None).expect("driver");
    driver.handle(session("c"), wall, now).expect("session");
    feed(&mut driver, &ts, wall);
    driver.handle(IngestEvent::End, wall, now).expect("end");
    let text = std::fs::read_to_string(&playlist).expect("playlist");
    let next = media_sequence(&text) + listed(&text).len() as u64;
    assert!(next >= first_run + 4, "MEDIA-SEQUENCE continues: {text}");
    assert!(media_sequence(&text) >= first_run.saturating_sub(4));
    for uri in listed(&text) {
        assert!(dir.join(uri).exists(), "{uri} listed but missing");
    }
}

#[test]
fn input_timeout_ends_the_stream() {
    let work = std::env::temp_dir().join("hlsorigin-liveio-driver");
    let _ = std::fs::create_dir_all(&work);
    let Some(input) = source(&work) else {
        return;
    };
    let ts = std::fs::read(&input).expect("input");
    let dir = work.join("timeout");
    let _ = std::fs::remove_dir_all(&dir);
    let wall = SystemTime::now();
    let start = Instant::now();
    let mut driver = Driver::new(config(&dir), None).expect("driver");
    for chunk in ts.chunks(1316) {
        driver
            .handle(
                IngestEvent::Data(Bytes::copy_from_slice(chunk)),
                wall,
                start,
            )
            .expect("data");
    }
    let wake = driver
        .next_wakeup(start)
        .expect("an input timeout is pending");
    assert!(wake <= start + Duration::from_secs(5));
    driver
        .tick(wall, start + Duration::from_secs(1))
        .expect("tick");
    let text = std::fs::read_to_string(dir.join("stream.m3u8")).expect("playlist");
    assert!(!text.contains("#EXT-X-ENDLIST"), "not yet: {text}");
    driver
        .tick(wall, start + Duration::from_secs(6))
        .expect("tick");
    let text = std::fs::read_to_string(dir.join("stream.m3u8")).expect("playlist");
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
}
