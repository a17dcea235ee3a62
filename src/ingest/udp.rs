// SPDX-License-Identifier: MIT OR Apache-2.0
//! UDP input: one datagram is usually 7 transport packets (1316 bytes). The socket gets a
//! large receive buffer so a busy moment on our side does not turn into packet loss; loss
//! that happens anyway shows up as continuity-counter errors in the demuxer, which drops
//! the damaged access units and carries on.
//!
//! A datagram from a new sender after the previous one went quiet for [`SENDER_SWITCH`] is
//! a new encoder session (restarted encoders send from a new port). Datagrams from a second
//! sender while the first is active are fed in as they come (and logged): the demuxer's
//! resync copes with what is not part of the stream.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::IngestEvent;

/// Receive buffer asked for (the kernel may cap it at `net.core.rmem_max`).
const RECV_BUFFER: usize = 8 << 20;
/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_536;
/// Quiet time after which another sender takes over as a new session.
const SENDER_SWITCH: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct UdpInput {
    socket: UdpSocket,
}

/// Binds `addr`, joining it as a group when it is a multicast address.
pub fn bind(addr: SocketAddr) -> io::Result<UdpInput> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    if let Err(e) = socket.set_recv_buffer_size(RECV_BUFFER) {
        tracing::warn!(error = %e, "cannot enlarge the UDP receive buffer");
    }
    match socket.recv_buffer_size() {
        Ok(n) if n < RECV_BUFFER => tracing::info!(
            bytes = n,
            wanted = RECV_BUFFER,
            "UDP receive buffer capped by the kernel (raise net.core.rmem_max for high bitrates)"
        ),
        _ => {}
    }
    let multicast = addr.ip().is_multicast();
    let bind_addr = match (multicast, addr.ip()) {
        (true, IpAddr::V4(_)) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port()),
        (true, IpAddr::V6(_)) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), addr.port()),
        (false, _) => addr,
    };
    socket.bind(&bind_addr.into())?;
    match addr.ip() {
        IpAddr::V4(group) if multicast => {
            socket.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)?;
        }
        IpAddr::V6(group) if multicast => socket.join_multicast_v6(&group, 0)?,
        _ => {}
    }
    socket.set_nonblocking(true)?;
    let socket = UdpSocket::from_std(socket.into())?;
    Ok(UdpInput { socket })
}

impl UdpInput {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub async fn run(self, tx: mpsc::Sender<IngestEvent>) -> Result<()> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut sender: Option<(SocketAddr, Instant)> = None;
        let mut strangers = 0u64;
        loop {
            let (n, from) = match self.socket.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    // E.g. ICMP errors reported on the socket: not fatal for a receiver.
                    tracing::debug!(error = %e, "UDP receive error");
                    continue;
                }
            };
            let now = Instant::now();
            match sender {
                Some((addr, _)) if addr == from => {}
                Some((addr, last)) if now.duration_since(last) < SENDER_SWITCH => {
                    strangers = strangers.saturating_add(1);
                    if strangers == 1 || strangers.is_multiple_of(1000) {
                        tracing::warn!(%from, current = %addr, count = strangers, "UDP datagrams from a second sender");
                    }
                }
                previous => {
                    if previous.is_some() {
                        tracing::info!(%from, "new UDP sender: a new encoder session");
                    }
                    if tx
                        .send(IngestEvent::Session {
                            peer: from.to_string(),
                        })
                        .await
                        .is_err()
                    {
                        return Ok(());
                    }
                }
            }
            if sender.is_none_or(|(addr, last)| {
                addr == from || now.duration_since(last) >= SENDER_SWITCH
            }) {
                sender = Some((from, now));
            }
            let data = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
            if tx.send(IngestEvent::Data(data)).await.is_err() {
                return Ok(());
            }
        }
    }
}
