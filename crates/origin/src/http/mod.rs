// SPDX-License-Identifier: MIT OR Apache-2.0
//! The HTTP edge, the top room: everything that knows about requests and responses.
//!
//! A request goes `server` (accept loop, HTTP/1.1 or HTTP/2, optional `tls`) → `router`
//! (routes, CORS, error caching, metrics, access log) → `files` (object responses) →
//! `reload` (playlists: LL-HLS delivery directives, blocking reload) → the source
//! ([`crate::source`]). `policy` (content types, `Cache-Control`) and `conditional`
//! (ETag/If-*/Range) are the rules `files` applies. `events` answers `/api/events`
//! (WebSocket, SSE, long-poll) over the hub of [`crate::events`].
//!
//! Dependencies point down only: `http` → [`crate::source`] → [`crate::live`]; every room
//! may use the leaves [`crate::path`], [`crate::metrics`], [`crate::config`], `error`.
//! Nothing below imports from here.

pub(crate) mod conditional;
mod cycle;
pub(crate) mod events;
mod files;
mod hlsjs;
mod hold;
pub(crate) mod policy;
pub mod reload;
pub(crate) mod router;
pub(crate) mod server;
pub(crate) mod signed;
pub(crate) mod streams;
mod tls;
