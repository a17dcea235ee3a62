// SPDX-License-Identifier: MIT OR Apache-2.0
//! Tests: hand-built byte fixtures (always run) and ffmpeg-made files checked against
//! ffprobe (skipped when ffmpeg is not installed).

mod build;
mod ffmpeg;
mod synthetic;
