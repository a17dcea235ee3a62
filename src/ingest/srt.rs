// SPDX-License-Identifier: MIT OR Apache-2.0
//! SRT input (listener mode, `srt-tokio`): each caller's streamid names the stream —
//! `NAME`, `NAME?key=K`, or the SRT access-control form `#!::r=NAME,m=publish,k=K` — and the
//! [`Hub`] decides as for RTMP. The payload is MPEG-TS (1316-byte packets of 7 TS packets
//! as ffmpeg and OBS send them), fed to the existing TS demuxer as [`IngestEvent::Data`].
//! A refused caller gets an SRT rejection (2401 unauthorized for a key, 2409 conflict for a
//! taken stream, 2403 otherwise); a caller that stops sending is closed after [`IDLE`].
//!
//! One task of srt-tokio parses every datagram of the port and runs every handshake: a panic
//! there would cut every caller of the listener. srt-protocol is vendored with the panics a
//! peer could reach there replaced by rejections (vendor/srt-protocol/PATCHES.md); an
//! encryption mismatch is refused by it in the handshake (libsrt's codes: 1011 unsecure when
//! one side has no passphrase, 1010 bad secret).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use srt_protocol::options::KeySize;
use srt_protocol::packet::{CoreRejectReason, RejectReason, ServerRejectReason};
use srt_protocol::settings::KeySettings;
use srt_tokio::{ConnectionRequest, SrtListener};
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;

use super::hub::{Hub, Lost, RefusedKind, ShutOnDrop};
use super::IngestEvent;

/// A caller sending nothing for this long is gone.
const IDLE: Duration = Duration::from_secs(30);
/// A caller whose handshake srt-protocol neither completes nor rejects within this long after
/// we accept it (a conclusion it does not handle leaves the request pending) is dropped, and
/// its stream name released.
const ACCEPT: Duration = Duration::from_secs(10);
/// The listener's UDP receive buffer.
const RECV_BUFFER: usize = 4 << 20;

/// SRT settings of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtOptions {
    /// Receive latency (`--srt-latency-ms`).
    pub latency: Duration,
    /// AES passphrase (`--srt-passphrase`, 10 to 79 characters): callers must encrypt with it.
    pub passphrase: Option<String>,
    /// Single mode without a streamid in the URL: every caller publishes the one stream,
    /// whatever its streamid.
    pub any_streamid: bool,
}

impl Default for SrtOptions {
    fn default() -> Self {
        SrtOptions {
            latency: Duration::from_millis(120),
            passphrase: None,
            any_streamid: false,
        }
    }
}

/// Binds the listener's UDP socket (large receive buffer).
pub fn bind(addr: SocketAddr) -> Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .with_context(|| format!("cannot listen for SRT on {addr}"))?;
    let _ = socket.set_recv_buffer_size(RECV_BUFFER);
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot listen for SRT on {addr}"))?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into()).with_context(|| format!("cannot listen for SRT on {addr}"))
}

/// What the caller asks for: (stream name, key, mode).
pub fn parse_streamid(sid: &str) -> (String, Option<String>, Option<String>) {
    // SRT Access Control (Haivision srt docs/features/access-control.md): `#!::k=v,k=v`.
    if let Some(list) = sid.strip_prefix("#!::") {
        let (mut name, mut key, mut mode) = (String::new(), None, None);
        for kv in list.split(',') {
            match kv.split_once('=') {
                Some(("r", v)) => name = v.to_owned(),
                Some(("k" | "key", v)) => key = Some(v.to_owned()),
                Some(("m", v)) => mode = Some(v.to_owned()),
                _ => {}
            }
        }
        return (name, key, mode);
    }
    let (name, key) = super::keys::split_key(sid);
    (name.to_owned(), key.map(str::to_owned), None)
}

/// Takes SRT callers on `socket` until the hub closes. Should srt-tokio's listener task end
/// anyway (a panic no known input reaches: see vendor/srt-protocol/PATCHES.md), the listener
/// is bound again on the same address as a last resort (logged as an error: the connections
/// it had are lost).
pub async fn run(socket: UdpSocket, hub: Arc<Hub>, opts: SrtOptions) -> Result<()> {
    let _shut = ShutOnDrop(Arc::clone(&hub));
    let local = socket.local_addr()?;
    let mut socket = Some(socket);
    let slots = Arc::new(Semaphore::new(hub.policy().max_connections));
    loop {
        let socket = match socket.take() {
            Some(s) => s,
            None => {
                // Give the dead listener's socket time to be dropped.
                tokio::time::sleep(Duration::from_millis(200)).await;
                match bind(local) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "SRT listener cannot restart");
                        continue;
                    }
                }
            }
        };
        if listen(socket, &hub, &opts, &slots).await? {
            return Ok(());
        }
        tracing::error!(%local, "SRT listener task ended; its connections are lost; listening again");
    }
}

/// One listener's life: `true` when the hub closed, `false` when the listener died.
async fn listen(
    socket: UdpSocket,
    hub: &Arc<Hub>,
    opts: &SrtOptions,
    slots: &Arc<Semaphore>,
) -> Result<bool> {
    let local = socket.local_addr()?;
    let (_listener, mut incoming) = SrtListener::builder()
        .latency(opts.latency)
        .socket(socket)
        .bind(local)
        .await
        .with_context(|| format!("cannot listen for SRT on {local}"))?;
    let mut closing = hub.closing();
    loop {
        let request = tokio::select! {
            r = incoming.incoming().next() => match r {
                Some(r) => r,
                None => return Ok(*hub.closing().borrow()),
            },
            _ = closing.wait_for(|c| *c) => return Ok(true),
        };
        let peer = request.remote();
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let max = hub.policy().max_connections;
            tracing::warn!(%peer, max, "SRT caller refused: too many connections (--max-publishers)");
            hub.count_refused();
            let _ = request
                .reject(RejectReason::Server(ServerRejectReason::Overload))
                .await;
            continue;
        };
        let hub = Arc::clone(hub);
        let opts = opts.clone();
        tokio::spawn(async move {
            let _permit = permit;
            serve(request, hub, &opts).await;
        });
    }
}

