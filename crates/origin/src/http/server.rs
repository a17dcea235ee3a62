// SPDX-License-Identifier: MIT OR Apache-2.0
//! The accept loop: connection limit, protocol detection (HTTP/1.1, or HTTP/2 with prior
//! knowledge, RFC 9113 3.3), header-read timeout, graceful shutdown.
//!
//! - At most `max_connections` connections are open; the loop takes a semaphore permit before
//!   accepting, so excess clients wait in the kernel's listen backlog.
//! - A client must send a complete request head within `header_read_timeout_secs`, which also
//!   bounds idle HTTP/1 keep-alive, and, before that, the first bytes that tell HTTP/1 from
//!   HTTP/2 (slowloris).
//! - Cleartext HTTP/1.1 requests are served one at a time, each by a hyper connection of its
//!   own, so that an idle keep-alive connection or a held long-poll keeps no hyper buffers
//!   ([`super::cycle`]); TLS, HTTP/2 and requests hyper must frame (bodies, upgrades) keep
//!   one hyper connection for the rest of the connection (its `header_read_timeout`).
//! - On shutdown the listener closes, every connection finishes its in-flight responses
//!   (HTTP/1: no more keep-alive; HTTP/2: GOAWAY), and after `shutdown_timeout_secs` the
//!   remaining connections are dropped.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use bytes::{Buf, Bytes, BytesMut};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use super::cycle::{Cycle, Ended};
use super::events::EventsEdge;
use super::hold::{Held, Holder};
use super::router::{build, header_values};
use super::signed::ClientAddr;
use super::tls::TlsAcceptor;
use crate::config::ServeConfig;
use crate::error::OriginError;
use crate::events::Events;
use crate::live::LivePlaylists;
use crate::metrics::Metrics;
use crate::source::LiveSource;
use crate::source::{FsSource, ObjectSource};
use crate::webhook::{self, Webhooks};

/// The HTTP/2 connection preface (RFC 9113 3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Interval and timeout of HTTP/2 keep-alive pings.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A bound, not yet running origin server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    /// Requests the connections hold before hyper ([`super::hold`]).
    holder: Arc<dyn Holder>,
    metrics: Arc<Metrics>,
    events: Arc<EventsEdge>,
    /// Webhooks and the seq they start after (events published before `run` are sent too).
    webhooks: (Webhooks, u64),
    tls: Option<TlsAcceptor>,
    max_connections: usize,
    header_read_timeout: Duration,
    shutdown_timeout: Duration,
}

/// Binds `config.listen` and serves `config.root` until `shutdown` completes, then shuts down
/// gracefully.
pub async fn serve(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), OriginError> {
    Server::bind(&config).await?.run(shutdown).await
}

impl Server {
    /// Validates `config`, opens the root and binds the listen address. Live playlists that
    /// other processes write into the root answer blocking reloads (RFC 8216bis 6.2.5.2) by
    /// watching them ([`LivePlaylists::watching`]).
    pub async fn bind(config: &ServeConfig) -> Result<Self, OriginError> {
        let source = FsSource::new(&config.root).map_err(|source| OriginError::Root {
            path: config.root.clone(),
            source,
        })?;
        let live = LivePlaylists::watching(source.root());
        // MP4 files under the root are also served as HLS, packaged just in time.
        let jit = crate::jit::JitSource::from_config(LiveSource::new(source, live), config)
            .map_err(OriginError::Config)?;
        Self::bind_with_source(config, jit).await
    }

