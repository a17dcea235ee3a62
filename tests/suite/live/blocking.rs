// SPDX-License-Identifier: MIT OR Apache-2.0
//! LL-HLS over UDP: the delivery-directive table against the running packager, a thousand
//! parked requests released by one segment, garbage datagrams survived, and hls.js playing
//! the stream.

use std::net::UdpSocket;
use std::time::Instant;

use super::harness::{dechunk, fetch, get, read_response, send_get, wait_for, Live, Playlist};
use super::iframes::assert_i_frames_decode;
use super::play_hlsjs;
use crate::common::out_dir;

const PLAYLIST: &str = "/ll/stream.m3u8";

fn directive(query: &str) -> String {
    format!("{PLAYLIST}?{query}")
}

#[test]
fn live_ll_hls_over_udp_blocking_reload_and_hlsjs() {
    let root = out_dir("live-ll");
    let (live, _enc) = Live::ll_hls_over_udp(&root, "ll", &[]);
    let base = live.base().to_owned();
    // Published from the first part on; wait for two complete segments.
    let first = wait_for("the first LL-HLS segments", 60, || {
        let r = get(&base, PLAYLIST);
        (r.status == 200)
            .then(|| Playlist::parse(&r.text()))
            .filter(|p| p.segments.len() >= 2)
    });
    assert!(
        first.text.contains("CAN-BLOCK-RELOAD=YES"),
        "{}",
        first.text
    );
    // Apple 6.1: the I-frame playlist of an LL-HLS stream (each entry from a part's chunk).
    assert_i_frames_decode(&base, "ll", false, 2);

    // Garbage from another sender: logged, resynced, the stream goes on.
    let junk = UdpSocket::bind("127.0.0.1:0").expect("udp");
    for i in 0..20u8 {
        let mut datagram = vec![i.wrapping_mul(37); 1316];
        if i % 2 == 0 {
            datagram[0] = 0x47; // looks like a packet start, is not
        }
        let _ = junk.send_to(&datagram, live.ingest_addr());
    }

    // A future segment: held, then answered once it lands, with a cacheable response.
    let now = fetch(&base, PLAYLIST);
    let next = now.last_msn() + 1;
    let r = get(&base, &directive(&format!("_HLS_msn={next}")));
    assert_eq!(r.status, 200, "{}", r.text());
    let got = Playlist::parse(&r.text());
    assert!(got.has_msn(next), "segment {next} listed:\n{}", got.text);
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("public, max-age=6"),
        "blocking responses are cacheable for 3 target durations"
    );
    let plain = get(&base, PLAYLIST);
    assert_eq!(
        plain.header("cache-control").as_deref(),
        Some("public, max-age=1")
    );

    // 400s (6.2.5.2): beyond last + 2; _HLS_part without _HLS_msn; not a number.
    for (query, what) in [
        (format!("_HLS_msn={}", next + 10), "msn > last + 2"),
        ("_HLS_part=1".to_owned(), "part without msn"),
        ("_HLS_msn=x".to_owned(), "not an integer"),
    ] {
        let r = get(&base, &directive(&query));
        assert_eq!(r.status, 400, "{what}: {}", r.text());
    }

    // Part rollover: the part after the last part of a complete segment is part 0 of the
    // next one.
    let now = fetch(&base, PLAYLIST);
    let (last, _, _, parts) = now.segments.last().cloned().expect("segment");
    assert!(parts > 0, "the last segment lists its parts:\n{}", now.text);
    let r = get(
        &base,
        &directive(&format!("_HLS_msn={last}&_HLS_part={parts}")),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = Playlist::parse(&r.text());
    let part0 = format!("{:06}.0.m4s", last + 1);
    assert!(
        got.text.contains(&part0),
        "rollover to part 0 of {}: \n{}",
        last + 1,
        got.text
    );

    // A future part: held until listed.
    let now = fetch(&base, PLAYLIST);
    let (msn, part) = (now.last_msn() + 1, now.open_parts.len());
    let r = get(
        &base,
        &directive(&format!("_HLS_msn={msn}&_HLS_part={part}")),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let want = format!("{msn:06}.{part}.m4s");
    let rolled = format!("{:06}.0.m4s", msn + 1);
    let text = r.text();
    assert!(
        text.contains(&want) || text.contains(&rolled),
        "part {msn}.{part} listed:\n{text}"
    );

    // The preload-hinted part (6.2.6): streamed while it is written. Right after a part is
    // published (a blocking reload for it returns) the hinted part has just started; its
    // first bytes arrive before the part is stored, the rest as they are muxed, and the
    // whole response is exactly the stored part.
    let now = fetch(&base, PLAYLIST);
    let (msn, part) = (now.last_msn() + 1, now.open_parts.len());
    let r = get(
        &base,
        &directive(&format!("_HLS_msn={msn}&_HLS_part={part}")),
    );
    let hint = Playlist::parse(&r.text()).hint.expect("EXT-X-PRELOAD-HINT");
    let stored = root.join("ll").join(&hint);
    let (head, before_stored, body) = stream_part(&base, &format!("/ll/{hint}"), &stored);
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "GET hinted {hint}: {head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    assert!(
        before_stored,
        "the first bytes of {hint} came before the part was complete"
    );
    assert_eq!(body.get(4..8), Some(&b"moof"[..]), "a CMAF chunk");
    let file = std::fs::read(&stored).expect("the part is stored once complete");
    assert!(body == file, "streamed bytes = the stored part");

    parked_requests_all_return(&base);

    // Delta update once the playlist is longer than CAN-SKIP-UNTIL (6 × target).
    let delta = wait_for("a Playlist Delta Update", 60, || {
        let r = get(&base, &directive("_HLS_skip=YES"));
        (r.status == 200 && r.text().contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=")).then(|| r.text())
    });
    let delta = Playlist::parse(&delta);
    let full = fetch(&base, PLAYLIST);
    assert!(!full.text.contains("#EXT-X-SKIP"), "{}", full.text);
    assert!(delta.skipped > 0 && delta.segments.len() < full.segments.len());
    assert!(
        delta.last_msn() + 1 >= full.last_msn(),
        "a delta ends at the live edge"
    );

    play_hlsjs(&format!("{base}/ll/master.m3u8"), 30);
    // Still live and advancing after playback.
    let later = fetch(&base, PLAYLIST);
    assert!(later.last_msn() > full.last_msn());
}

/// 1000 requests for the segment after next, parked on one watch channel, all answered
/// 200 with that segment once it lands.
fn parked_requests_all_return(base: &str) {
    // Start right after a segment boundary so the target is a whole segment away.
    let mut boundary = fetch(base, PLAYLIST).last_msn() + 1;
    loop {
        let r = get(base, &directive(&format!("_HLS_msn={boundary}")));
        assert_eq!(r.status, 200);
        if r.took >= std::time::Duration::from_millis(100) {
            break; // held until the segment landed: we are at a boundary
        }
        boundary = Playlist::parse(&r.text()).last_msn() + 1;
    }
    let target = boundary + 1;
    let sent = Instant::now();
    let conns: Vec<_> = (0..1000)
        .map(|_| {
            let at = Instant::now();
            (
                send_get(base, &directive(&format!("_HLS_msn={target}"))),
                at,
            )
        })
        .collect();
    let sending = sent.elapsed();
    let mut statuses = std::collections::BTreeMap::new();
    let mut held = Vec::with_capacity(conns.len());
    for (conn, at) in conns {
        let r = read_response(conn, at);
        let ok = r.status == 200 && Playlist::parse(&r.text()).has_msn(target);
        *statuses.entry((r.status, ok)).or_insert(0u32) += 1;
        held.push(r.took);
    }
    assert_eq!(
        statuses.get(&(200, true)).copied(),
        Some(1000),
        "1000 parked requests (sent in {sending:?}) → {statuses:?}"
    );
    // The first was sent right after a segment boundary: it was parked, not answered at once.
    let first = held.first().copied().unwrap_or_default();
    assert!(
        first >= std::time::Duration::from_millis(300),
        "the first request was held ({first:?}; sending took {sending:?})"
    );
}

/// GETs `path` on a keep-alive connection (so a body of unknown length comes chunked, as to
/// browsers) and reads it to the end: (head, whether `stored` did not exist yet when the
/// first body bytes arrived, the de-chunked body).
fn stream_part(base: &str, path: &str, stored: &std::path::Path) -> (String, bool, Vec<u8>) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut before_stored = None;
    while !raw.ends_with(b"\r\n0\r\n\r\n") {
        let n = s.read(&mut buf).expect("read the part");
        assert!(
            n > 0,
            "connection closed mid-part: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n");
        if let (None, Some(end)) = (before_stored, head_end) {
            if raw.len() > end + 4 {
                before_stored = Some(!stored.exists());
            }
        }
    }
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let body = dechunk(&raw[end..]).expect("a complete chunked body");
    (head, before_stored.unwrap_or(false), body)
}
