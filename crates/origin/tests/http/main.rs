// SPDX-License-Identifier: MIT OR Apache-2.0
//! Integration tests: a real server on 127.0.0.1:0 and real TCP clients.
//!
//! - `semantics`: methods, MIME, cache lifetimes, blocking-reload hook, CORS, path safety.
//! - `representation`: ranges, conditionals, gzip playlists.
//! - `connection`: keep-alive, HTTP/2 prior knowledge, timeouts, connection limit, shutdown.
//! - `hot`: the hot-object cache (identity checks, ranges, the byte bound, disabled).
//! - `events`: `/api/events` over WebSocket, SSE and long-poll; the snapshot's `seq`.
//! - `pages`: index page, stream listing, health, metrics, access log.
//! - `signed`: signed URLs (gate, playlist rewriting, listings, `/metrics` token).

mod cases;
mod common;
mod connection;
mod events;
mod hot;
mod pages;
mod representation;
mod semantics;
mod signed;
#[cfg(feature = "tls")]
mod tls;
