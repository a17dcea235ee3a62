// SPDX-License-Identifier: MIT OR Apache-2.0
//! RTMP input: listen for publishers. Who may publish what is the [`Hub`]'s decision: one
//! stream (`--input rtmp://HOST:PORT/APP/NAME`) or any name (`--rtmp-listen`, server mode),
//! with stream keys. A publisher's `publish` starts a session of its stream (a reconnect
//! continues the playlist after EXT-X-DISCONTINUITY, as for TCP), its audio/video/data
//! messages go to the stream's driver, and its `deleteStream` or closed connection ends the
//! session. A refused publish gets `NetStream.Publish.BadName` and the connection is closed.
//!
//! Each connection is a task of its own (a slow or garbage one holds up nobody), at most the
//! policy's `max_connections` at once; a connection silent for [`IDLE`] (or [`HANDSHAKE`]
//! before publishing) is closed. Memory per connection is bounded by the read buffer and one
//! RTMP message (24-bit length, under 16 MiB).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::hub::{Claim, Hub, Lost, ShutOnDrop};
use super::{IngestEvent, RtmpMessage};
use rtmp::{Action, Conn};

const READ_CHUNK: usize = 64 * 1024;
/// A publisher sending nothing for this long is gone.
const IDLE: Duration = Duration::from_secs(30);
/// A connection that has not started publishing within this long is closed.
const HANDSHAKE: Duration = Duration::from_secs(10);
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

pub async fn run(listener: TcpListener, hub: Arc<Hub>) -> Result<()> {
    let _shut = ShutOnDrop(Arc::clone(&hub));
    let max = hub.policy().max_connections;
    let slots = Arc::new(Semaphore::new(max));
    let mut closing = hub.closing();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = closing.wait_for(|c| *c) => return Ok(()),
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max, "RTMP connection refused: too many connections (--max-publishers)");
            hub.count_refused();
            continue;
        };
        let hub = Arc::clone(&hub);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            serve(stream, peer.to_string(), hub).await;
        });
    }
}

async fn serve(mut stream: TcpStream, peer: String, hub: Arc<Hub>) {
    let mut conn = Conn::new(hub.policy().app.as_deref());
    let mut claim: Option<Claim> = None;
    let mut closing = hub.closing();
    let mut buf = vec![0u8; READ_CHUNK];
    let why = loop {
        let limit = if conn.publishing() { IDLE } else { HANDSHAKE };
        let read = tokio::select! {
            r = tokio::time::timeout(limit, stream.read(&mut buf)) => r,
            _ = closing.wait_for(|c| *c) => break "shutting down".to_owned(),
        };
        let n = match read {
            Err(_) => break format!("nothing received for {} s", limit.as_secs()),
            Ok(Ok(0)) => break "connection closed".to_owned(),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => break format!("connection failed: {e}"),
        };
        let mut fresh = None;
        let mut ask = |app: &str, published: &str| {
            let c = hub.claim(app, published).map_err(|r| r.why)?;
            let name = c.name().to_owned();
            fresh = Some(c);
            Ok(name)
        };
        let actions = match conn.input(buf.get(..n).unwrap_or_default(), &mut ask) {
            Ok(a) => a,
            Err(e) => {
                // Once, with the peer; a panic caught in rml_rtmp is in `e`, not on stderr.
                tracing::warn!(%peer, error = %e, "RTMP: bad input, connection closed");
                hub.count_refused();
                break "bad input".to_owned();
            }
        };
        if let Some(c) = fresh {
            claim = Some(c);
        }
        match perform(&mut stream, &peer, actions, claim.as_ref()).await {
            Ok(None) => {}
            Ok(Some(why)) => break why,
            Err(e) => break format!("connection failed: {e}"),
        }
        if !conn.publishing() {
            // deleteStream: the stream is free for the next publisher.
            claim = None;
        }
    };
    match claim.as_ref().filter(|_| conn.publishing()) {
        Some(c) => {
            tracing::info!(%peer, stream = %c.name(), reason = %why, "RTMP publisher gone");
            let _ = c.send(IngestEvent::Closed).await;
        }
        None => tracing::info!(%peer, reason = %why, "RTMP connection closed"),
    }
}

/// Carries out `actions`; `Some(reason)` when the connection is to be closed. The media
/// messages among them go to the driver together (one [`IngestEvent::Messages`] per run of
/// them, in order with the other events): each hand-over wakes the driver's task, the
/// largest per-message cost there was.
async fn perform(
    stream: &mut TcpStream,
    peer: &str,
    actions: Vec<Action>,
    claim: Option<&Claim>,
) -> std::io::Result<Option<String>> {
    let mut batch = Vec::new();
    for action in actions {
        let event = match action {
            Action::Message {
                tag_type,
                timestamp,
                body,
            } => {
                batch.push(RtmpMessage {
                    tag_type,
                    timestamp,
                    body,
                });
                continue;
            }
            Action::Send(bytes) => {
                stream.write_all(&bytes).await?;
                continue;
            }
            Action::Close(why) => {
                tracing::warn!(%peer, "RTMP: {why}");
                stream.flush().await?;
                return Ok(hand_over(claim, &mut batch).await.or(Some(why)));
            }
            Action::Publish { name } => {
                tracing::info!(%peer, stream = %name, "RTMP publisher starts");
                if let Some(c) = claim {
                    c.started();
                }
                IngestEvent::Session {
                    peer: peer.to_owned(),
                }
            }
            Action::Unpublish => {
                tracing::info!(%peer, "RTMP publisher stops");
                IngestEvent::Closed
            }
        };
        if let Some(why) = hand_over(claim, &mut batch).await {
            return Ok(Some(why));
        }
        if let Some(why) = send(claim, event).await {
            return Ok(Some(why));
        }
    }
    Ok(hand_over(claim, &mut batch).await)
}

/// Sends the messages collected in `batch` (if any) as one event.
async fn hand_over(claim: Option<&Claim>, batch: &mut Vec<RtmpMessage>) -> Option<String> {
    if batch.is_empty() {
        return None;
    }
    send(claim, IngestEvent::Messages(std::mem::take(batch))).await
}

/// Sends `event` to the claimed stream's driver; `Some(reason)` when the connection is to be
/// closed. Without a claim (not publishing) nothing is sent.
async fn send(claim: Option<&Claim>, event: IngestEvent) -> Option<String> {
    match claim?.send(event).await {
        Ok(()) => None,
        Err(Lost::Replaced) => Some("another publisher took the stream over".into()),
        Err(Lost::Closed) => Some("the stream's packager is gone".into()),
    }
}
