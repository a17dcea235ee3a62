// SPDX-License-Identifier: MIT OR Apache-2.0
//! SRT input (issue 10) with Debian ffmpeg's libsrt as the caller (`-f mpegts 'srt://…'`):
//! `--input 'srt://127.0.0.1:0?streamid=cam'` is packaged and plays in hls.js (after
//! encrypting callers were refused); server mode
//! (`--srt-listen`) takes two callers at once by the access-control streamid
//! `#!::r=NAME,m=publish,k=KEY`, refuses a wrong key, and requires `--srt-passphrase`.

use std::path::Path;
use std::process::Stdio;

use super::harness::{encoder, get, wait_for, Live, Playlist};
use super::play_hlsjs;
use super::rtmp::assert_segments_decode;
use super::rtmp_server::{key, RtmpServer};
use crate::common::out_dir;

/// An SRT caller that must be refused: ffmpeg exits with an error.
fn assert_refused(url: &str) {
    let mut p = encoder(url, &[], Some(4), Stdio::null());
    let status = wait_for("the refused caller exits", 30, || {
        p.0.try_wait().ok().flatten()
    });
    assert!(!status.success(), "{url} is refused");
}

#[test]
fn live_srt_input_is_packaged_and_plays() {
    let root = out_dir("live-srt");
    let live = Live::start(
        &root,
        "cam",
        "srt://127.0.0.1:0?streamid=cam",
        &["--listen", "127.0.0.1:0"],
        Stdio::null(),
    );
    assert!(
        live.ingest.starts_with("srt://127.0.0.1:") && live.ingest.ends_with("?streamid=cam"),
        "{}",
        live.ingest
    );
    let base = live.base().to_owned();
    // An encrypting caller with no --srt-passphrase set: refused in the handshake (srt-protocol
    // 0.4.4 panicked there; vendored and patched), and the listener takes the next caller.
    assert_refused(&format!("{}&passphrase=0123456789abc", live.ingest));
    // One that advertises its key length (pbkeylen) is refused before srt-protocol sees it.
    assert_refused(&format!(
        "{}&passphrase=0123456789abc&pbkeylen=32",
        live.ingest
    ));
    let log = std::fs::read_to_string(root.join("cam.log")).unwrap_or_default();
    assert!(
        log.contains("SRT caller refused: it encrypts and no --srt-passphrase is set"),
        "{log}"
    );
    let _caller = encoder(
        &format!("{}&pkt_size=1316", live.ingest),
        &[],
        None,
        Stdio::null(),
    );
    let p = wait_for("three segments from the SRT caller", 60, || {
        let r = get(&base, "/cam/stream.m3u8");
        (r.status == 200)
            .then(|| Playlist::parse(&r.text()))
            .filter(|p| p.segments.len() >= 3)
    });
    let master = get(&base, "/cam/master.m3u8").text();
    // MPEG-TS input: parameter sets in band, hence avc3 (as for UDP input).
    assert!(
        master.contains("CODECS=\"avc3.") && master.contains("mp4a.40.2"),
        "{master}"
    );
    assert_segments_decode(Path::new("ffprobe"), &base, "cam", &p, &["h264", "aac"]);
    play_hlsjs(&format!("{base}/cam/master.m3u8"), 20);
}

#[test]
fn srt_server_two_callers_keys_and_passphrase() {
    let root = out_dir("srt-server");
    let secret = "srt-secret";
    let pass = "0123456789abc";
    let server = RtmpServer::start(
        &root,
        &[
            "--srt-listen",
            "127.0.0.1:0",
            "--publish-secret",
            secret,
            "--srt-passphrase",
            pass,
        ],
    );
    let addr = server.srt.clone().expect("srt listener");
    let url = |name: &str, k: &str, p: &str| {
        format!("srt://{addr}?streamid=#!::r={name},m=publish,k={k}&passphrase={p}&pkt_size=1316")
    };
    let (ka, kb) = (key("a", secret), key("b", secret));
    assert_refused(&url("a", &kb, pass));
    assert_eq!(server.metric("hlsorigin_ingest_refused_key_total"), 1);
    assert_refused(&url("a", &ka, "wrong-passphrase"));
    assert_refused(&format!("srt://{addr}?streamid=#!::r=a,m=publish,k={ka}"));
    let _a = encoder(&url("a", &ka, pass), &[], None, Stdio::null());
    let _b = encoder(&url("b", &kb, pass), &[], None, Stdio::null());
    for name in ["a", "b"] {
        let p = server.segments(name, 3);
        assert_segments_decode(
            Path::new("ffprobe"),
            &server.base,
            name,
            &p,
            &["h264", "aac"],
        );
    }
    assert_eq!(server.metric("hlsorigin_ingest_publishers"), 2);
    // Only the two connections that publish count: a caller refused by its passphrase after
    // its stream name was claimed is not a publish.
    assert_eq!(server.metric("hlsorigin_ingest_publishes_total"), 2);
    let log = server.log();
    assert!(
        log.contains("publish to srt/a refused: wrong stream key"),
        "{log}"
    );
    for k in [&ka, &kb] {
        assert!(!log.contains(k.as_str()), "a key in the log: {log}");
    }
}
