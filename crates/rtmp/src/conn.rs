// SPDX-License-Identifier: MIT OR Apache-2.0
//! One RTMP connection, sans IO: bytes in → bytes to send back, publish/unpublish and the
//! audio/video/data messages of the stream. The protocol (handshake, chunk stream, Set Chunk
//! Size, Window Acknowledgement Size, Set Peer Bandwidth, Acknowledgement, the NetConnection
//! and NetStream commands) is `rml_rtmp`'s; this asks the caller (the hub) who may publish.
//!
//! The published name may carry the stream key (`NAME?key=K`): it is passed to the claim
//! callback as received and never logged or kept here.

use std::collections::HashMap;

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::rml_amf0::{self, Amf0Value};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult, StreamMetadata,
};
use rml_rtmp::time::RtmpTimestamp;

use crate::guard::guarded;

/// RTMP message types carried to the demuxer (RTMP spec 7.1.4, 7.1.5, 7.1.2).
const MSG_AUDIO: u8 = 8;
const MSG_VIDEO: u8 = 9;
const MSG_DATA: u8 = 18;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Bytes for the peer.
    Send(Vec<u8>),
    /// The peer publishes the stream: a new session starts.
    Publish { name: String },
    /// An audio, video or data message of the stream.
    Message {
        tag_type: u8,
        timestamp: u32,
        body: Bytes,
    },
    /// The peer stopped publishing (`deleteStream`, `FCUnpublish`, `closeStream`).
    Unpublish,
    /// Send what came before, then close the connection (the reason is logged).
    Close(String),
}

/// Asked when the peer publishes `(app, published name)`: the stream name (without the key)
/// it gets, or why it is refused (a reason without the key).
pub type ClaimFn<'a> = dyn FnMut(&str, &str) -> Result<String, String> + 'a;

pub struct Conn {
    /// The only application accepted (`None`: any).
    app: Option<String>,
    handshake: Handshake,
    session: Option<ServerSession>,
    publishing: bool,
}

impl Conn {
    /// A connection that may connect to application `app` only (`None`: any).
    pub fn new(app: Option<&str>) -> Self {
        Conn {
            app: app.map(str::to_owned),
            handshake: Handshake::new(PeerType::Server),
            session: None,
            publishing: false,
        }
    }

    pub fn publishing(&self) -> bool {
        self.publishing
    }

    /// Handles bytes from the peer. `claim` is asked when the peer wants to publish (see
    /// [`ClaimFn`]). An error ends the connection.
    pub fn input(&mut self, bytes: &[u8], claim: &mut ClaimFn<'_>) -> Result<Vec<Action>, String> {
        let mut actions = Vec::new();
        let Some(session) = self.session.as_mut() else {
            return self.handshake_input(bytes, claim);
        };
        // rml_rtmp indexes and subtracts on peer-controlled sizes; a panic there is a bad
        // peer, never a reason to take the process down (nor to print a panic: `guard`).
        let results = guarded(|| session.handle_input(bytes))
            .map_err(|p| format!("RTMP: malformed chunk stream (rml_rtmp panicked: {p})"))?
            .map_err(|e| format!("RTMP: {e}"))?;
        self.results(results, &mut actions, claim)?;
        Ok(actions)
    }

    fn handshake_input(
        &mut self,
        bytes: &[u8],
        claim: &mut ClaimFn<'_>,
    ) -> Result<Vec<Action>, String> {
        // RTMP spec 5.2: C0 (version 3), C1, C2 of 1536 bytes each.
        let result = guarded(|| self.handshake.process_bytes(bytes))
            .map_err(|p| format!("RTMP handshake: malformed (rml_rtmp panicked: {p})"))?
            .map_err(|e| format!("RTMP handshake: {e}"))?;
        match result {
            HandshakeProcessResult::InProgress { response_bytes } => {
                Ok(send(response_bytes).into_iter().collect())
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                let mut actions: Vec<Action> = send(response_bytes).into_iter().collect();
                let (session, results) = ServerSession::new(ServerSessionConfig::new())
                    .map_err(|e| format!("RTMP: {e}"))?;
                self.session = Some(session);
                self.results(results, &mut actions, claim)?;
                if !remaining_bytes.is_empty() {
                    actions.extend(self.input(&remaining_bytes, claim)?);
                }
                Ok(actions)
            }
        }
    }

    fn results(
        &mut self,
        results: Vec<ServerSessionResult>,
        actions: &mut Vec<Action>,
        claim: &mut ClaimFn<'_>,
    ) -> Result<(), String> {
        for result in results {
            match result {
                ServerSessionResult::OutboundResponse(packet) => {
                    actions.extend(send(packet.bytes));
                }
                ServerSessionResult::RaisedEvent(event) => self.event(event, actions, claim)?,
                ServerSessionResult::UnhandleableMessageReceived(payload) => {
                    tracing::debug!(type_id = payload.type_id, "RTMP message ignored");
                }
            }
            if matches!(actions.last(), Some(Action::Close(_))) {
                break;
            }
        }
        Ok(())
    }

