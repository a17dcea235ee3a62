// SPDX-License-Identifier: MIT OR Apache-2.0
//! srt-protocol's listener state machine — what srt-tokio's listener task runs for every
//! datagram of the port and every caller's handshake — fed the peer inputs that panicked in
//! srt-protocol 0.4.4 (vendor/srt-protocol/PATCHES.md): each is now a rejection with libsrt's
//! code or a datagram that does not parse, and the same listener then still takes a good
//! caller. Datagrams go through `Packet::parse` as srt-tokio's socket reads them.

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use srt_protocol::listener::{
    AccessControlResponse, Action, Input, MultiplexListener, NextInputContext, SessionId,
};
use srt_protocol::options::{KeySize, PacketCount, PacketSize, SrtVersion};
use srt_protocol::packet::{
    ControlPacket, ControlTypes, CoreRejectReason, HandshakeControlInfo, HandshakeVsInfo, HsV5Info,
    KeyingMaterialMessage, Packet, PacketParseError, RejectReason, SeqNumber, ShakeType, SocketId,
    SrtControlPacket, SrtHandshake, SrtShakeFlags, TimeStamp,
};
use srt_protocol::settings::{
    CipherSettings, ConnInitSettings, KeyMaterialRefreshSettings, KeySettings,
};

const PASS: &str = "0123456789abc";

/// What the listener did with an input, owned (its actions borrow it).
#[derive(Debug)]
enum Did {
    Send(Box<Packet>),
    Ask(SessionId),
    Reject(Option<ShakeType>),
    Open,
    Other,
}

struct Listener {
    inner: MultiplexListener,
    now: Instant,
}

impl Listener {
    fn new() -> Self {
        let now = Instant::now();
        let local = SocketAddr::from(([127, 0, 0, 1], 9000));
        Listener {
            inner: MultiplexListener::new(now, local, ConnInitSettings::default()),
            now,
        }
    }

    /// Runs `input` and the results of the actions it leads to, as srt-tokio's loop does
    /// (every packet to send is serialized, every action succeeds), until the listener waits
    /// for input.
    fn run(&mut self, mut input: Input) -> Vec<Did> {
        let mut did = Vec::new();
        self.now += Duration::from_millis(1);
        loop {
            let action = self.inner.handle_input(self.now, input);
            let next = NextInputContext::for_action(&action);
            did.push(match action {
                Action::WaitForInput | Action::Close => return did,
                Action::SendPacket((p, _)) => Did::Send(Box::new(wire(p))),
                Action::RequestAccess(id, _) => Did::Ask(id),
                Action::RejectConnection(_, p) => Did::Reject(p.and_then(|(p, _)| shake(&wire(p)))),
                Action::OpenConnection(..) => Did::Open,
                _ => Did::Other,
            });
            input = next.input_from(Ok::<(), ()>(()));
        }
    }

    /// A datagram from `from` as srt-tokio's socket parses it.
    fn datagram(&mut self, bytes: &[u8], from: SocketAddr) -> Result<Vec<Did>, PacketParseError> {
        let packet = Packet::parse(&mut Cursor::new(bytes), false)?;
        Ok(self.run(Input::Packet(Ok((packet, from)))))
    }

    /// Induction, then `conclusion` (its cookie filled in) from `from`, then our accept with
    /// `keys`: what the listener does after the accept.
    fn handshake(
        &mut self,
        from: SocketAddr,
        conclusion: HandshakeControlInfo,
        keys: Option<KeySettings>,
    ) -> Vec<Did> {
        let induction = HandshakeControlInfo {
            shake_type: ShakeType::Induction,
            info: HandshakeVsInfo::V5(HsV5Info::default()),
            ..conclusion.clone()
        };
        let did = self.datagram(&bytes(induction), from).expect("induction");
        let cookie = match did.as_slice() {
            [Did::Send(p)] => match control(p) {
                Some(ControlTypes::Handshake(h)) => h.syn_cookie,
                other => panic!("induction response: {other:?}"),
            },
            other => panic!("induction: {other:?}"),
        };
        let conclusion = HandshakeControlInfo {
            syn_cookie: cookie,
            ..conclusion
        };
        let did = self.datagram(&bytes(conclusion), from).expect("conclusion");
        let [Did::Ask(id)] = did.as_slice() else {
            panic!("conclusion: {did:?}");
        };
        let response = AccessControlResponse::Accepted(keys);
        self.run(Input::AccessResponse(Some((*id, response))))
    }
}

