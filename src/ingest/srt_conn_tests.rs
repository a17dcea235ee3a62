// SPDX-License-Identifier: MIT OR Apache-2.0
//! srt-protocol's established connection (what srt-tokio runs for each caller once its
//! handshake is done) fed control packets a peer may send that srt-protocol 0.4.4 met with
//! `todo!()`/`unimplemented!`/`panic!` (vendor/srt-protocol/PATCHES.md): each datagram goes
//! through `Packet::parse` as srt-tokio's socket reads it, and the connection either goes on
//! (ignored) or, for a peer error, closes cleanly.

use std::io::Cursor;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use srt_protocol::connection::{Action, Connection, ConnectionSettings, DuplexConnection, Input};
use srt_protocol::options::{LiveBandwidthMode, PacketCount, PacketSize};
use srt_protocol::packet::{Packet, SeqNumber, SocketId};
use srt_protocol::protocol::handshake::Handshake;

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 41_001))
}

fn connection(now: Instant) -> DuplexConnection {
    DuplexConnection::new(Connection {
        settings: ConnectionSettings {
            remote: peer(),
            remote_sockid: SocketId(2),
            local_sockid: SocketId(1),
            socket_start_time: now,
            rtt: Duration::default(),
            init_seq_num: SeqNumber::new_truncate(0),
            max_packet_size: PacketSize(1316),
            max_flow_size: PacketCount(8192),
            send_tsbpd_latency: Duration::from_millis(120),
            recv_tsbpd_latency: Duration::from_millis(120),
            recv_buffer_size: PacketCount(1024),
            send_buffer_size: PacketCount(1024),
            cipher: None,
            stream_id: None,
            bandwidth: LiveBandwidthMode::Unlimited,
            statistics_interval: Duration::from_secs(1),
            peer_idle_timeout: Duration::from_secs(5),
            too_late_packet_drop: true,
        },
        handshake: Handshake::Connector,
    })
}

/// A control packet to socket 1: `control type` (with the SRT subtype for 0x7FFF), the
/// additional information word, then `words`.
fn control(kind: u16, subtype: u16, info: u32, words: &[u32]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend((0x8000 | kind).to_be_bytes());
    b.extend(subtype.to_be_bytes());
    b.extend(info.to_be_bytes());
    b.extend(0u32.to_be_bytes()); // timestamp
    b.extend(1u32.to_be_bytes()); // destination socket id
    for w in words {
        b.extend(w.to_be_bytes());
    }
    b
}

/// Feeds `datagram` at `now` and runs the connection on timers for `seconds` (answering each
/// action as srt-tokio does): whether it closed, and when.
fn feed(datagram: &[u8], seconds: u64) -> Option<Duration> {
    let start = Instant::now();
    let mut conn = connection(start);
    let packet = Packet::parse(&mut Cursor::new(datagram), false).expect("the datagram parses");
    let mut now = start;
    let mut input = Input::Packet(Ok((packet, peer())));
    while now < start + Duration::from_secs(seconds) {
        input = match conn.handle_input(now, input) {
            Action::Close => return Some(now - start),
            Action::SendPacket(_) => Input::PacketSent,
            Action::ReleaseData(_) => Input::DataReleased,
            Action::UpdateStatistics(_) => Input::StatisticsUpdated,
            Action::WaitForData(wait) => {
                now += wait.clamp(Duration::from_millis(1), Duration::from_millis(10));
                Input::Timer
            }
        };
    }
    None
}

#[test]
fn peer_control_packets_that_panicked_are_ignored_or_close_the_connection() {
    // (case, datagram, closes): each panicked in 0.4.4's connection task. The connection is
    // run for 3 s, under its 5 s peer idle timeout: one that is ignored stays open.
    let le = |s: &[u8; 4]| u32::from_be_bytes([s[3], s[2], s[1], s[0]]);
    let cases: [(&str, Vec<u8>, bool); 6] = [
        ("congestion warning", control(0x4, 0, 0, &[0]), false),
        ("peer error", control(0x8, 0, 4000, &[0]), true),
        (
            "stream id after the handshake",
            control(0x7FFF, 5, 0, &[le(b"cam\0")]),
            false,
        ),
        (
            "congestion after the handshake",
            control(0x7FFF, 6, 0, &[le(b"file")]),
            false,
        ),
        (
            "NAK ending in a range start",
            control(0x3, 0, 0, &[0x8000_0005]),
            false,
        ),
        (
            "NAK range ending before its start",
            control(0x3, 0, 0, &[0x8000_0010, 3]),
            false,
        ),
    ];
    for (case, datagram, closes) in cases {
        let closed = feed(&datagram, 3);
        assert_eq!(closed.is_some(), closes, "{case}: closed {closed:?}");
    }
}

/// A NAK (control type 3) of one datagram: 180 ranges each spanning 2^31 - 1 sequence
/// numbers. srt-protocol 0.4.4's sender walked every number of every range (~4 * 10^11,
/// minutes of CPU on the connection's task per datagram); patched, a loss list yields at most
/// `MAX_DECOMPRESSED_LOSS` numbers, ranges past that are ignored.
#[test]
fn a_nak_with_huge_ranges_is_bounded() {
    use srt_protocol::packet::{ControlPacket, ControlTypes, MAX_DECOMPRESSED_LOSS};
    let words: Vec<u32> = (0..180).flat_map(|_| [0x8000_0000, 0x7FFF_FFFF]).collect();
    let datagram = control(3, 0, 0, &words);
    assert!(datagram.len() <= 1500, "one datagram");
    let packet = Packet::parse(&mut Cursor::new(&datagram[..]), false).expect("parses");
    let Packet::Control(ControlPacket {
        control_type: ControlTypes::Nak(list),
        ..
    }) = packet
    else {
        panic!("a NAK: {packet:?}");
    };
    assert_eq!(list.iter_decompressed().nth(MAX_DECOMPRESSED_LOSS), None);
    assert_eq!(list.into_iter_decompressed().count(), MAX_DECOMPRESSED_LOSS);
    // The connection handles it (the sender's loss list) and goes on.
    assert_eq!(feed(&datagram, 2), None, "the connection stays open");
}
