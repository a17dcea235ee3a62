// SPDX-License-Identifier: MIT OR Apache-2.0
//! One SRT listener, several callers (issue 10, `live --srt-listen`): a caller refused for its
//! encryption, datagrams srt-protocol 0.4.4 panicked on, and a libsrt caller with
//! `transtype=file` (another of those panics; now rejected at once) leave the publisher already
//! connected through the same listener untouched — its ffmpeg keeps running, its playlist keeps
//! growing with no EXT-X-DISCONTINUITY (checked with m3u8-rs), it is published once. Before
//! vendor/srt-protocol's patches the first of them ended srt-tokio's listener task (the one
//! that reads every datagram of the port), which cut every connection of the listener.

use std::io::Read;
use std::net::UdpSocket;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::harness::{encoder, encoder_command, fetch, wait_for, Proc, LIVE_CODECS};
use super::rtmp_server::RtmpServer;
use crate::common::out_dir;

const PASS: &str = "0123456789abc";

/// An SRT caller that must be refused: ffmpeg exits with an error.
fn assert_refused(url: &str) {
    let mut p = encoder(url, &[], Some(4), Stdio::null());
    let status = wait_for("the refused caller exits", 60, || {
        p.0.try_wait().ok().flatten()
    });
    assert!(!status.success(), "{url} is refused");
}

/// An SRT caller the listener must reject in its handshake: libsrt reports the rejection
/// and ffmpeg exits with an error well before its connect timeout (20 s here; a caller whose
/// handshake is ignored waits all of it).
fn assert_rejected_at_once(url: &str) {
    let url = format!("{url}&connect_timeout=20000");
    let mut cmd = encoder_command("320x240");
    cmd.args(["-map", "0:v", "-map", "1:a"]).args(LIVE_CODECS);
    cmd.args(["-t", "4", "-f", "mpegts", &url]);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg");
    let mut p = Proc(child);
    let start = Instant::now();
    let status = wait_for("the rejected caller exits", 60, || {
        p.0.try_wait().ok().flatten()
    });
    let waited = start.elapsed();
    let mut stderr = String::new();
    if let Some(mut e) = p.0.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(!status.success(), "{url} is refused");
    assert!(
        waited < Duration::from_secs(10),
        "{url}: ffmpeg took {waited:?}, a timeout rather than a rejection:\n{stderr}"
    );
    assert!(stderr.to_lowercase().contains("reject"), "{url}: {stderr}");
}

/// `name`'s publisher is still connected: its ffmpeg runs, its playlist grows by 3 segments
/// past `from`, and no segment of it follows a discontinuity (m3u8-rs reads it).
fn assert_goes_on(server: &RtmpServer, name: &str, publisher: &mut Proc, from: u64) -> u64 {
    let path = format!("/{name}/stream.m3u8");
    let p = wait_for(&format!("{name}'s playlist goes on"), 90, || {
        Some(fetch(&server.base, &path)).filter(|p| p.last_msn() >= from + 3)
    });
    let parsed = match m3u8_rs::parse_playlist_res(p.text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        other => panic!("{name}'s media playlist: {other:?}\n{}", p.text),
    };
    assert!(
        parsed.segments.iter().all(|s| !s.discontinuity) && parsed.discontinuity_sequence == 0,
        "{name}'s connection was cut:\n{}",
        p.text
    );
    assert!(
        publisher.0.try_wait().ok().flatten().is_none(),
        "{name}'s ffmpeg is still publishing"
    );
    p.last_msn()
}