fn control(p: &Packet) -> Option<&ControlTypes> {
    match p {
        Packet::Control(c) => Some(&c.control_type),
        Packet::Data(_) => None,
    }
}

fn shake(p: &Packet) -> Option<ShakeType> {
    match control(p) {
        Some(ControlTypes::Handshake(h)) => Some(h.shake_type),
        _ => None,
    }
}

fn bytes(shake: HandshakeControlInfo) -> Vec<u8> {
    let packet = Packet::Control(ControlPacket {
        timestamp: TimeStamp::from_micros(0),
        dest_sockid: SocketId(0),
        control_type: ControlTypes::Handshake(shake),
    });
    let mut out = BytesMut::new();
    packet.serialize(&mut out);
    out.to_vec()
}

/// `p` through the wire as srt-tokio sends it (serialized) and a peer reads it.
fn wire(p: Packet) -> Packet {
    let mut out = BytesMut::new();
    p.serialize(&mut out);
    Packet::parse(&mut Cursor::new(&out[..]), false).expect("our packet parses")
}

fn keys(size: KeySize, pass: &str) -> KeySettings {
    KeySettings {
        key_size: size,
        passphrase: pass.into(),
    }
}

/// Key material as a caller with `pass` makes it (the KMREQ of its conclusion).
fn key_material(size: KeySize, pass: &str) -> KeyingMaterialMessage {
    let refresh = KeyMaterialRefreshSettings::default();
    CipherSettings::new_random(&keys(size, pass), &refresh)
        .wrap_keying_material()
        .expect("key material")
}

/// A caller's HSv5 conclusion (no cookie yet) advertising `key_size`, with `km`.
fn conclusion(key_size: KeySize, km: Option<SrtControlPacket>) -> HandshakeControlInfo {
    let hs = SrtHandshake {
        version: SrtVersion::CURRENT,
        flags: SrtShakeFlags::SUPPORTED,
        send_latency: Duration::from_millis(120),
        recv_latency: Duration::from_millis(120),
    };
    HandshakeControlInfo {
        init_seq_num: SeqNumber::new_truncate(1),
        max_packet_size: PacketSize(1500),
        max_flow_size: PacketCount(8192),
        shake_type: ShakeType::Conclusion,
        socket_id: SocketId(0x1234),
        syn_cookie: 0,
        peer_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        info: HandshakeVsInfo::V5(HsV5Info {
            key_size,
            ext_hs: Some(SrtControlPacket::HandshakeRequest(hs)),
            ext_km: km,
            ext_group: None,
            ext_config: Vec::new(),
            sid: Some("cam".into()),
        }),
    }
}

fn rejected(code: CoreRejectReason) -> Option<ShakeType> {
    Some(ShakeType::Rejection(RejectReason::Core(code)))
}