async fn serve(request: ConnectionRequest, hub: Arc<Hub>, opts: &SrtOptions) {
    let peer = request.remote();
    let sid = request
        .stream_id()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let (mut name, key, mode) = parse_streamid(&sid);
    if let Some(only) = hub.only().filter(|_| opts.any_streamid) {
        name = only;
    }
    let reject = |code| RejectReason::Server(code);
    if mode.as_deref().is_some_and(|m| m != "publish") {
        tracing::warn!(%peer, stream = %name, "SRT caller refused: only m=publish is taken");
        hub.count_refused();
        let _ = request.reject(reject(ServerRejectReason::BadMode)).await;
        return;
    }
    // An encrypting caller when we have no passphrase: one that advertises its key length
    // (libsrt with `pbkeylen` set) is refused here; one that advertises none (libsrt's
    // default) is refused by srt-protocol in accept (patched: it panicked there), see below.
    // Only one side has a password: libsrt's SRT_REJ_UNSECURE.
    if opts.passphrase.is_none() && request.key_size() != KeySize::Unspecified {
        tracing::warn!(%peer, stream = %name, "SRT caller refused: it encrypts and no --srt-passphrase is set");
        hub.count_refused();
        let _ = request
            .reject(RejectReason::Core(CoreRejectReason::Unsecure))
            .await;
        return;
    }
    // srt-protocol checks the caller's key size against this one and reads the key from the
    // caller's key material; libsrt callers advertise no size in the conclusion handshake,
    // so the request's own size is the one that matches. A caller that does not encrypt is
    // rejected by srt-protocol (unsecure).
    let keys = opts.passphrase.as_ref().map(|p| KeySettings {
        key_size: request.key_size(),
        passphrase: p.as_str().into(),
    });
    let claim = match hub.claim_key("srt", &name, key.as_deref()) {
        Ok(c) => c,
        Err(refused) => {
            tracing::warn!(%peer, "SRT: {}", refused.why);
            let code = match refused.kind {
                RefusedKind::Key => ServerRejectReason::Unauthorized,
                RefusedKind::Busy => ServerRejectReason::Conflict,
                RefusedKind::BadName => ServerRejectReason::BadRequest,
                RefusedKind::Other => ServerRejectReason::Forbidden,
            };
            let _ = request.reject(reject(code)).await;
            return;
        }
    };
    let encrypted = keys.is_some();
    let mut socket = match tokio::time::timeout(ACCEPT, request.accept(keys)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => {
            // srt-protocol rejected the handshake (it drops the request and says no more).
            let why = if encrypted {
                "it does not encrypt, or with another passphrase or key length"
            } else {
                "it encrypts and no --srt-passphrase is set"
            };
            tracing::warn!(%peer, stream = %name, "SRT caller refused: {why}");
            hub.count_refused();
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, stream = %name, "SRT caller refused: its handshake did not complete");
            hub.count_refused();
            return;
        }
    };
    tracing::info!(%peer, stream = %name, "SRT publisher starts");
    claim.started();
    let session = IngestEvent::Session {
        peer: peer.to_string(),
    };
    let mut closing = hub.closing();
    let mut result = claim.send(session).await;
    let why = loop {
        if let Err(lost) = result {
            break match lost {
                Lost::Replaced => "another publisher took the stream over",
                Lost::Closed => "the stream's packager is gone",
            };
        }
        let next = tokio::select! {
            n = tokio::time::timeout(IDLE, socket.next()) => n,
            _ = closing.wait_for(|c| *c) => break "shutting down",
        };
        result = match next {
            Err(_) => break "nothing received for 30 s",
            Ok(None) => break "connection closed",
            Ok(Some(Err(_))) => break "connection failed",
            Ok(Some(Ok((_, bytes)))) => claim.send(IngestEvent::Data(bytes)).await,
        };
    };
    tracing::info!(%peer, stream = %name, reason = why, "SRT publisher gone");
    let _ = claim.send(IngestEvent::Closed).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamids() {
        let s = |v: &str| Some(v.to_owned());
        for (sid, name, key, mode) in [
            ("cam", "cam", None, None),
            ("cam?key=abc", "cam", s("abc"), None),
            ("#!::r=cam,m=publish", "cam", None, s("publish")),
            ("#!::r=cam,m=publish,k=abc", "cam", s("abc"), s("publish")),
            ("#!::m=request,r=news", "news", None, s("request")),
            ("#!::u=admin,r=x,s=1", "x", None, None),
            ("", "", None, None),
        ] {
            assert_eq!(parse_streamid(sid), (name.to_owned(), key, mode), "{sid}");
        }
    }
}

#[cfg(test)]
#[path = "srt_tests.rs"]
mod listener_tests;

#[cfg(test)]
#[path = "srt_conn_tests.rs"]
mod conn_tests;

#[cfg(test)]
#[path = "srt_pending_tests.rs"]
mod pending_tests;

#[cfg(test)]
#[path = "srt_close_tests.rs"]
mod close_tests;
