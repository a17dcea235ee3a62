// SPDX-License-Identifier: MIT OR Apache-2.0
//! Errors that stop the server from starting or running.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why [`crate::serve`] could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// The root directory does not exist or is not a directory.
    #[error("cannot serve root {}: {source}", path.display())]
    Root { path: PathBuf, source: io::Error },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    /// A configuration value is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// Any other I/O failure of the listening socket.
    #[error(transparent)]
    Io(#[from] io::Error),
}
