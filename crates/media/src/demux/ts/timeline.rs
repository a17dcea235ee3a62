// SPDX-License-Identifier: MIT OR Apache-2.0
//! Timestamps: 33-bit PTS/DTS of the 90 kHz MPEG system clock (ISO/IEC 13818-1 §2.4.3.7),
//! unwrapped and rescaled to a track's timescale by the rules of [`crate::demux::clock`].

pub(super) use crate::demux::clock::rescale;

/// MPEG system clock for PTS/DTS.
pub(super) const PTS_HZ: u32 = 90_000;

/// PTS/DTS unwrapping: modulo 2^33 (about 26.5 hours).
pub(super) type Unwrapper = crate::demux::clock::Unwrapper<33>;
