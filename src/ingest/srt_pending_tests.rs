// SPDX-License-Identifier: MIT OR Apache-2.0
//! srt-protocol's listener keeps a pending session per source address that sent it a
//! datagram; in 0.4.4 one that never completed its handshake was never removed, so a flood of
//! callers from new source ports grew memory without bound. Patched
//! (vendor/srt-protocol/PATCHES.md): a pending session idle for `PENDING_IDLE` is forgotten,
//! one whose access request is out is rejected after `REQUESTED_IDLE`, and at most
//! `MAX_PENDING` exist at once. Driven as srt-tokio's loop does (a `Timer` input every
//! 100 ms when idle, every action succeeding).

use std::io::Cursor;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use srt_protocol::listener::{
    Action, Input, MultiplexListener, NextInputContext, MAX_PENDING, PENDING_IDLE, REQUESTED_IDLE,
};
use srt_protocol::options::{PacketCount, PacketSize, SrtVersion};
use srt_protocol::packet::{
    ControlPacket, ControlTypes, HandshakeControlInfo, HandshakeVsInfo, HsV5Info, Packet,
    SeqNumber, ShakeType, SocketId, SrtControlPacket, SrtHandshake, SrtShakeFlags, TimeStamp,
};
use srt_protocol::settings::ConnInitSettings;

/// What the listener did, owned.
#[derive(Debug, PartialEq)]
enum Did {
    Send(ShakeType),
    Ask,
    Reject(Option<ShakeType>),
    Other,
}

fn shake_type(p: &Packet) -> Option<ShakeType> {
    match p {
        Packet::Control(ControlPacket {
            control_type: ControlTypes::Handshake(h),
            ..
        }) => Some(h.shake_type),
        _ => None,
    }
}

/// Runs `input` and the results of the actions it leads to until the listener waits.
fn run(l: &mut MultiplexListener, now: Instant, mut input: Input) -> Vec<Did> {
    let mut did = Vec::new();
    loop {
        let action = l.handle_input(now, input);
        let next = NextInputContext::for_action(&action);
        did.push(match action {
            Action::WaitForInput | Action::Close => return did,
            Action::SendPacket((p, _)) => Did::Send(shake_type(&p).expect("a handshake")),
            Action::RequestAccess(..) => Did::Ask,
            Action::RejectConnection(_, p) => Did::Reject(p.and_then(|(p, _)| shake_type(&p))),
            _ => Did::Other,
        });
        input = next.input_from(Ok::<(), ()>(()));
    }
}

/// A handshake datagram as srt-tokio's socket parses it.
fn datagram(shake_type: ShakeType, cookie: i32) -> Packet {
    let info = match shake_type {
        ShakeType::Induction => HsV5Info::default(),
        _ => HsV5Info {
            ext_hs: Some(SrtControlPacket::HandshakeRequest(SrtHandshake {
                version: SrtVersion::CURRENT,
                flags: SrtShakeFlags::SUPPORTED,
                send_latency: Duration::from_millis(120),
                recv_latency: Duration::from_millis(120),
            })),
            sid: Some("cam".into()),
            ..HsV5Info::default()
        },
    };
    let packet = Packet::Control(ControlPacket {
        timestamp: TimeStamp::from_micros(0),
        dest_sockid: SocketId(0),
        control_type: ControlTypes::Handshake(HandshakeControlInfo {
            init_seq_num: SeqNumber::new_truncate(1),
            max_packet_size: PacketSize(1316),
            max_flow_size: PacketCount(8192),
            shake_type,
            socket_id: SocketId(7),
            syn_cookie: cookie,
            peer_addr: [127, 0, 0, 1].into(),
            info: HandshakeVsInfo::V5(info),
        }),
    });
    let mut out = BytesMut::new();
    packet.serialize(&mut out);
    Packet::parse(&mut Cursor::new(&out[..]), false).expect("parses")
}

fn from(i: u32) -> SocketAddr {
    let [a, b, c, d] = (0x0A00_0000 + i).to_be_bytes();
    SocketAddr::from(([a, b, c, d], 40_000))
}

/// The listener's answer to an induction from `addr`: its cookie.
fn induction(l: &mut MultiplexListener, now: Instant, addr: SocketAddr) -> Option<i32> {
    let packet = datagram(ShakeType::Induction, 0);
    let action = l.handle_input(now, Input::Packet(Ok((packet, addr))));
    let cookie = match &action {
        Action::SendPacket((
            Packet::Control(ControlPacket {
                control_type: ControlTypes::Handshake(h),
                ..
            }),
            _,
        )) => Some(h.syn_cookie),
        _ => None,
    };
    let next = NextInputContext::for_action(&action);
    if cookie.is_some() {
        run(l, now, next.input_from(Ok::<(), ()>(())));
    }
    cookie
}

