// SPDX-License-Identifier: MIT OR Apache-2.0
//! The RTMP ingest path as the server runs it: bytes from a publisher → `rtmp::Conn` (rml_rtmp's
//! handshake and server session, our NetConnection/NetStream handling) → its media messages to
//! `media`'s FLV demuxer (tag bodies, AMF0 metadata), as `src/ingest/driver.rs` feeds them.
//! Must never panic outside rml_rtmp: `Conn` catches rml_rtmp's own panics (a bad peer closes
//! its connection), so those are not reported; any other panic aborts.
//!
//! The first byte picks where the fuzzer's bytes start: 0 raw from the first byte (handshake),
//! 1 after a valid handshake, 2 after `connect`/`createStream`/`publish` (raw chunk stream),
//! 3 after publish as messages `[kind, ts(4), len(2), body…]` that rml_rtmp's client
//! session chunks (video, audio, metadata), so the FLV/AMF code is reached quickly.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use media::demux::flv::FlvDemuxer;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionResult, PublishRequestType, StreamMetadata,
};
use rml_rtmp::time::RtmpTimestamp;
use rtmp::{Action, Conn};

fuzz_target!(
    init: {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Inside rml_rtmp: caught by Conn, the connection ends with an error.
            let inside = rtmp::in_protocol_library();
            if !inside {
                abort(info);
            }
        }));
    },
    |data: &[u8]| {
        let Some((&mode, rest)) = data.split_first() else {
            return;
        };
        let mut server = Server::new();
        match mode % 4 {
            0 => server.chunked(rest, mode),
            1 => {
                let mut client = Client::handshake(&mut server);
                client.take();
                server.chunked(rest, mode);
            }
            2 => {
                if Client::publishing(&mut server).is_some() {
                    server.chunked(rest, mode);
                }
            }
            _ => {
                if let Some(mut client) = Client::publishing(&mut server) {
                    messages(&mut client, &mut server, rest);
                }
            }
        }
        server.demux.finish();
        server.drain();
    }
);

struct Server {
    conn: Conn,
    demux: FlvDemuxer,
    closed: bool,
}

impl Server {
    fn new() -> Self {
        Server {
            conn: Conn::new(Some("live")),
            demux: FlvDemuxer::with_max_tag(1 << 16),
            closed: false,
        }
    }

    /// Feeds `bytes` as the socket would (the peer's bytes, the server's answers dropped
    /// except for what the driver gets).
    fn input(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.closed {
            return Vec::new();
        }
        let mut claim = |app: &str, name: &str| match name.split_once("?key=") {
            Some((n, "bad")) => Err(format!("{app}/{n}: wrong key")),
            Some((n, _)) => Ok(n.to_owned()),
            None => Ok(name.to_owned()),
        };
        let actions = match self.conn.input(bytes, &mut claim) {
            Ok(a) => a,
            Err(_) => {
                self.closed = true;
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for action in actions {
            match action {
                Action::Send(b) => out.extend(b),
                Action::Close(_) => self.closed = true,
                Action::Publish { .. } | Action::Unpublish => {
                    self.demux.finish();
                    self.drain();
                    self.demux = FlvDemuxer::with_max_tag(1 << 16);
                }
                Action::Message {
                    tag_type,
                    timestamp,
                    body,
                } => {
                    let _ = self.demux.push_message(tag_type, timestamp, &body);
                    self.drain();
                }
            }
        }
        out
    }

    /// `bytes` in reads of a size taken from `mode`.
    fn chunked(&mut self, bytes: &[u8], mode: u8) {
        let size = 1 + usize::from(mode >> 2) * 37;
        for part in bytes.chunks(size) {
            self.input(part);
        }
    }

    fn drain(&mut self) {
        while let Some(s) = self.demux.pop_sample() {
            assert!(s.track < self.demux.tracks().len(), "sample of no track");
        }
        while self.demux.pop_event().is_some() {}
    }
}

/// rml_rtmp's client session talking to the server.
struct Client {
    session: ClientSession,
    pending: Vec<u8>,
}

impl Client {
    fn handshake(server: &mut Server) -> Client {
        let mut hs = Handshake::new(PeerType::Client);
        let c0c1 = hs.generate_outbound_p0_and_p1().expect("c0c1");
        let s = server.input(&c0c1);
        let c2 = match hs.process_bytes(&s).expect("s0s1s2") {
            HandshakeProcessResult::Completed { response_bytes, .. } => response_bytes,
            other => panic!("handshake: {other:?}"),
        };
        let (session, _) = ClientSession::new(ClientSessionConfig::new()).expect("client");
        Client {
            session,
            pending: c2,
        }
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    fn push(&mut self, results: Vec<ClientSessionResult>) {
        for r in results {
            if let ClientSessionResult::OutboundResponse(p) = r {
                self.pending.extend(p.bytes);
            }
        }
    }

    /// Exchanges until nothing is left to say (bounded).
    fn exchange(&mut self, server: &mut Server) {
        for _ in 0..8 {
            let out = self.take();
            if out.is_empty() || server.closed {
                return;
            }
            let back = server.input(&out);
            if let Ok(results) = self.session.handle_input(&back) {
                self.push(results);
            }
        }
    }

    /// Handshake, connect to `live`, publish `cam`.
    fn publishing(server: &mut Server) -> Option<Client> {
        let mut client = Client::handshake(server);
        let req = client.session.request_connection("live".into()).ok()?;
        client.push(vec![req]);
        client.exchange(server);
        let req = client
            .session
            .request_publishing("cam?key=k".into(), PublishRequestType::Live)
            .ok()?;
        client.push(vec![req]);
        client.exchange(server);
        server.conn.publishing().then_some(client)
    }
}

/// `[kind, ts(4), len(2), body…]*` as RTMP messages.
fn messages(client: &mut Client, server: &mut Server, mut rest: &[u8]) {
    while let [kind, a, b, c, d, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (body, next) = tail.split_at(len);
        let ts = RtmpTimestamp::new(u32::from_be_bytes([*a, *b, *c, *d]));
        let body = Bytes::copy_from_slice(body);
        let s = &mut client.session;
        let result = match kind % 4 {
            0 => s.publish_video_data(body, ts, false).map(|r| vec![r]),
            1 => s.publish_audio_data(body, ts, false).map(|r| vec![r]),
            2 => s.publish_metadata(&metadata(&body)).map(|r| vec![r]),
            _ => s.stop_publishing(),
        };
        if let Ok(r) = result {
            client.push(r);
        }
        let out = client.take();
        server.input(&out);
        if server.closed {
            return;
        }
        rest = next;
    }
}

fn metadata(b: &[u8]) -> StreamMetadata {
    let n = |i: usize| b.get(i).map(|&x| u32::from(x));
    let mut m = StreamMetadata::new();
    m.video_codec_id = n(0);
    m.audio_codec_id = n(1);
    m.video_width = n(2);
    m.audio_sample_rate = n(3).map(|x| x * 1000);
    m
}
