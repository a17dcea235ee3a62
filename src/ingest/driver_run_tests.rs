// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`driver::run`] with a burst already queued, as an RTMP or TCP input leaves it when the
//! driver's task is slower than the socket: everything queued is handled in order up to
//! the end of input (what follows it is not), and the playlist is the one the events make
//! (checked with m3u8-rs).

use bytes::Bytes;
use tokio::sync::mpsc;

use super::driver::{self, Driver};
use super::driver_tests::{config, source};
use super::IngestEvent;

#[test]
fn a_queued_burst_is_handled_in_order_up_to_the_end() {
    let work = std::env::temp_dir().join("hlsorigin-liveio-driver-run");
    let _ = std::fs::create_dir_all(&work);
    let Some(input) = source(&work) else {
        return;
    };
    let ts = std::fs::read(&input).expect("input");
    let dir = work.join("out");
    let _ = std::fs::remove_dir_all(&dir);
    let chunks: Vec<&[u8]> = ts.chunks(1316).collect();
    let (tx, rx) = mpsc::channel(chunks.len() + 8);
    let queue = |e| tx.try_send(e).expect("room in the queue");
    queue(IngestEvent::Session { peer: "a".into() });
    for c in &chunks {
        queue(IngestEvent::Data(Bytes::copy_from_slice(c)));
    }
    queue(IngestEvent::End);
    // After the end: not handled (a new session would start a new run).
    queue(IngestEvent::Session { peer: "b".into() });
    queue(IngestEvent::Data(Bytes::copy_from_slice(chunks[0])));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let driver = Driver::new(config(&dir), None).expect("driver");
    rt.block_on(driver::run(driver, rx)).expect("run");
    drop(tx);

    let text = std::fs::read_to_string(dir.join("stream.m3u8")).expect("playlist");
    let playlist = match m3u8_rs::parse_playlist_res(text.as_bytes()) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        other => panic!("{other:?}\n{text}"),
    };
    assert!(playlist.end_list, "{text}");
    assert!(playlist.segments.iter().all(|s| !s.discontinuity), "{text}");
    // 8 s of input in 1 s segments, a 4-segment window: the last 4 are listed.
    assert_eq!(playlist.segments.len(), 4, "{text}");
    assert!(playlist.media_sequence >= 4, "{text}");
    let total: f32 = playlist.segments.iter().map(|s| s.duration).sum();
    assert!((3.5..=4.5).contains(&total), "{total} s listed: {text}");
}