/// srt-tokio's idle loop: a `Timer` input every 100 ms from `from` for `span`; what the
/// listener did but update its statistics.
fn idle(l: &mut MultiplexListener, from: Instant, span: Duration) -> Vec<Did> {
    let mut did = Vec::new();
    let mut t = from;
    while t <= from + span {
        did.extend(
            run(l, t, Input::Timer)
                .into_iter()
                .filter(|d| *d != Did::Other),
        );
        t += Duration::from_millis(100);
    }
    did
}

fn listener(now: Instant) -> MultiplexListener {
    let local = SocketAddr::from(([127, 0, 0, 1], 9000));
    MultiplexListener::new(now, local, ConnInitSettings::default())
}

#[test]
fn a_flood_of_callers_that_never_finish_their_handshake_is_bounded_and_expires() {
    let t0 = Instant::now();
    let mut l = listener(t0);
    let flood = u32::try_from(MAX_PENDING).expect("small") + 1000;
    let answered = (0..flood)
        .filter(|&i| induction(&mut l, t0, from(i)).is_some())
        .count();
    assert_eq!(
        answered, MAX_PENDING,
        "callers answered while the flood lasts"
    );
    assert_eq!(l.pending_sessions(), MAX_PENDING);
    // A caller that keeps its handshake going is kept; the silent ones go.
    let t1 = t0 + PENDING_IDLE - Duration::from_secs(1);
    let cookie = induction(&mut l, t1, from(0)).expect("a pending caller is answered");
    idle(&mut l, t1, Duration::from_secs(2));
    assert_eq!(l.pending_sessions(), 1, "only the live handshake is left");
    let t2 = t1 + Duration::from_secs(3);
    let did = run(
        &mut l,
        t2,
        Input::Packet(Ok((datagram(ShakeType::Conclusion, cookie), from(0)))),
    );
    assert_eq!(
        did,
        [Did::Ask],
        "the live handshake goes on to its access request"
    );
    // A new caller is answered again.
    assert!(induction(&mut l, t2, from(flood)).is_some());
}

#[test]
fn an_access_request_never_answered_is_rejected_and_forgotten() {
    let t0 = Instant::now();
    let mut l = listener(t0);
    let cookie = induction(&mut l, t0, from(1)).expect("induction");
    let conclusion = datagram(ShakeType::Conclusion, cookie);
    let did = run(&mut l, t0, Input::Packet(Ok((conclusion, from(1)))));
    assert_eq!(did, [Did::Ask]);
    // The application keeps the request and never answers (srt-tokio then keeps its pending
    // request too): kept past PENDING_IDLE, rejected after REQUESTED_IDLE.
    let early = idle(&mut l, t0, PENDING_IDLE + Duration::from_secs(1));
    assert!(early.is_empty(), "{early:?}");
    assert_eq!(l.pending_sessions(), 1);
    let late = idle(&mut l, t0, REQUESTED_IDLE + Duration::from_secs(1));
    let rejections: Vec<&Did> = late
        .iter()
        .filter(|d| matches!(d, Did::Reject(_)))
        .collect();
    assert_eq!(
        rejections,
        [&Did::Reject(Some(ShakeType::Rejection(
            srt_protocol::packet::RejectReason::Core(srt_protocol::packet::CoreRejectReason::Peer)
        )))],
        "{late:?}"
    );
    assert_eq!(l.pending_sessions(), 0);
}

#[test]
fn a_full_table_makes_room_and_still_rejects_an_unanswered_request_in_turn() {
    let t0 = Instant::now();
    let mut l = listener(t0);
    let cookie = induction(&mut l, t0, from(0)).expect("induction");
    let conclusion = datagram(ShakeType::Conclusion, cookie);
    assert_eq!(
        run(&mut l, t0, Input::Packet(Ok((conclusion, from(0))))),
        [Did::Ask]
    );
    for i in 1..u32::try_from(MAX_PENDING).expect("small") {
        assert!(induction(&mut l, t0, from(i)).is_some());
    }
    assert_eq!(l.pending_sessions(), MAX_PENDING);
    // Past both idle times, a new caller at a full table: the silent inductions make room
    // for it; the unanswered request is not dropped silently but rejected by the next timer
    // input, as srt-tokio must be told (it holds the request too).
    let t1 = t0 + REQUESTED_IDLE + Duration::from_secs(1);
    assert!(induction(&mut l, t1, from(1 << 20)).is_some());
    assert_eq!(l.pending_sessions(), 2);
    let did = idle(&mut l, t1, Duration::from_millis(200));
    assert_eq!(
        did,
        [Did::Reject(Some(ShakeType::Rejection(
            srt_protocol::packet::RejectReason::Core(srt_protocol::packet::CoreRejectReason::Peer)
        )))]
    );
    assert_eq!(l.pending_sessions(), 1);
}
