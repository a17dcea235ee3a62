// SPDX-License-Identifier: MIT OR Apache-2.0
//! TCP input: listen and take one encoder connection at a time. Each connection is a
//! session (a transport stream from its first byte). A second connection while the first
//! is delivering is refused; one that arrives after the first went quiet for
//! [`TAKEOVER`] replaces it (an encoder that reconnects before its old, dead connection
//! timed out).

use std::io;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::IngestEvent;

const READ_CHUNK: usize = 64 * 1024;
/// Quiet time after which a new connection replaces the current one.
const TAKEOVER: Duration = Duration::from_secs(1);
/// Pause after a failed `accept` (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

async fn read_current(conn: &mut Option<TcpStream>, buf: &mut [u8]) -> io::Result<usize> {
    match conn {
        Some(s) => s.read(buf).await,
        None => std::future::pending().await,
    }
}

pub async fn run(listener: TcpListener, tx: mpsc::Sender<IngestEvent>) -> Result<()> {
    let mut conn: Option<TcpStream> = None;
    let mut last_read = Instant::now();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                if conn.is_some() {
                    if last_read.elapsed() < TAKEOVER {
                        tracing::warn!(%peer, "refusing a second encoder connection while one is streaming");
                        continue;
                    }
                    tracing::warn!(%peer, "new encoder connection replaces the quiet one");
                    if tx.send(IngestEvent::Closed).await.is_err() {
                        return Ok(());
                    }
                }
                tracing::info!(%peer, "encoder connected");
                let _ = stream.set_nodelay(true);
                conn = Some(stream);
                last_read = Instant::now();
                if tx.send(IngestEvent::Session { peer: peer.to_string() }).await.is_err() {
                    return Ok(());
                }
            }
            read = read_current(&mut conn, &mut buf) => {
                let event = match read {
                    Ok(0) => None,
                    Ok(n) => Some(IngestEvent::Data(Bytes::copy_from_slice(buf.get(..n).unwrap_or_default()))),
                    Err(e) => {
                        tracing::warn!(error = %e, "encoder connection failed");
                        None
                    }
                };
                let event = event.unwrap_or_else(|| {
                    tracing::info!("encoder disconnected");
                    conn = None;
                    IngestEvent::Closed
                });
                last_read = Instant::now();
                if tx.send(event).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}
