// SPDX-License-Identifier: MIT OR Apache-2.0
//! The WebSocket edge (RFC 6455): one text frame per event, pings, close codes.
//!
//! - Each socket runs on the sessions' own lower-priority runtime ([`super::runtime`]).
//! - The opening handshake (`Sec-WebSocket-Accept`, RFC 6455 4.2.2) is axum's; a malformed
//!   upgrade request is a 400 naming what is wrong.
//! - Every [`EventsEdge::ping_interval`] the server pings; a socket that has not answered
//!   two pings in a row is closed (1008).
//! - Close codes (RFC 6455 7.4.1): 1001 when the server shuts down, 1013 when the subscriber
//!   limit is reached or the subscriber fell behind (resume with `since`, given in the
//!   reason), 1003 for a binary client frame, 1009 for a client message over
//!   [`MAX_CLIENT_MESSAGE`]. Client text is otherwise ignored: the channel is
//!   server → client.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use super::{text, EventsEdge, Query, SubscriberGauge};
use crate::events::{Ended, EventsError, Item, Subscription};

/// Largest client message accepted (bytes); anything larger closes with 1009.
pub(crate) const MAX_CLIENT_MESSAGE: usize = 4096;
/// Read buffer per socket (bytes). tungstenite zero-fills its whole read buffer before each
/// read, so its default (128 KiB) is 128 KiB of RSS per idle subscriber; the channel is
/// server → client and client frames are pongs or small text, so 1 KiB is enough (a larger
/// frame, up to [`MAX_CLIENT_MESSAGE`], grows the buffer for that frame).
/// benches/events.sh measures it (BENCHMARKS.md "Events").
const READ_BUFFER: usize = 1024;
/// Most queued events written with one flush.
const MAX_BATCH: usize = 64;
/// Time a frame may take to leave before the socket counts as dead.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Time the server waits for the client's Close after sending its own.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

// RFC 6455 7.4.1.
const GOING_AWAY: u16 = 1001;
const UNSUPPORTED: u16 = 1003;
const POLICY: u16 = 1008;
const TOO_BIG: u16 = 1009;
const TRY_AGAIN_LATER: u16 = 1013;

/// Answers the handshake and runs the socket in its own task.
pub(super) async fn upgrade(edge: Arc<EventsEdge>, req: Request, query: Query) -> Response {
    let (mut parts, _body) = req.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(u) => u,
        Err(rejection) => {
            let reason = rejection.body_text();
            return text(StatusCode::BAD_REQUEST, format!("{reason}\n"));
        }
    };
    // Subscribed now: events published while the handshake completes are queued.
    let subscription = SubscriberGauge::reserve(&edge).and_then(|gauge| {
        let sub = edge.events.subscribe(query.since, query.filter)?;
        Ok((sub, gauge))
    });
    let permit = Arc::clone(&edge.sockets).try_acquire_owned().ok();
    upgrade
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            // Off the server's runtime: the HLS path goes first (runtime.rs). The session
            // does not hold the edge, which owns that runtime.
            let ping = edge.ping_interval;
            edge.sessions.spawn(async move {
                let _permit = permit;
                Session::new(socket, ping).run(subscription).await;
            });
        })
        .into_response()
}

/// `first` and whatever else the subscription has queued (at most [`MAX_BATCH`] items), and
/// how the subscription ended if it did meanwhile. A subscriber that runs late (a busy
/// machine) catches up with one write instead of one per event.
fn batch(first: Item, sub: &mut Subscription) -> (Vec<Item>, Option<Ended>) {
    let mut items = vec![first];
    while items.len() < MAX_BATCH {
        match sub.try_recv() {
            Some(Ok(item)) => items.push(item),
            Some(Err(ended)) => return (items, Some(ended)),
            None => break,
        }
    }
    (items, None)
}

/// The frame text of `item`: an event's JSON shared with every other subscriber's frame (no
/// copy per subscriber), a resync made here.
fn text_of(item: &Item) -> Utf8Bytes {
    match item {
        // The JSON was made from a `String`: the check passes; the fallback copies.
        Item::Event(e) => Utf8Bytes::try_from(e.json_bytes()).unwrap_or_else(|_| e.json().into()),
        Item::Resync(_) => item.json().into_owned().into(),
    }
}

struct Session {
    socket: WebSocket,
    ping_interval: Duration,
}

impl Session {
    fn new(socket: WebSocket, ping_interval: Duration) -> Self {
        Session {
            socket,
            ping_interval,
        }
    }