    /// Like [`Server::bind`] with another [`ObjectSource`] (`config.root` is not used).
    pub async fn bind_with_source<S: ObjectSource>(
        config: &ServeConfig,
        source: S,
    ) -> Result<Self, OriginError> {
        header_values(config)
            .map_err(|field| OriginError::Config(format!("{field} is not a valid header value")))?;
        if config.max_connections == 0 || config.max_connections > Semaphore::MAX_PERMITS {
            return Err(OriginError::Config(format!(
                "max_connections must be 1..={}",
                Semaphore::MAX_PERMITS
            )));
        }
        config.signing().map_err(OriginError::Config)?;
        if config.header_read_timeout_secs == 0 {
            return Err(OriginError::Config(
                "header_read_timeout_secs must be at least 1".into(),
            ));
        }
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(TlsAcceptor::from_pem_files(cert, key)?),
            (None, None) => None,
            _ => {
                return Err(OriginError::Config(
                    "tls_cert and tls_key must be given together".into(),
                ))
            }
        };
        let addr = config.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| OriginError::Bind { addr, source })?;
        let local_addr = listener.local_addr()?;
        let metrics = Arc::new(Metrics::default());
        // One hub per server, shared with the in-process packagers of its live playlists.
        let events = source
            .live()
            .map_or_else(Events::default, |l| l.events().clone());
        let webhooks = (Webhooks::from_config(config)?, events.last_seq());
        let events = Arc::new(EventsEdge::new(config, events, Arc::clone(&metrics)));
        let (router, holder) = build(config, source, Arc::clone(&metrics), Arc::clone(&events));
        Ok(Self {
            listener,
            local_addr,
            router,
            holder,
            metrics,
            events,
            webhooks,
            tls,
            max_connections: config.max_connections,
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            shutdown_timeout: Duration::from_secs(config.shutdown_timeout_secs),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The handle the ingest side counts publishes and refusals through (`/metrics`).
    pub fn ingest_metrics(&self) -> crate::metrics::IngestMetrics {
        crate::metrics::IngestMetrics::new(Arc::clone(&self.metrics))
    }

    /// The server's event hub ([`crate::events`]): producers publish through a clone of it.
    pub fn events(&self) -> &Events {
        &self.events.events
    }

    /// Serves until `shutdown` completes, then finishes in-flight responses (at most
    /// `shutdown_timeout_secs`) and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), OriginError> {
        let Server {
            listener,
            local_addr,
            router,
            holder,
            metrics,
            events,
            webhooks,
            tls,
            max_connections,
            header_read_timeout,
            shutdown_timeout,
        } = self;
        let webhooks = webhooks.0.start(&events.events, webhooks.1, &metrics);
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(addr = %local_addr, scheme, "origin listening");
        let permits = Arc::new(Semaphore::new(max_connections));
        let graceful = GracefulShutdown::new();
        let (hard_stop, hard_stop_rx) = watch::channel(false);
        // HTTP/1 connections (upgradeable, which hyper-util's graceful watcher does not
        // take) start their graceful shutdown when this turns true.
        let (draining, draining_rx) = watch::channel(false);
        tokio::spawn(Arc::clone(&events).report_viewers(draining_rx.clone()));
        let mut shutdown = pin!(shutdown);
        loop {
            let permit = tokio::select! {
                biased;
                () = &mut shutdown => break,
                p = Arc::clone(&permits).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let (stream, peer) = tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        drop(permit);
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let conn = Conn {
                router: router.clone(),
                holder: Arc::clone(&holder),
                watcher: graceful.watcher(),
                draining: draining_rx.clone(),
                tls: tls.clone(),
                header_read_timeout,
                metrics: Arc::clone(&metrics),
            };
            let mut hard_stop = hard_stop_rx.clone();
            metrics.connection_opened();
            tokio::spawn(async move {
                let _permit = permit;
                let metrics = Arc::clone(&conn.metrics);
                tokio::select! {
                    () = conn.serve(stream, peer) => {}
                    _ = hard_stop.wait_for(|stop| *stop) => {}
                }
                metrics.connection_closed();
            });
        }
        drop(listener);
        tracing::info!(addr = %local_addr, "origin shutting down");
        // Event subscriptions end now (their edges close: WebSocket 1001), not at the
        // graceful-shutdown timeout.
        events.events.close_subscribers();
        let _ = draining.send(true);
        let (sockets, graceful) = tokio::join!(
            events.sockets_closed(shutdown_timeout),
            tokio::time::timeout(shutdown_timeout, graceful.shutdown())
        );
        if !sockets {
            tracing::warn!("event WebSockets still open at the shutdown timeout");
        }
        if graceful.is_err() {
            tracing::warn!("graceful shutdown timed out; dropping remaining connections");
            let _ = hard_stop.send(true);
        }
        webhooks.finish(webhook::FINISH).await;
        Ok(())
    }
}

/// What one connection task needs.
struct Conn {
    router: Router,
    holder: Arc<dyn Holder>,
    watcher: Watcher,
    draining: watch::Receiver<bool>,
    tls: Option<TlsAcceptor>,
    header_read_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Conn {
    async fn serve(self, mut stream: TcpStream, peer: SocketAddr) {
        if let Some(tls) = self.tls.clone() {
            // Boxed: the TLS states are large and would otherwise size every connection's
            // task, cleartext ones included (memory per idle connection).
            return Box::pin(self.serve_tls(tls, stream, peer)).await;
        }
        match tokio::time::timeout(self.header_read_timeout, sniff(&mut stream)).await {
            Ok(Ok((prefix, true))) => {
                let io = TokioIo::new(Prefixed::new(prefix.freeze(), stream));
                self.serve_io(io, true, peer).await
            }
            Ok(Ok((prefix, false))) => self.serve_cycling(stream, prefix, peer).await,
            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection closed before a request"),
            Err(_) => tracing::debug!(%peer, "no request within the header read timeout"),
        }
    }

    /// Cleartext HTTP/1.1: requests one at a time ([`Cycle`]), holding no hyper state between
    /// them, until one needs hyper for the rest of the connection.
    async fn serve_cycling(self, stream: TcpStream, prefix: BytesMut, peer: SocketAddr) {
        let cycle = Cycle {
            router: self.router.clone(),
            holder: Arc::clone(&self.holder),
            draining: self.draining.clone(),
            header_read_timeout: self.header_read_timeout,
            peer,
        };
        if let Ended::Hyper(stream, read) = cycle.run(stream, prefix).await {
            let io = TokioIo::new(Prefixed::new(read.freeze(), stream));
            self.serve_io(io, false, peer).await;
        }
    }

    async fn serve_tls(self, tls: TlsAcceptor, stream: TcpStream, peer: SocketAddr) {
        match tokio::time::timeout(self.header_read_timeout, tls.accept(stream)).await {
            Ok(Ok((tls_stream, h2))) => self.serve_io(TokioIo::new(tls_stream), h2, peer).await,
            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        }
    }

    async fn serve_io<I>(self, io: TokioIo<I>, h2: bool, peer: SocketAddr)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let result = if h2 {
            // Boxed for the same reason as TLS: HTTP/1 connections are the common case.
            Box::pin(self.serve_h2(io, peer)).await
        } else {
            self.serve_h1(io, peer).await
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }

    /// HTTP/1.1 with upgrades (the `/api/events` WebSocket, RFC 6455 4); graceful shutdown
    /// by hand, since the graceful watcher does not take an upgradeable connection.
    async fn serve_h1<I>(self, io: TokioIo<I>, peer: SocketAddr) -> Result<(), hyper::Error>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // Held until the connection ends: the graceful shutdown waits for it.
        let _watcher = self.watcher;
        let mut draining = self.draining;
        let service = TowerToHyperService::new(with_peer(self.router, peer, None));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
        tokio::select! {
            result = conn.as_mut() => return result,
            _ = draining.wait_for(|d| *d) => {}
        }
        conn.as_mut().graceful_shutdown();
        conn.await
    }

    async fn serve_h2<I>(self, io: TokioIo<I>, peer: SocketAddr) -> Result<(), hyper::Error>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = TowerToHyperService::new(with_peer(self.router, peer, None));
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        // Pings find dead peers; an HTTP/2 connection has no header-read timeout of its own
        // once the preface has arrived.
        builder
            .timer(TokioTimer::new())
            .keep_alive_interval(H2_PING_INTERVAL)
            .keep_alive_timeout(H2_PING_INTERVAL);
        self.watcher
            .watch(builder.serve_connection(io, service))
            .await
    }
}

