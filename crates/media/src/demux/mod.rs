// SPDX-License-Identifier: MIT OR Apache-2.0
//! Container demuxers. Each yields [`crate::sample::TrackInfo`]s and a stream of
//! [`crate::sample::Sample`]s in the canonical forms described in [`crate::sample`].

mod clock;
pub mod flv;
pub mod mp4;
pub mod ts;