    fn event(
        &mut self,
        event: ServerSessionEvent,
        actions: &mut Vec<Action>,
        claim: &mut ClaimFn<'_>,
    ) -> Result<(), String> {
        match event {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                if let Some(only) = self.app.as_ref().filter(|a| **a != app_name) {
                    let why = format!("application {app_name:?} refused (only {only:?})");
                    self.reply(
                        request_id,
                        Some("NetConnection.Connect.Rejected"),
                        &why,
                        actions,
                    )?;
                    actions.push(Action::Close(why));
                } else {
                    self.reply(request_id, None, "", actions)?;
                }
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                app_name,
                stream_key,
                ..
            } => self.publish(request_id, &app_name, &stream_key, actions, claim)?,
            ServerSessionEvent::PublishStreamFinished { .. } => {
                if std::mem::take(&mut self.publishing) {
                    actions.push(Action::Unpublish);
                }
            }
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } if self.publishing => {
                actions.push(Action::Message {
                    tag_type: MSG_DATA,
                    timestamp: 0,
                    body: metadata_body(&metadata),
                });
            }
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } if self.publishing => actions.push(media(MSG_AUDIO, timestamp, data)),
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } if self.publishing => actions.push(media(MSG_VIDEO, timestamp, data)),
            ServerSessionEvent::UnhandleableAmf0Command { command_name, .. } => {
                // releaseStream, FCPublish, FCUnpublish: ffmpeg and OBS need no answer.
                tracing::debug!(command = %command_name, "RTMP command ignored");
                if command_name == "FCUnpublish" && std::mem::take(&mut self.publishing) {
                    actions.push(Action::Unpublish);
                }
            }
            // Not the event itself: play requests carry stream names that may hold a key.
            _ => tracing::debug!("RTMP event ignored"),
        }
        Ok(())
    }

    fn publish(
        &mut self,
        request_id: u32,
        app: &str,
        key: &str,
        actions: &mut Vec<Action>,
        claim: &mut ClaimFn<'_>,
    ) -> Result<(), String> {
        let claimed = if let Some(only) = self.app.as_ref().filter(|a| *a != app) {
            Err(format!(
                "publish to application {app:?} refused (only {only:?})"
            ))
        } else if self.publishing {
            Err("publish refused: this connection publishes already".to_owned())
        } else {
            claim(app, key)
        };
        let (why, name) = match claimed {
            Ok(name) => (None, name),
            Err(why) => (Some(why), String::new()),
        };
        match why {
            Some(why) => {
                // Adobe RTMP: onStatus NetStream.Publish.BadName.
                self.reply(request_id, Some("NetStream.Publish.BadName"), &why, actions)?;
                actions.push(Action::Close(why));
            }
            None => {
                self.reply(request_id, None, "", actions)?;
                self.publishing = true;
                actions.push(Action::Publish { name });
            }
        }
        Ok(())
    }

    /// Accepts (`code` None) or rejects a request.
    fn reply(
        &mut self,
        request_id: u32,
        code: Option<&str>,
        description: &str,
        actions: &mut Vec<Action>,
    ) -> Result<(), String> {
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        let results = guarded(|| match code {
            None => session.accept_request(request_id),
            Some(code) => session.reject_request(request_id, code, description),
        })
        .map_err(|p| format!("RTMP: malformed session state (rml_rtmp panicked: {p})"))?
        .map_err(|e| format!("RTMP: {e}"))?;
        for r in results {
            if let ServerSessionResult::OutboundResponse(packet) = r {
                actions.extend(send(packet.bytes));
            }
        }
        Ok(())
    }
}

fn send(bytes: Vec<u8>) -> Option<Action> {
    (!bytes.is_empty()).then_some(Action::Send(bytes))
}

fn media(tag_type: u8, timestamp: RtmpTimestamp, body: Bytes) -> Action {
    Action::Message {
        tag_type,
        timestamp: timestamp.value,
        body,
    }
}

/// `onMetaData` as an AMF0 script body again (rml_rtmp hands it over parsed), with the
/// codec ids the demuxer uses to know which tracks to wait for.
fn metadata_body(m: &StreamMetadata) -> Bytes {
    let mut props = HashMap::new();
    let mut num = |k: &str, v: Option<f64>| {
        if let Some(v) = v {
            props.insert(k.to_owned(), Amf0Value::Number(v));
        }
    };
    num("videocodecid", m.video_codec_id.map(f64::from));
    num("audiocodecid", m.audio_codec_id.map(f64::from));
    num("width", m.video_width.map(f64::from));
    num("height", m.video_height.map(f64::from));
    num("framerate", m.video_frame_rate.map(f64::from));
    num("audiosamplerate", m.audio_sample_rate.map(f64::from));
    let values = [
        Amf0Value::Utf8String("onMetaData".into()),
        Amf0Value::Object(props),
    ];
    rml_amf0::serialize(&values.to_vec())
        .map(Bytes::from)
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
