// SPDX-License-Identifier: MIT OR Apache-2.0
//! The RTMP edge protocol, sans IO: one publisher connection turns the bytes it receives into
//! bytes to send back, publish/unpublish and the audio/video/data messages of the stream
//! ([`Conn`]). Sockets, the hub and the driver are the binary's (`src/ingest/rtmp`); the FLV
//! tag bodies go to `media::demux::flv`. A crate of its own so the fuzz target drives the
//! same code as the server.

mod conn;
mod guard;

pub use conn::{Action, ClaimFn, Conn};
pub use guard::in_protocol_library;
