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
//! Modules: `config` (settings), `server` (accept loop), `router` (routes, CORS, metrics,
//! access log), `files` (object responses), `hot` (segments kept in memory), `policy` (content
//! types and the `Cache-Control` table), `conditional` (ETag/If-*/Range), `path` (request path
//! safety), `source` (the read trait), `reload` (LL-HLS delivery directives and blocking
//! reload), `live` (live playlists: published in-process or watched on disk).
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[cfg(target_os = "linux")]
#[path = "source/beneath.rs"]
mod beneath;
#[path = "http/conditional.rs"]
mod conditional;
pub mod config;
mod error;
#[path = "http/files.rs"]
mod files;
#[doc(hidden)]
pub mod fuzzing;
#[path = "source/hot.rs"]
mod hot;
pub mod live;
mod metrics;
pub mod path;
#[path = "http/policy.rs"]
mod policy;
#[path = "http/reload.rs"]
pub mod reload;
#[path = "http/router.rs"]
mod router;
#[path = "http/server.rs"]
mod server;
#[path = "source/mod.rs"]
pub mod source;
#[path = "http/tls.rs"]
mod tls;
#[cfg(target_os = "linux")]
#[path = "source/zerocopy.rs"]
mod zerocopy;

pub use config::ServeConfig;
pub use error::OriginError;
pub use live::{LivePlaylists, LivePublisher, LiveSource};
pub use policy::RouteKind;
pub use router::{router, router_with_source};
pub use server::{serve, Server};
pub use source::{FsSource, Object, ObjectBody, ObjectMeta, ObjectSource};
