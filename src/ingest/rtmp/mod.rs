// SPDX-License-Identifier: MIT OR Apache-2.0
//! RTMP input: listen for publishers of one stream (`rtmp://HOST:PORT/APP/NAME`). One
//! publisher at a time has the stream; its `publish` starts a session (a reconnect continues
//! the playlist after EXT-X-DISCONTINUITY, as for TCP), its audio/video/data messages go to
//! the driver's FLV demuxer, and its `deleteStream` or closed connection ends the session.
//! A publish to another app or name, or while the stream is taken, is refused with
//! `NetStream.Publish.BadName` and the connection closed.
//!
//! Each connection is a task of its own (a slow or garbage one holds up nobody), at most
//! [`MAX_CONNECTIONS`] at once; a connection silent for [`IDLE`] (or [`HANDSHAKE`] before
//! publishing) is closed. Memory per connection is bounded by the read buffer and one RTMP
//! message (24-bit length, under 16 MiB).

mod conn;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

use super::IngestEvent;
use conn::{Action, Conn};

const READ_CHUNK: usize = 64 * 1024;
/// Connections handled at once (publishers, refused and half-open ones together).
const MAX_CONNECTIONS: usize = 16;
/// A publisher sending nothing for this long is gone.
const IDLE: Duration = Duration::from_secs(30);
/// A connection that has not started publishing within this long is closed.
const HANDSHAKE: Duration = Duration::from_secs(10);
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a connection may publish, and the one-publisher slot.
#[derive(Clone)]
struct Target {
    app: Arc<str>,
    name: Arc<str>,
    taken: Arc<AtomicBool>,
    tx: mpsc::Sender<IngestEvent>,
}

pub async fn run(
    listener: TcpListener,
    app: String,
    name: String,
    tx: mpsc::Sender<IngestEvent>,
) -> Result<()> {
    let target = Target {
        app: app.into(),
        name: name.into(),
        taken: Arc::new(AtomicBool::new(false)),
        tx,
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if target.tx.is_closed() {
            return Ok(());
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = MAX_CONNECTIONS, "RTMP connection refused: too many connections");
            continue;
        };
        let target = target.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            serve(stream, peer.to_string(), target).await;
        });
    }
}

/// Releases the publisher slot (after the driver was told the session closed).
struct Slot<'a>(&'a AtomicBool);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

async fn serve(mut stream: TcpStream, peer: String, target: Target) {
    let mut conn = Conn::new(&target.app, &target.name);
    let mut slot: Option<Slot<'_>> = None;
    let mut buf = vec![0u8; READ_CHUNK];
    let why = loop {
        let limit = if conn.publishing() { IDLE } else { HANDSHAKE };
        let n = match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => break format!("nothing received for {} s", limit.as_secs()),
            Ok(Ok(0)) => break "connection closed".to_owned(),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => break format!("connection failed: {e}"),
        };
        let mut claimed = false;
        let mut claim = || {
            claimed = target
                .taken
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
            claimed
        };
        let actions = match conn.input(buf.get(..n).unwrap_or_default(), &mut claim) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "RTMP: bad input, connection closed");
                break e;
            }
        };
        if claimed {
            slot = Some(Slot(&target.taken));
        }
        match perform(&mut stream, &peer, actions, &target.tx).await {
            Ok(None) => {}
            Ok(Some(why)) => break why,
            Err(e) => break format!("connection failed: {e}"),
        }
        if !conn.publishing() && slot.is_some() {
            // deleteStream: the stream is free for the next publisher.
            slot = None;
        }
    };
    if conn.publishing() {
        tracing::info!(%peer, reason = %why, "RTMP publisher gone");
        let _ = target.tx.send(IngestEvent::Closed).await;
    } else {
        tracing::info!(%peer, reason = %why, "RTMP connection closed");
    }
    drop(slot);
}

/// Carries out `actions`; `Some(reason)` when the connection is to be closed.
async fn perform(
    stream: &mut TcpStream,
    peer: &str,
    actions: Vec<Action>,
    tx: &mpsc::Sender<IngestEvent>,
) -> std::io::Result<Option<String>> {
    for action in actions {
        let event = match action {
            Action::Send(bytes) => {
                stream.write_all(&bytes).await?;
                continue;
            }
            Action::Close(why) => {
                tracing::warn!(%peer, "RTMP: {why}");
                stream.flush().await?;
                return Ok(Some(why));
            }
            Action::Publish { name } => {
                tracing::info!(%peer, stream = %name, "RTMP publisher starts");
                IngestEvent::Session {
                    peer: peer.to_owned(),
                }
            }
            Action::Unpublish => {
                tracing::info!(%peer, "RTMP publisher stops");
                IngestEvent::Closed
            }
            Action::Message {
                tag_type,
                timestamp,
                body,
            } => IngestEvent::Message {
                tag_type,
                timestamp,
                body,
            },
        };
        if tx.send(event).await.is_err() {
            return Ok(Some("shutting down".into()));
        }
    }
    Ok(None)
}