#[test]
fn encryption_mismatches_are_rejections_with_libsrt_codes() {
    let kmreq = |size, pass| {
        Some(SrtControlPacket::KeyRefreshRequest(key_material(
            size, pass,
        )))
    };
    let kmrsp = Some(SrtControlPacket::KeyRefreshResponse(key_material(
        KeySize::Unspecified,
        PASS,
    )));
    let ours = || Some(keys(KeySize::Unspecified, PASS));
    use CoreRejectReason::{BadSecret, Rogue, Unsecure};
    // (case, caller's advertised key size, its key material, our accept, the outcome)
    let cases = [
        // libsrt's default (`passphrase` without `pbkeylen`) and no --srt-passphrase: 0.4.4
        // panicked `unimplemented!("expected no secrets")`.
        (
            "encrypting caller, no passphrase",
            KeySize::Unspecified,
            kmreq(KeySize::Unspecified, PASS),
            None,
            rejected(Unsecure),
        ),
        // 0.4.4: `unimplemented!("Key size mismatch")`.
        (
            "key length mismatch",
            KeySize::AES256,
            kmreq(KeySize::AES256, PASS),
            Some(keys(KeySize::AES128, PASS)),
            rejected(BadSecret),
        ),
        // 0.4.4: `unimplemented!("Expected kmreq")`.
        (
            "KMRSP instead of KMREQ",
            KeySize::Unspecified,
            kmrsp,
            ours(),
            rejected(Rogue),
        ),
        (
            "clear caller, passphrase",
            KeySize::Unspecified,
            None,
            ours(),
            rejected(Unsecure),
        ),
        (
            "wrong passphrase",
            KeySize::Unspecified,
            kmreq(KeySize::Unspecified, "another-passphrase"),
            ours(),
            rejected(BadSecret),
        ),
        (
            "right passphrase",
            KeySize::Unspecified,
            kmreq(KeySize::Unspecified, PASS),
            ours(),
            None,
        ),
        (
            "clear caller, no passphrase",
            KeySize::Unspecified,
            None,
            None,
            None,
        ),
    ];
    let mut listener = Listener::new();
    for (i, (case, size, km, ours, want)) in cases.into_iter().enumerate() {
        let from = SocketAddr::from(([127, 0, 0, 1], 40_000 + i as u16));
        let did = listener.handshake(from, conclusion(size, km), ours);
        match (want, did.as_slice()) {
            (None, [Did::Open, ..]) => {}
            (Some(want), [Did::Reject(got), ..]) => assert_eq!(*got, Some(want), "{case}"),
            _ => panic!("{case}: {did:?}, want {want:?}"),
        }
    }
}

/// What parsing a datagram gives: the streamid it carries, if any, or the error.
type Want = Result<Option<&'static str>, PacketParseError>;

/// An SRT control packet (type 0x7FFF) of subtype `ext` with `body`.
fn srt_control(ext: u16, body: &[u8]) -> Vec<u8> {
    let mut b = vec![0xFF, 0xFF];
    b.extend(ext.to_be_bytes());
    b.extend([0u8; 12]);
    b.extend(body);
    b
}

/// A conclusion whose key material has neither key flag, so no key: 16 bytes of KM header,
/// 16 of salt, 8 of wrap (HaiCrypt KMmsg: version/type 0x12, signature 0x2029, then the key
/// flags in the low bits of the 4th byte), its extension 10 words long.
fn conclusion_without_keys() -> Vec<u8> {
    let km = SrtControlPacket::KeyRefreshRequest(key_material(KeySize::Unspecified, PASS));
    let mut b = bytes(conclusion(KeySize::Unspecified, Some(km)));
    let at = b
        .windows(3)
        .position(|w| w == [0x12, 0x20, 0x29])
        .expect("KM message");
    b[at + 3] &= !0b11;
    b[at - 2..at].copy_from_slice(&10u16.to_be_bytes());
    // Both keys (2 × 16 bytes) go; 8 bytes of wrap stay.
    b.drain(at + 40..at + 72);
    b
}

/// A conclusion with an extension block `(type, words)` appended after its own, and a word
/// after it (an extension is read only when more than its 4-byte header is left).
fn conclusion_with(ext: u16, words: &[[u8; 4]]) -> Vec<u8> {
    let mut b = bytes(conclusion(KeySize::Unspecified, None));
    b.extend(ext.to_be_bytes());
    b.extend((words.len() as u16).to_be_bytes());
    for w in words {
        b.extend(w);
    }
    b.extend([0u8; 4]);
    b
}

