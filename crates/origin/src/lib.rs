// SPDX-License-Identifier: MIT OR Apache-2.0
//! HLS origin: serves a packager's output directory over HTTP/1.1 and HTTP/2 with the
//! caching, range, conditional, compression and CORS behaviour HLS players and CDNs expect.
//!
//! ```no_run
//! # async fn run() -> Result<(), origin::OriginError> {
//! let config = origin::ServeConfig { root: "out".into(), ..Default::default() };
//! origin::serve(config, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! Rooms, along the request path, with dependencies pointing one way (down this list):
//! - `http` — the edge: accept loop (`server`), routes (`router`), object responses,
//!   LL-HLS delivery directives and blocking reload ([`reload`]), content types and the
//!   `Cache-Control` table (`policy`), ETag/If-*/Range (`conditional`), TLS.
//! - [`source`] — where objects come from: the [`ObjectSource`] trait, [`FsSource`],
//!   [`StoreSource`] (object storage), [`LiveSource`], the hot-object cache and `sendfile`.
//! - [`jit`] — just-in-time HLS from MP4 files: a [`JitSource`] over another source answers
//!   `/PATH/FILE.mp4/…` from the file's index (plans in a bounded cache).
//! - [`live`] — live playlists held in memory or watched on disk (watch channels).
//! - [`events`] — the server's event hub (sequence, ring, fan-out, filters); no HTTP, a leaf
//!   the others publish into.
//! - `webhook` — an edge beside `http`: POSTs the hub's events to `--webhook` URLs (one
//!   subscriber each, HTTP client, signatures, retries).
//! - Leaves that call no other module of the crate: [`config`] (settings), `error`,
//!   [`path`] (request path safety), `metrics` (counters; the others call it), [`signing`]
//!   (signed-URL tokens and playlist rewriting, sans-IO; `http::signed` is its edge),
//!   [`viewers`] (per-stream viewer estimates).
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod config;
mod error;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
mod http;
pub mod jit;
pub mod live;
mod metrics;
pub mod path;
pub mod signing;
pub mod source;
pub mod viewers;
mod webhook;

pub use config::ServeConfig;
pub use error::OriginError;
pub use http::reload;
pub use http::router::{router, router_with_source};
pub use http::server::{serve, Server};
pub use jit::JitSource;
pub use live::{LivePlaylists, LivePublisher};
pub use metrics::{IngestMetrics, RouteKind};
pub use source::store::{StorageUrl, StoreSource};
pub use source::{FsSource, LiveSource, Object, ObjectBody, ObjectMeta, ObjectSource};