    async fn run(mut self, subscription: Result<(Subscription, SubscriberGauge), EventsError>) {
        let (mut sub, gauge) = match subscription {
            Ok(s) => s,
            Err(e) => return self.close(TRY_AGAIN_LATER, &e.to_string()).await,
        };
        let start = Instant::now() + self.ping_interval;
        let mut ping = interval_at(start, self.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Pings sent since the last pong.
        let mut unanswered = 0u32;
        loop {
            tokio::select! {
                item = sub.recv() => match item {
                    Ok(item) => {
                        let (batch, ended) = batch(item, &mut sub);
                        if !self.send_batch(&batch).await {
                            return;
                        }
                        batch.iter().for_each(|_| gauge.sent());
                        if let Some(ended) = ended {
                            return self.ended(ended).await;
                        }
                    }
                    Err(ended) => return self.ended(ended).await,
                },
                msg = self.socket.recv() => match msg {
                    None => return,
                    Some(Ok(Message::Pong(_))) => unanswered = 0,
                    Some(Ok(Message::Binary(_))) => {
                        return self.close(UNSUPPORTED, "binary frames not accepted").await;
                    }
                    // Text (ignored), Ping (answered by the library), Close (the library
                    // answers it; the next read ends the socket).
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return self.read_failed(e).await,
                },
                _ = ping.tick() => {
                    if unanswered >= 2 {
                        return self.close(POLICY, "no pong to two pings").await;
                    }
                    unanswered += 1;
                    if !self.send(Message::Ping(Default::default())).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sends the events as one text frame each, with one flush (one write for the batch);
    /// false if the socket is gone or stuck.
    async fn send_batch(&mut self, batch: &[Item]) -> bool {
        let socket = &mut self.socket;
        let write = async {
            for item in batch {
                socket.feed(Message::Text(text_of(item))).await?;
            }
            socket.flush().await
        };
        matches!(tokio::time::timeout(SEND_TIMEOUT, write).await, Ok(Ok(())))
    }

    async fn ended(self, ended: Ended) {
        match ended {
            Ended::Lagged { last_seq } => {
                let reason = format!("lagged; resume with since={last_seq}");
                self.close(TRY_AGAIN_LATER, &reason).await;
            }
            Ended::Closed => self.close(GOING_AWAY, "server shutting down").await,
        }
    }

    /// Sends one frame; false if the socket is gone or stuck.
    async fn send(&mut self, msg: Message) -> bool {
        matches!(
            tokio::time::timeout(SEND_TIMEOUT, self.socket.send(msg)).await,
            Ok(Ok(()))
        )
    }

    async fn read_failed(self, e: axum::Error) {
        let too_big = e
            .into_inner()
            .downcast_ref::<tungstenite::Error>()
            .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
        if too_big {
            let reason = format!("client messages are limited to {MAX_CLIENT_MESSAGE} bytes");
            self.close(TOO_BIG, &reason).await;
        }
    }

    /// The closing handshake (RFC 6455 7.1.2): our Close, then the client's (bounded wait).
    async fn close(mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if !self.send(Message::Close(Some(frame))).await {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            while let Some(Ok(msg)) = self.socket.recv().await {
                if matches!(msg, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Events, EventsConfig, Filter, Payload};

    #[test]
    fn an_event_frame_shares_the_event_text_and_a_resync_is_its_own() {
        let events = Events::new(EventsConfig::default());
        let mut sub = events
            .subscribe(None, Filter::default())
            .expect("subscribe");
        events.publish("s", "run", Payload::StreamRemoved);
        let Some(Ok(item)) = sub.try_recv() else {
            panic!("no event queued");
        };
        let Item::Event(event) = &item else {
            panic!("not an event: {item:?}");
        };
        let text = text_of(&item);
        assert_eq!(text.as_str(), event.json());
        assert_eq!(text.as_str().as_ptr(), event.json().as_ptr(), "copied");
        let resync = Item::Resync(7);
        assert_eq!(text_of(&resync).as_str(), resync.json());
    }

    #[tokio::test]
    async fn a_batch_takes_what_is_queued_up_to_its_limit_then_the_end() {
        // (queue size, events published, batch lengths expected, ends lagged)
        let cases = [
            (256, 1, vec![1], false),
            (256, 5, vec![5], false),
            (256, 130, vec![MAX_BATCH, MAX_BATCH, 2], false),
            (3, 4, vec![3], true),
        ];
        for (queue, published, want, lagged) in cases {
            let events = Events::new(EventsConfig {
                queue,
                ..EventsConfig::default()
            });
            let mut sub = events
                .subscribe(None, Filter::default())
                .expect("subscribe");
            for _ in 0..published {
                events.publish("s", "run", Payload::StreamRemoved);
            }
            let (mut lengths, mut end, mut seqs) = (Vec::new(), None, Vec::new());
            while end.is_none() && seqs.len() < published {
                let first = sub.recv().await;
                let Ok(first) = first else {
                    end = first.err();
                    break;
                };
                let (items, ended) = batch(first, &mut sub);
                lengths.push(items.len());
                seqs.extend(items.iter().map(Item::seq));
                end = ended;
            }
            let case = format!("queue {queue}, {published} events");
            assert_eq!(lengths, want, "{case}");
            let in_order: Vec<u64> = (1..=seqs.len() as u64).collect();
            assert_eq!(seqs, in_order, "{case}");
            assert_eq!(
                matches!(end, Some(Ended::Lagged { .. })),
                lagged,
                "{case}: {end:?}"
            );
        }
    }
}
