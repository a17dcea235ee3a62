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
use super::{group, IngestEvent};

pub(super) fn source(dir: &Path) -> Option<PathBuf> {
    let path = dir.join("input.ts");
    if path.exists() {
        return Some(path);
    }
    // Tests run in parallel and may all make it at once: each writes its own file, and the
    // rename puts a whole one in place (a shared temporary name let one test read a file
    // another was still writing).
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!("input.tmp.{}.{call}.ts", std::process::id()));
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

pub(super) fn config(dir: &Path) -> DriverConfig {
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
        group: None,
        storage: None,
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
    // The restart's discontinuity has slid out of the 4-segment window by now (and those
    // where a lost keyframe made a 2 s GOP, longer than the 1 s target: see media::live::cut).
    let discontinuity_sequence = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:"))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(discontinuity_sequence >= Some(1), "{text}");
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

/// `(LAST-MSN, LAST-PART)` of the EXT-X-RENDITION-REPORT for `uri` in `text`.
fn report_of(text: &str, uri: &str) -> Option<(u64, u64)> {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("#EXT-X-RENDITION-REPORT:URI=\"{uri}\"")))?;
    let attr = |name: &str| {
        line.split(',')
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|v| v.parse().ok())
    };
    Some((attr("LAST-MSN=")?, attr("LAST-PART=")?))
}

/// `(msn, part)` of the newest part a playlist lists.
fn newest_part(text: &str) -> (u64, u64) {
    let (mut msn, mut parts) = (media_sequence(text), 0u64);
    let mut last = (0, 0);
    for l in text.lines() {
        if l.starts_with("#EXT-X-PART:") {
            last = (msn, parts);
            parts += 1;
        } else if !l.is_empty() && !l.starts_with('#') {
            (msn, parts) = (msn + 1, 0);
        }
    }
    last
}

/// Two inputs as renditions of one stream, the second starting late: no multivariant
/// playlist until both have a segment, then one listing both; each playlist reports the other
/// as it stood when the playlist was written; when one input ends its rendition leaves the
/// multivariant playlist and the other's reports, and the other goes on.
#[test]
fn two_renditions_share_master_and_report_each_other() {
    let work = std::env::temp_dir().join("hlsorigin-liveio-driver");
    let _ = std::fs::create_dir_all(&work);
    let Some(input) = source(&work) else {
        return;
    };
    let ts = std::fs::read(&input).expect("input");
    let dir = work.join("renditions");
    let _ = std::fs::remove_dir_all(&dir);
    let (wall, now) = (SystemTime::now(), Instant::now());
    let members = group::members(2, &dir, Duration::from_secs(5));
    let mut drivers: Vec<Driver> = ["a", "b"]
        .iter()
        .zip(members)
        .map(|(name, member)| {
            let mut cfg = config(&dir);
            cfg.live.rendition = (*name).into();
            cfg.live.part_duration = Some(0.5);
            cfg.live.write_master = false;
            cfg.live.aligned_cuts = true;
            cfg.group = Some(member);
            Driver::new(cfg, None).expect("driver")
        })
        .collect();
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let chunks: Vec<&[u8]> = ts.chunks(1316).collect();
    let late = chunks.len() / 5;
    let half = chunks.len() * 3 / 5;
    let data = |i: usize| {
        IngestEvent::Data(Bytes::copy_from_slice(
            chunks.get(i).copied().unwrap_or_default(),
        ))
    };
    let mut to = |d: usize, event: IngestEvent| {
        if let Some(driver) = drivers.get_mut(d) {
            driver.handle(event, wall, now).expect("event");
        }
    };
    let send = |to: &mut dyn FnMut(usize, IngestEvent), d: usize, i: usize| to(d, data(i));
    for i in 0..half {
        if i >= late {
            send(&mut to, 1, i);
        }
        send(&mut to, 0, i);
        let (master, b) = (read("master.m3u8"), read("b.m3u8"));
        if b.contains("#EXTINF") {
            assert!(master.contains("\nb.m3u8\n"), "{master}");
        } else {
            assert!(master.is_empty(), "waits for b's first segment: {master}");
        }
    }
    let master = read("master.m3u8");
    assert!(
        master.contains("\na.m3u8\n") && master.contains("\nb.m3u8\n"),
        "{master}\n{}\n{}",
        read("a.m3u8"),
        read("b.m3u8")
    );
    // b stands still while a goes on: a's next playlists report b exactly.
    let b = read("b.m3u8");
    let before = read("a.m3u8");
    let mut i = half;
    while read("a.m3u8") == before && i < chunks.len() {
        send(&mut to, 0, i);
        i += 1;
    }
    let a = read("a.m3u8");
    assert_ne!(a, before, "a published again");
    assert_eq!(report_of(&a, "b.m3u8"), Some(newest_part(&b)), "{a}\n{b}");
    assert_eq!(report_of(&a, "a.m3u8"), None, "no report of itself");
    // And b reports a as a was when b's playlist came out.
    let b_before = read("b.m3u8");
    let mut j = half;
    while read("b.m3u8") == b_before && j < chunks.len() {
        send(&mut to, 1, j);
        j += 1;
    }
    let b = read("b.m3u8");
    assert_ne!(b, b_before, "b published again");
    assert_eq!(report_of(&b, "a.m3u8"), Some(newest_part(&a)), "{b}");

    // a's input ends; b goes on alone.
    to(0, IngestEvent::End);
    assert!(read("a.m3u8").ends_with("#EXT-X-ENDLIST\n"));
    let master = read("master.m3u8");
    assert!(
        !master.contains("a.m3u8") && master.contains("b.m3u8"),
        "{master}"
    );
    let b_before = read("b.m3u8");
    while read("b.m3u8") == b_before && j < chunks.len() {
        send(&mut to, 1, j);
        j += 1;
    }
    let b = read("b.m3u8");
    assert!(b != b_before && !b.contains("RENDITION-REPORT"), "{b}");
    to(1, IngestEvent::End);
    // Both over: the multivariant playlist lists the stream as it ended.
    let master = read("master.m3u8");
    assert!(
        master.contains("a.m3u8") && master.contains("b.m3u8"),
        "{master}"
    );
}