#[test]
fn malformed_datagrams_do_not_parse_and_the_listener_goes_on() {
    use PacketParseError::{BadFilter, BadSrtExtensionMessage, NotEnoughData};
    let sid = |p: &Packet| match control(p) {
        Some(ControlTypes::Handshake(h)) => match &h.info {
            HandshakeVsInfo::V5(v5) => v5.sid.clone(),
            _ => None,
        },
        Some(ControlTypes::Srt(SrtControlPacket::StreamId(s))) => Some(s.clone()),
        _ => None,
    };
    // Each panicked in 0.4.4, in the listener's task: in `Packet::parse`, or (the key
    // material without a key) once taken, as the listener unwrapped or echoed it. Strings are
    // little-endian words on the wire: "file" is `elif`, "a:c" is `\0c:a`.
    let cases: [(&str, Vec<u8>, Want); 9] = [
        (
            "empty streamid control packet",
            srt_control(5, &[]),
            Ok(Some("")),
        ),
        (
            "empty congestion control packet",
            srt_control(6, &[]),
            Ok(None),
        ),
        (
            "empty filter control packet",
            srt_control(7, &[]),
            Err(BadFilter(String::new())),
        ),
        (
            "short group control packet",
            srt_control(8, &[1]),
            Err(NotEnoughData),
        ),
        // The last streamid extension is the one taken.
        (
            "zero-length streamid extension",
            conclusion_with(5, &[]),
            Ok(Some("")),
        ),
        (
            "zero-length group extension",
            conclusion_with(8, &[]),
            Err(NotEnoughData),
        ),
        // Parsed (they did not parse before they are rejected: see below).
        (
            "congestion extension (transtype=file)",
            conclusion_with(6, &[*b"elif"]),
            Ok(Some("cam")),
        ),
        (
            "filter extension",
            conclusion_with(7, &[*b"\0c:a"]),
            Ok(Some("cam")),
        ),
        (
            "key material without a key",
            conclusion_without_keys(),
            Err(BadSrtExtensionMessage),
        ),
    ];
    let mut listener = Listener::new();
    let from = SocketAddr::from(([127, 0, 0, 1], 41_000));
    for (case, datagram, want) in cases {
        let got = Packet::parse(&mut Cursor::new(&datagram), false);
        match (&want, &got) {
            (Ok(want), Ok(p)) => {
                assert_eq!(sid(p).as_deref(), *want, "{case}: {p:?}");
                listener.run(Input::Packet(Ok((p.clone(), from))));
            }
            (Err(want), Err(e)) => assert_eq!(e, want, "{case}"),
            _ => panic!("{case}: {got:?}, want {want:?}"),
        }
    }
    let did = listener.handshake(from, conclusion(KeySize::Unspecified, None), None);
    assert!(matches!(did.as_slice(), [Did::Open, ..]), "{did:?}");
}

/// A caller asking for a congestion controller other than live (libsrt `transtype=file`), a
/// packet filter or a group is rejected at its conclusion with libsrt's reason (it timed out
/// before: the conclusion did not parse); one asking for live congestion control goes on.
#[test]
fn unsupported_configurations_are_rejected_with_libsrt_codes() {
    let cases: [(&str, u16, [u8; 4], Option<CoreRejectReason>); 4] = [
        (
            "transtype=file",
            6,
            *b"elif",
            Some(CoreRejectReason::Congestion),
        ),
        (
            "packet filter",
            7,
            *b"\0c:a",
            Some(CoreRejectReason::Filter),
        ),
        ("group", 8, [0, 0, 0, 1], Some(CoreRejectReason::Group)),
        ("live congestion control", 6, *b"evil", None),
    ];
    for (case, ext, word, want) in cases {
        let mut listener = Listener::new();
        let from = SocketAddr::from(([127, 0, 0, 1], 41_002));
        let induction = HandshakeControlInfo {
            shake_type: ShakeType::Induction,
            info: HandshakeVsInfo::V5(HsV5Info::default()),
            ..conclusion(KeySize::Unspecified, None)
        };
        let did = listener
            .datagram(&bytes(induction), from)
            .expect("induction");
        let [Did::Send(p)] = did.as_slice() else {
            panic!("{case}: induction: {did:?}");
        };
        let Some(ControlTypes::Handshake(h)) = control(p) else {
            panic!("{case}: {p:?}");
        };
        let mut datagram = bytes(HandshakeControlInfo {
            syn_cookie: h.syn_cookie,
            ..conclusion(KeySize::Unspecified, None)
        });
        datagram.extend(ext.to_be_bytes());
        datagram.extend(1u16.to_be_bytes());
        datagram.extend(word);
        datagram.extend([0u8; 4]);
        let did = listener
            .datagram(&datagram, from)
            .expect("the conclusion parses");
        match (want, did.as_slice()) {
            (Some(code), [Did::Reject(shake)]) => assert_eq!(*shake, rejected(code), "{case}"),
            (None, [Did::Ask(_)]) => {}
            _ => panic!("{case}: {did:?}, want {want:?}"),
        }
    }
}