/// A caller's HSv5 conclusion asking for a congestion controller ("file", as libsrt's
/// `transtype=file` does) — srt-protocol 0.4.4: `unimplemented!("Implement other kinds")`.
fn conclusion_with_congestion() -> Vec<u8> {
    let mut b = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    b.extend(5u32.to_be_bytes()); // HSv5
    b.extend([0, 0, 0, 5]); // no key; extension flags HSREQ | CONFIG
    b.extend(1u32.to_be_bytes()); // initial sequence number
    b.extend(1500u32.to_be_bytes());
    b.extend(8192u32.to_be_bytes());
    b.extend((-1i32).to_be_bytes()); // conclusion
    b.extend(0x1234u32.to_be_bytes()); // socket id
    b.extend(0u32.to_be_bytes()); // cookie
    b.extend([127, 0, 0, 1]);
    b.extend([0u8; 12]);
    // HSREQ: SRT 1.5.1, TSBPD send and receive, 120 ms both ways.
    b.extend([0, 1, 0, 3, 0, 1, 5, 1, 0, 0, 0, 3, 0, 120, 0, 120]);
    // Congestion "file", as 32-bit little-endian words.
    b.extend([0, 6, 0, 1]);
    b.extend(*b"elif");
    b
}

/// Datagrams that panicked srt-protocol 0.4.4's parser in the listener's task.
fn send_bad_datagrams(addr: &str) {
    let srt_control = |subtype: u8| {
        let mut b = vec![0xFF, 0xFF, 0, subtype];
        b.extend([0u8; 12]);
        b
    };
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    for d in [srt_control(8), srt_control(5), conclusion_with_congestion()] {
        socket.send_to(&d, addr).expect("send");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn srt_listener_refusals_and_bad_datagrams_leave_other_publishers_connected() {
    let root = out_dir("srt-listener-no-pass");
    let args = ["--srt-listen", "127.0.0.1:0", "--input-timeout", "60"];
    let server = RtmpServer::start(&root, &args);
    let addr = server.srt.clone().expect("srt listener");
    let mut a = encoder(
        &format!("srt://{addr}?streamid=a&pkt_size=1316"),
        &[],
        None,
        Stdio::null(),
    );
    let msn = server.segments("a", 2).last_msn();
    // libsrt's default encryption (a passphrase, no pbkeylen) to a listener without one.
    assert_refused(&format!(
        "srt://{addr}?streamid=b&passphrase={PASS}&pkt_size=1316"
    ));
    let msn = assert_goes_on(&server, "a", &mut a, msn);
    send_bad_datagrams(&addr);
    // libsrt asking for the file congestion controller: the same parser panic from a real
    // caller; now rejected at once (SRT_REJ_CONGESTION), not left to time out.
    assert_rejected_at_once(&format!(
        "srt://{addr}?streamid=c&transtype=file&pkt_size=1316"
    ));
    assert_goes_on(&server, "a", &mut a, msn);
    assert_eq!(server.metric("hlsorigin_ingest_refused_total"), 1);
    assert_eq!(server.metric("hlsorigin_ingest_publishes_total"), 1);
    assert_eq!(server.metric("hlsorigin_ingest_publishers"), 1);
    let log = server.log();
    assert!(
        log.contains("SRT caller refused: it encrypts and no --srt-passphrase is set"),
        "{log}"
    );
    for cut in ["panicked", "SRT publisher gone", "listening again"] {
        assert!(!log.contains(cut), "{cut:?} in the log:\n{log}");
    }
}

#[test]
fn srt_listener_with_passphrase_refuses_a_clear_caller_and_others_go_on() {
    let root = out_dir("srt-listener-pass");
    let args = ["--srt-listen", "127.0.0.1:0", "--srt-passphrase", PASS];
    let server = RtmpServer::start(&root, &args);
    let addr = server.srt.clone().expect("srt listener");
    let mut a = encoder(
        &format!("srt://{addr}?streamid=a&passphrase={PASS}&pkt_size=1316"),
        &[],
        None,
        Stdio::null(),
    );
    let msn = server.segments("a", 2).last_msn();
    assert_refused(&format!("srt://{addr}?streamid=b&pkt_size=1316"));
    assert_goes_on(&server, "a", &mut a, msn);
    assert_eq!(server.metric("hlsorigin_ingest_refused_total"), 1);
    assert_eq!(server.metric("hlsorigin_ingest_publishes_total"), 1);
    let log = server.log();
    assert!(
        log.contains("SRT caller refused: it does not encrypt, or with another passphrase"),
        "{log}"
    );
    assert!(!log.contains("SRT publisher gone"), "{log}");
}

/// A caller that claims `name` and never completes its handshake: an induction, then a
/// conclusion with the listener's cookie and streamid `name` but no HSREQ extension, which
/// srt-protocol neither accepts nor rejects once we have accepted the request (it stays
/// pending).
fn squat(addr: &str, name: &str) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("udp");
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let handshake = |version: u32, ext: u16, shake: i32, cookie: &[u8]| {
        let mut b = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend(version.to_be_bytes());
        b.extend([0, 0]);
        b.extend(ext.to_be_bytes());
        for w in [1u32, 1500, 8192] {
            b.extend(w.to_be_bytes());
        }
        b.extend(shake.to_be_bytes());
        b.extend(0x4321u32.to_be_bytes());
        b.extend(cookie);
        b.extend([127, 0, 0, 1]);
        b.extend([0u8; 12]);
        b
    };
    // Induction (UDT version 4, stream socket type 1, as libsrt sends it).
    socket
        .send_to(&handshake(4, 1, 1, &[0; 4]), addr)
        .expect("induction");
    let mut buf = [0u8; 1500];
    let (n, _) = socket.recv_from(&mut buf).expect("induction response");
    assert!(n >= 48, "induction response of {n} bytes");
    let cookie = &buf[16 + 28..16 + 32];
    // Conclusion, HSv5, extension flag CONFIG only: the streamid, one little-endian word.
    let mut conclusion = handshake(5, 4, -1, cookie);
    assert_eq!(name.len(), 1, "a one-word streamid");
    conclusion.extend([0, 5, 0, 1, 0, 0, 0, name.as_bytes()[0]]);
    socket.send_to(&conclusion, addr).expect("conclusion");
}

#[test]
fn srt_listener_releases_a_name_whose_handshake_never_completes() {
    let root = out_dir("srt-listener-squat");
    let server = RtmpServer::start(&root, &["--srt-listen", "127.0.0.1:0"]);
    let addr = server.srt.clone().expect("srt listener");
    squat(&addr, "a");
    // The name is taken while the squatter's handshake hangs, then released: a real caller
    // publishes it (callers refused meanwhile exit and are tried again).
    let url = format!("srt://{addr}?streamid=a&pkt_size=1316");
    let _a = wait_for("a caller publishes the squatted name", 90, || {
        let mut p = encoder(&url, &[], None, Stdio::null());
        let exited = (0..40).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            p.0.try_wait().ok().flatten().is_some()
        });
        (!exited).then_some(p)
    });
    server.segments("a", 2);
    let log = server.log();
    assert!(
        log.contains("SRT caller refused: its handshake did not complete"),
        "{log}"
    );
    republish_after_end(&server, &url, _a);
}

/// The publisher of `url` ends its connection (ffmpeg stopped by SIGTERM closes its SRT
/// socket: libsrt sends a shutdown); once the server has seen it go, a new caller with the
/// same streamid is accepted at its first attempt (the name is free, no refusal) and stays.
fn republish_after_end(server: &RtmpServer, url: &str, mut publisher: Proc) {
    let starts = |log: &str| log.matches("SRT publisher starts").count();
    let refusals =
        |log: &str| log.matches("SRT caller refused").count() + log.matches("SRT: ").count();
    let pid = publisher.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    wait_for("the first publisher exits", 30, || {
        publisher.0.try_wait().ok().flatten()
    });
    wait_for("the server sees the publisher go", 30, || {
        server.log().contains("SRT publisher gone").then_some(())
    });
    let before = server.log();
    let mut again = encoder(url, &[], None, Stdio::null());
    let log = wait_for("the reconnecting publisher starts", 30, || {
        Some(server.log()).filter(|l| starts(l) > starts(&before))
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        again.0.try_wait().ok().flatten().is_none(),
        "the reconnecting publisher still runs:\n{log}"
    );
    let log = server.log();
    assert_eq!(
        refusals(&log),
        refusals(&before),
        "no refusal on reconnect:\n{log}"
    );
}
