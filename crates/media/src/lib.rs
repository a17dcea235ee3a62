// SPDX-License-Identifier: MIT OR Apache-2.0
//! Sans-IO HLS media pipeline.
//!
//! Data path: demux ([`demux::mp4`], [`demux::ts`]) → cut ([`segmenter`]) → packetize
//! ([`mux::ts`], [`mux::fmp4`]) → playlist ([`playlist`]) → store ([`store::Store`]).
//!
//! No async runtime, no HTTP and no printing here: callers feed bytes (or a `Read + Seek`
//! for random-access containers) and get samples, segments and playlists back.
#![forbid(unsafe_code)]
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod codec;
pub mod crypto;
pub mod demux;
pub mod error;
pub mod live;
pub mod mux;
pub mod package;
pub mod playlist;
pub mod sample;
pub mod segmenter;
pub mod store;
pub mod subtitle;

pub use error::{Error, Result};
pub use sample::{CodecConfig, Sample, TrackInfo, TrackKind};
