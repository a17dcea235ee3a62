// SPDX-License-Identifier: MIT OR Apache-2.0
//! srt-protocol 0.4.4's listener kept an open session in its map (and srt-tokio its packet
//! channel in its own) after the connection ended, unless a datagram came from the same
//! address later: one entry per connection ever made, a leak in a long-running
//! `live --srt-listen`. Patched (vendor/srt-protocol/PATCHES.md, `PROBE`): each open session
//! is probed every second; an ended one is dropped from both maps. Driven here with srt-tokio
//! callers in-process, over loopback: half end by the caller's shutdown, half by our side
//! dropping its socket.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{future::join_all, SinkExt, StreamExt};
use srt_tokio::{ListenerStatistics, SrtListener, SrtSocket};

/// How many connections are opened and closed.
const CONNECTIONS: usize = 40;

/// Waits (up to 30 s) for statistics that satisfy `ok`; the last ones seen.
async fn stats_until(
    stats: &mut (impl futures_util::Stream<Item = ListenerStatistics> + Unpin),
    ok: impl Fn(&ListenerStatistics) -> bool,
) -> ListenerStatistics {
    let mut last = ListenerStatistics::default();
    let wait = async {
        while let Some(s) = stats.next().await {
            last = s;
            if ok(&last) {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), wait).await;
    last
}

/// Accepts every caller: the even ones are read until they end (the caller shuts down), the
/// odd ones dropped at once (our side ends the connection).
async fn accept_all(mut incoming: srt_tokio::SrtIncoming) {
    let mut n = 0usize;
    while let Some(request) = incoming.incoming().next().await {
        let drop_it = !n.is_multiple_of(2);
        n += 1;
        tokio::spawn(async move {
            let Ok(mut socket) = request.accept(None).await else {
                return;
            };
            if !drop_it {
                while let Ok(Some(Ok(_))) =
                    tokio::time::timeout(Duration::from_secs(30), socket.next()).await
                {
                }
            }
        });
    }
}

/// One caller: connects, sends a packet, then shuts down (even) or waits (up to 3 s) for our
/// side to end the connection (odd).
async fn call(addr: SocketAddr, i: usize) -> bool {
    let sid = format!("cam{i}");
    let Ok(mut socket) = SrtSocket::builder().call(addr, Some(&sid)).await else {
        return false;
    };
    let data = bytes::Bytes::from_static(&[0x47; 188]);
    let _ = socket.send((std::time::Instant::now(), data)).await;
    if i.is_multiple_of(2) {
        let _ = socket.close().await;
    } else {
        // srt-tokio callers sometimes miss the shutdown sent right after the handshake
        // (they then wait for their idle timeout): bounded here, the listener's side has
        // ended the connection already.
        let _ = tokio::time::timeout(Duration::from_secs(3), socket.next()).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_connections_leave_the_listener_maps() {
    let socket = super::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let (mut listener, incoming) = SrtListener::builder()
        .socket(socket)
        .bind(addr)
        .await
        .unwrap();
    let mut stats = listener.statistics().clone();
    let before = stats_until(&mut stats, |_| true).await;
    assert_eq!(before.sessions, 0, "{before:?}");
    let server = tokio::spawn(accept_all(incoming));

    let calls = (0..CONNECTIONS).map(|i| call(addr, i));
    let connected = join_all(calls).await.into_iter().filter(|c| *c).count();
    assert_eq!(connected, CONNECTIONS, "every caller connects");

    // Every session that opened is dropped (srt-tokio executes each `DropConnection`,
    // removing its entry) and the listener's map is back to its size before.
    let after = stats_until(&mut stats, |s| {
        s.sessions == before.sessions && s.cx_dropped >= CONNECTIONS as u64
    })
    .await;
    assert_eq!(after.cx_opened, CONNECTIONS as u64, "{after:?}");
    assert_eq!(after.cx_dropped, CONNECTIONS as u64, "{after:?}");
    assert_eq!(after.sessions, before.sessions, "{after:?}");
    server.abort();
    listener.close().await;
}
