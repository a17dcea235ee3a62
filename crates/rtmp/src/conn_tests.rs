// SPDX-License-Identifier: MIT OR Apache-2.0
//! The connection core against rml_rtmp's client session (an independent implementation of
//! the client side): handshake, connect, publish, media, refusals, garbage.

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use rml_rtmp::time::RtmpTimestamp;

use super::{Action, Conn};

/// A client connected (handshake and `connect` done) to `conn`.
struct Client {
    session: ClientSession,
    events: Vec<ClientSessionEvent>,
}

/// Every publish is accepted under its own name.
fn any(_app: &str, published: &str) -> Result<String, String> {
    Ok(published.to_owned())
}

fn sends(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(b) => Some(b.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

impl Client {
    fn connect(conn: &mut Conn, app: &str) -> (Client, Vec<Action>) {
        let mut hs = Handshake::new(PeerType::Client);
        let c0c1 = hs.generate_outbound_p0_and_p1().expect("c0c1");
        let actions = conn.input(&c0c1, &mut any).expect("c0c1 in");
        let c2 = match hs.process_bytes(&sends(&actions)).expect("s0s1s2") {
            HandshakeProcessResult::Completed { response_bytes, .. } => response_bytes,
            other => panic!("handshake: {other:?}"),
        };
        let (session, _) = ClientSession::new(ClientSessionConfig::new()).expect("client");
        let mut client = Client {
            session,
            events: Vec::new(),
        };
        let mut out = c2;
        let req = client
            .session
            .request_connection(app.into())
            .expect("connect");
        out.extend(client.packets(vec![req]));
        let mut actions = conn.input(&out, &mut any).expect("connect in");
        // The client's answer: Window Acknowledgement Size and Set Chunk Size (4096).
        let reply = client.receive(&actions);
        actions.extend(conn.input(&reply, &mut any).expect("chunk size in"));
        (client, actions)
    }

    fn packets(&mut self, results: Vec<ClientSessionResult>) -> Vec<u8> {
        let mut out = Vec::new();
        for r in results {
            match r {
                ClientSessionResult::OutboundResponse(p) => out.extend(p.bytes),
                ClientSessionResult::RaisedEvent(e) => self.events.push(e),
                ClientSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        out
    }

    /// Feeds the server's bytes; returns the client's answers.
    fn receive(&mut self, actions: &[Action]) -> Vec<u8> {
        let results = self
            .session
            .handle_input(&sends(actions))
            .expect("client input");
        self.packets(results)
    }

    /// Runs `publish` to `key`: the server's actions over the exchange.
    fn publish(&mut self, conn: &mut Conn, key: &str, free: bool) -> Vec<Action> {
        let req = self
            .session
            .request_publishing(key.into(), PublishRequestType::Live)
            .expect("publish");
        let mut bytes = self.packets(vec![req]);
        let mut all = Vec::new();
        // createStream → _result → publish → onStatus.
        for _ in 0..3 {
            if bytes.is_empty() {
                break;
            }
            let mut claim = |_: &str, published: &str| match (free, published) {
                (false, _) => Err("another publisher has the stream".to_owned()),
                (true, "cam") => Ok("cam".to_owned()),
                (true, _) => Err("refused: this input takes live/cam".to_owned()),
            };
            let actions = conn.input(&bytes, &mut claim).expect("publish in");
            bytes = self.receive(&actions);
            all.extend(actions);
        }
        all
    }
}

fn closed(actions: &[Action]) -> Option<&str> {
    actions.iter().find_map(|a| match a {
        Action::Close(why) => Some(why.as_str()),
        _ => None,
    })
}

#[test]
fn publish_and_media_reach_the_demuxer() {
    let mut conn = Conn::new(Some("live"));
    let (mut client, actions) = Client::connect(&mut conn, "live");
    assert_eq!(closed(&actions), None);
    assert!(client
        .events
        .contains(&ClientSessionEvent::ConnectionRequestAccepted));
    let actions = client.publish(&mut conn, "cam", true);
    assert!(
        actions.contains(&Action::Publish { name: "cam".into() }),
        "{actions:?}"
    );
    assert!(client
        .events
        .contains(&ClientSessionEvent::PublishRequestAccepted));
    // A video message of several 4096-byte chunks with an extended timestamp (RTMP spec
    // 5.3.1.3, 5.4.1) arrives whole.
    let body = Bytes::from(vec![0x17u8; 10_000]);
    let packet = client
        .session
        .publish_video_data(body.clone(), RtmpTimestamp::new(0x0123_4567), false)
        .expect("video");
    let bytes = client.packets(vec![packet]);
    let actions = conn.input(&bytes, &mut any).expect("video in");
    assert_eq!(
        actions,
        vec![Action::Message {
            tag_type: 9,
            timestamp: 0x0123_4567,
            body
        }]
    );
}

#[test]
fn refusals_close_the_connection() {
    // (app, key, stream free, what the reason says)
    for (app, key, free, want) in [
        ("live", "other", true, "refused: this input takes live/cam"),
        ("live", "cam", false, "another publisher has the stream"),
        ("other", "", true, "application \"other\" refused"),
    ] {
        let mut conn = Conn::new(Some("live"));
        let (mut client, actions) = Client::connect(&mut conn, app);
        let actions = if key.is_empty() {
            actions
        } else {
            assert_eq!(closed(&actions), None);
            client.publish(&mut conn, key, free)
        };
        let why =
            closed(&actions).unwrap_or_else(|| panic!("{app}/{key}: not closed: {actions:?}"));
        assert!(why.contains(want), "{app}/{key}: {why}");
        assert!(!actions.iter().any(|a| matches!(a, Action::Publish { .. })));
        assert!(!conn.publishing());
    }
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    // Not RTMP version 3 (an HTTP request).
    let mut conn = Conn::new(Some("live"));
    let e = conn.input(b"GET / HTTP/1.1\r\n\r\n", &mut any).unwrap_err();
    assert!(e.contains("handshake"), "{e}");
    // A valid handshake followed by chunks of random bytes: errors or nothing, never a panic.
    for seed in 0..200u32 {
        let mut conn = Conn::new(Some("live"));
        let (_client, _) = Client::connect(&mut conn, "live");
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let junk: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let _ = conn.input(&junk, &mut any);
    }
}

#[test]
fn interleaved_chunk_streams_close_the_connection() {
    // rml_rtmp keeps one partial message: a new message on another chunk stream before the
    // first is complete makes it subtract past zero (a panic inside the crate). The
    // connection must end with an error, the process must not.
    let mut conn = Conn::new(Some("live"));
    let (_client, _) = Client::connect(&mut conn, "live");
    // RTMP spec 5.3.1: fmt 0, csid 3, timestamp 0, length 5000, type 9, stream 1; then the
    // first chunk, 4096 bytes (the chunk size the client set).
    let mut bytes = vec![0x03, 0, 0, 0, 0, 0x13, 0x88, 9, 1, 0, 0, 0];
    bytes.extend([0u8; 4096]);
    // fmt 0 on csid 4: a 10-byte message while the first is incomplete.
    bytes.extend([0x04, 0, 0, 0, 0, 0, 10, 9, 1, 0, 0, 0]);
    bytes.extend([0u8; 10]);
    let e = conn.input(&bytes, &mut any).unwrap_err();
    assert!(e.contains("malformed chunk stream"), "{e}");
    // The caught panic's message and place are in the error (the hook kept it off stderr).
    assert!(
        e.contains("rml_rtmp panicked: attempt to subtract with overflow at "),
        "{e}"
    );
}
