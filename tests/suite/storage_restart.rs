// SPDX-License-Identifier: MIT OR Apache-2.0
//! `live --root s3://…` killed with `kill -9` and started again with the same name: the new
//! run continues the playlist it finds in storage (MEDIA-SEQUENCE goes on, RFC 8216bis 6.2.2;
//! the gap is an EXT-X-DISCONTINUITY, 6.2.1), as the local-disk recovery does, and every
//! object the stored playlist lists is in storage. Checked with m3u8-rs and SeaweedFS's own
//! listing. Generous timeouts, assertions on progress.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::seaweed::{hlsorigin, Seaweed, BUCKET};
use crate::suite::live::harness::{encoder, Proc};

/// ffmpeg → `live --input - --name cam --root s3://BUCKET/PREFIX --segment-duration 1`.
fn packager(weed: &Seaweed, prefix: &str, extra: &[&str]) -> (Proc, Proc) {
    let mut enc = encoder("-", &[], Some(300), Stdio::piped());
    let ts = enc.0.stdout.take().expect("encoder stdout");
    let child: Child = hlsorigin(weed)
        .args(["live", "--input", "-", "--name", "cam", "--root"])
        .arg(format!("s3://{BUCKET}/{prefix}"))
        .args(["--segment-duration", "1"])
        .args(extra)
        .stdin(Stdio::from(ts))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn hlsorigin live");
    (enc, Proc(child))
}

fn stored(weed: &Seaweed, key: &str) -> Option<m3u8_rs::MediaPlaylist> {
    let (status, body) = weed.get(key);
    if status != 200 {
        return None;
    }
    match m3u8_rs::parse_playlist_res(&body) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => Some(m),
        _ => None,
    }
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn last_msn(p: &m3u8_rs::MediaPlaylist) -> u64 {
    p.media_sequence + p.segments.len() as u64 - 1
}

fn restart_continues(prefix: &str, extra: &[&str]) {
    let weed = Seaweed::start(&format!("restart-{prefix}"));
    let key = format!("{prefix}/cam/stream.m3u8");
    let (enc, mut live) = packager(&weed, prefix, extra);
    wait_for("three stored segments", || {
        stored(&weed, &key).filter(|p| p.segments.len() >= 3)
    });
    // SIGKILL, the packager before its encoder: nothing flushed, no ENDLIST.
    live.kill();
    drop(enc);
    let before = stored(&weed, &key).expect("stored playlist");
    assert!(!before.end_list, "a killed packager leaves a live playlist");
    let _second = packager(&weed, prefix, extra);
    let first_new = last_msn(&before) + 1;
    let after = wait_for("the restarted run's segments", || {
        stored(&weed, &key).filter(|p| !p.segments.is_empty() && last_msn(p) >= first_new + 2)
    });
    assert!(
        after.media_sequence >= before.media_sequence,
        "MEDIA-SEQUENCE went back from {} to {}",
        before.media_sequence,
        after.media_sequence
    );
    let at = |p: &m3u8_rs::MediaPlaylist, msn: u64| {
        msn.checked_sub(p.media_sequence)
            .and_then(|i| p.segments.get(i as usize))
            .cloned()
    };
    let seg = at(&after, first_new)
        .unwrap_or_else(|| panic!("segment {first_new} listed after the restart: {after:?}"));
    assert!(
        seg.discontinuity,
        "the first segment of the new run starts with EXT-X-DISCONTINUITY: {after:?}"
    );
    let run = |uri: &str| uri.split('_').nth(1).map(str::to_owned);
    let old = before.segments.last().expect("old segment");
    assert_ne!(
        run(&old.uri),
        run(&seg.uri),
        "a new run id names the new segments"
    );
    // The old run's segments still listed are the same objects.
    if let Some(kept) = at(&after, last_msn(&before)) {
        assert_eq!(kept.uri, old.uri);
    }
    // Every listed object is in storage.
    let keys = weed.keys(&format!("{prefix}/cam/"));
    for s in &after.segments {
        let want = format!("{prefix}/cam/{}", s.uri);
        assert!(
            keys.contains(&want),
            "{} listed but not stored: {keys:?}",
            s.uri
        );
        if let Some(map) = &s.map {
            let want = format!("{prefix}/cam/{}", map.uri);
            assert!(keys.contains(&want), "{} listed but not stored", map.uri);
        }
    }
    eprintln!(
        "restart: msn {}..={} then {}..={}, discontinuity at {first_new}",
        before.media_sequence,
        last_msn(&before),
        after.media_sequence,
        last_msn(&after)
    );
}

#[test]
fn live_into_storage_restart_after_kill9_continues_media_sequence() {
    restart_continues("rs", &[]);
}

#[test]
fn live_ll_hls_into_storage_restart_after_kill9_continues() {
    restart_continues("rsll", &["--ll-hls", "--part-duration", "0.25"]);
}
