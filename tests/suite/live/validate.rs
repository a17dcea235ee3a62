// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin validate --live-seconds` against our own live output (fMP4, TS, LL-HLS) served by
//! `hlsorigin live --listen`: it validates clean; and the LL-HLS output served by a plain file
//! server that ignores the delivery directives is caught (RFC 8216bis 6.2.5.2).
//!
//! Timing findings (a new segment late by the validator's clock, RFC 8216bis 6.2.1 SHOULD)
//! are left out of the "clean" assertion: on a loaded machine they measure the machine.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::harness::{encoder, get, wait_for, Live, Playlist, Proc};
use crate::common::out_dir;
use crate::suite::validate::{validate, Outcome};

/// Starts `hlsorigin live` (serving) with `args` and an encoder; waits for 3 segments.
fn start(tag: &str, args: &[&str]) -> (Live, Proc, PathBuf) {
    let root = out_dir(&format!("validate-live-{tag}"));
    let mut all = vec!["--listen", "127.0.0.1:0", "--input-timeout", "60"];
    all.extend_from_slice(args);
    let live = Live::start(&root, tag, "udp://127.0.0.1:0", &all, Stdio::null());
    let enc = encoder(
        &format!("{}?pkt_size=1316", live.ingest),
        &[],
        None,
        Stdio::null(),
    );
    let path = format!("/{tag}/stream.m3u8");
    wait_for("three live segments", 60, || {
        let r = get(live.base(), &path);
        (r.status == 200)
            .then(|| Playlist::parse(&r.text()))
            .filter(|p| p.segments.len() >= 3)
    });
    let dir = root.join(tag);
    (live, enc, dir)
}

/// The findings that are not about the validator's own timing.
fn not_timing(o: &Outcome) -> Vec<&serde_json::Value> {
    o.findings
        .iter()
        .filter(|f| !(f["level"] == "SHOULD" && f["section"] == "RFC 8216bis 6.2.1"))
        .collect()
}

fn assert_live_clean(tag: &str, args: &[&str]) {
    let (live, _enc, _dir) = start(tag, args);
    let url = format!("{}/{tag}/master.m3u8", live.base());
    let o = validate(&url, &["--live-seconds", "8"]);
    let found = not_timing(&o);
    assert!(
        found.is_empty() && o.code == Some(0),
        "{tag}: live output has findings (exit {:?}): {found:#?}",
        o.code
    );
    // Progress: the run followed the playlist (several reloads, new segments checked).
    assert!(o.playlists >= 6 && o.segments >= 4, "{}", o.text);
}

#[test]
fn live_fmp4_validates_clean() {
    assert_live_clean("vfmp4", &[]);
}

#[test]
fn live_ts_validates_clean() {
    assert_live_clean("vts", &["--format", "ts"]);
}

#[test]
fn live_ll_hls_validates_clean() {
    assert_live_clean("vll", &["--ll-hls"]);
}

/// A file server that ignores query strings (no blocking reload, no 400s) and ranges.
fn naive_server(root: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&conn);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let mut h = String::new();
                while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
                    h.clear();
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/");
                let path = path
                    .split('?')
                    .next()
                    .unwrap_or("/")
                    .trim_start_matches('/');
                let (status, body) = match std::fs::read(root.join(path)) {
                    Ok(b) if !path.contains("..") => ("200 OK", b),
                    _ => ("404 Not Found", Vec::new()),
                };
                let mut w = &conn;
                let _ = write!(
                    w,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = w.write_all(&body);
            });
        }
    });
    format!("http://{addr}")
}

/// The LL-HLS playlist says CAN-BLOCK-RELOAD=YES; a server that does not hold the request,
/// nor answer 400 beyond last + 2, breaks RFC 8216bis 6.2.5.2. A part marked INDEPENDENT=YES
/// that starts mid-GOP breaks 4.4.4.9.
#[test]
fn ll_hls_without_blocking_reload_or_with_a_false_independent_part_is_found() {
    let (mut live, mut enc, dir) = start("vnaive", &["--ll-hls"]);
    enc.kill();
    live.proc.kill();
    // A part in the middle of a GOP marked INDEPENDENT=YES (RFC 8216bis 4.4.4.9).
    let pl = dir.join("stream.m3u8");
    let text = std::fs::read_to_string(&pl).expect("playlist");
    let mut marked = false;
    let edited: String = text
        .lines()
        .map(|l| {
            if !marked && l.starts_with("#EXT-X-PART:") && l.contains(".1.m4s\"") {
                marked = true;
                format!("{l},INDEPENDENT=YES\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(marked, "no part 1 in {text}");
    std::fs::write(&pl, edited).expect("write playlist");
    let base = naive_server(dir.parent().expect("root"));
    let o = validate(&format!("{base}/vnaive/stream.m3u8"), &[]);
    let blocking = o
        .findings
        .iter()
        .filter(|f| f["level"] == "MUST" && f["section"] == "RFC 8216bis 6.2.5.2")
        .count();
    assert!(
        blocking >= 2 && o.code == Some(1),
        "expected blocking-reload findings: {:#?}",
        o.findings
    );
    assert!(
        o.has("MUST", "RFC 8216bis 4.4.4.9"),
        "expected the falsely independent part: {:#?}",
        o.findings
    );
}
