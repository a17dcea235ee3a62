// SPDX-License-Identifier: MIT OR Apache-2.0
//! Errors that stop validation before there is anything to judge (the entry playlist cannot be
//! read at all). Everything found in a stream that can be read is a [`crate::Finding`].

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {uri}: {msg}")]
    Fetch { uri: String, msg: String },
    #[error("{uri} is not a playlist: {msg}")]
    NotPlaylist { uri: String, msg: String },
}
