// SPDX-License-Identifier: MIT OR Apache-2.0
//! RTMP input that makes rml_rtmp panic (caught in crates/rtmp): the connection is closed,
//! logged once as a warning naming the peer and the panic, and counted; no panic message or
//! backtrace note reaches the stderr of `hlsorigin live` (an operator reads those as a crash),
//! and the server takes the next publisher.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use super::harness::encoder;
use super::rtmp_server::RtmpServer;
use crate::common::out_dir;

/// After a plain RTMP handshake (RTMP spec 5.2: C0 = version 3, C1 and C2 of 1536 bytes), a
/// chunk stream rml_rtmp 0.8 panics on: the first chunk (128 bytes, the default chunk size) of
/// a 200-byte message on chunk stream 3, then a whole 10-byte message on chunk stream 4 while
/// the first is incomplete (RTMP spec 5.3.1, fmt 0 headers). rml_rtmp keeps one partial
/// message for all chunk streams and computes 10 - 128.
fn panicking_publisher(addr: &str) -> (String, usize) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let peer = s.local_addr().expect("local address").to_string();
    let mut c0c1 = vec![3u8];
    c0c1.extend([0u8; 1536]);
    s.write_all(&c0c1).expect("C0 C1");
    let mut s0s1s2 = vec![0u8; 1 + 2 * 1536];
    s.read_exact(&mut s0s1s2).expect("S0 S1 S2");
    assert_eq!(s0s1s2[0], 3, "RTMP version 3");
    s.write_all(&s0s1s2[1..1537]).expect("C2");
    let mut chunks = vec![0x03, 0, 0, 0, 0, 0, 200, 20, 0, 0, 0, 0];
    chunks.extend([0u8; 128]);
    chunks.extend([0x04, 0, 0, 0, 0, 0, 10, 20, 0, 0, 0, 0]);
    chunks.extend([0u8; 10]);
    s.write_all(&chunks).expect("chunks");
    // The server's answers, then end of file (or a reset) when it closes the connection.
    let mut read = 0;
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = s.read(&mut buf) {
        read += n;
    }
    (peer, read)
}

#[test]
fn rtmp_input_that_panics_rml_rtmp_is_closed_quietly_logged_and_counted() {
    let root = out_dir("rtmp-panic");
    let server = RtmpServer::start(&root, &[]);
    let url = server.url("cam");
    let addr = url
        .strip_prefix("rtmp://")
        .and_then(|r| r.split('/').next())
        .expect("rtmp address");
    let (peer, _) = panicking_publisher(addr);
    let log = server.log();
    for text in ["panicked at", "RUST_BACKTRACE", "thread '"] {
        assert!(!log.contains(text), "{text:?} on stderr:\n{log}");
    }
    let warning = log
        .lines()
        .find(|l| l.contains("RTMP: bad input, connection closed"))
        .unwrap_or_else(|| panic!("no warning in:\n{log}"));
    assert!(
        warning.contains("WARN")
            && warning.contains(&peer)
            && warning.contains("rml_rtmp panicked"),
        "{warning}"
    );
    assert_eq!(log.matches("rml_rtmp panicked").count(), 1, "{log}");
    assert_eq!(server.metric("hlsorigin_ingest_refused_total"), 1);
    // The next publisher is taken as before.
    let _p = encoder(&url, &["-f", "flv"], None, Stdio::null());
    server.segments("cam", 2);
}
