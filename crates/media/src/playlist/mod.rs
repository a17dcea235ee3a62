// SPDX-License-Identifier: MIT OR Apache-2.0
//! Playlist model and writer (RFC 8216bis §4). One tag family per file.