/// The router, with the peer address in every request's extensions ([`ClientAddr`]), and what
/// the wait of a request the connection held before ended with, if any ([`Held`]).
pub(super) fn with_peer(
    router: Router,
    peer: SocketAddr,
    held: Option<Held>,
) -> impl tower::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone
       + Send
       + 'static {
    tower::ServiceExt::map_request(
        router,
        move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ClientAddr(peer));
            if let Some(held) = held {
                held.insert_into(req.extensions_mut());
            }
            req
        },
    )
}

/// Reads until the first bytes decide between HTTP/2 prior knowledge (the full preface) and
/// HTTP/1 (anything that diverges from it). Returns what was read and whether it is HTTP/2.
async fn sniff(stream: &mut TcpStream) -> io::Result<(BytesMut, bool)> {
    // Small: it lives only until hyper has taken its bytes; a longer head is read by hyper.
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let n = buf.len().min(H2_PREFACE.len());
        if buf.get(..n) != H2_PREFACE.get(..n) {
            return Ok((buf, false));
        }
        if n == H2_PREFACE.len() {
            return Ok((buf, true));
        }
    }
}

/// A TCP stream whose first reads return bytes already read from it; writes of cached
/// segments go out with `sendfile` on Linux ([`crate::source::zerocopy`]).
pub(super) struct Prefixed {
    prefix: Bytes,
    inner: TcpStream,
    /// Reads end after the prefix (one request for hyper, [`super::cycle`]).
    single: bool,
}

impl Prefixed {
    fn new(prefix: Bytes, inner: TcpStream) -> Self {
        Prefixed {
            prefix,
            inner,
            single: false,
        }
    }

    /// `head`, then end-of-file, for reads; writes go to `inner`.
    pub(super) fn single(head: Bytes, inner: TcpStream) -> Self {
        Prefixed {
            prefix: head,
            inner,
            single: true,
        }
    }

    pub(super) fn into_inner(self) -> TcpStream {
        self.inner
    }
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.has_remaining() {
            let n = self.prefix.len().min(buf.remaining());
            let chunk = self.prefix.split_to(n);
            buf.put_slice(&chunk);
            if !self.prefix.has_remaining() {
                // An empty slice still holds the sniff buffer; let it go for the rest of the
                // connection's life (idle keep-alive connections are most of an origin's).
                self.prefix = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        if self.single {
            return Poll::Ready(Ok(())); // end of file
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    #[cfg(target_os = "linux")]
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        crate::source::zerocopy::poll_write_vectored(&mut self.inner, cx, bufs)
    }

    #[cfg(not(target_os = "linux"))]
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
