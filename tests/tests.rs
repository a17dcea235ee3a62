// SPDX-License-Identifier: MIT OR Apache-2.0
//! The one integration-test binary: real inputs generated with ffmpeg, output checked by ffprobe/ffmpeg
//! and played by headless Chromium (hls.js and native HLS).

mod common;
mod suite;
