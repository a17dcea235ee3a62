// SPDX-License-Identifier: MIT OR Apache-2.0
//! Object storage (S3-compatible) as the packager's output: `package INPUT -o
//! s3://BUCKET/PREFIX`.
//!
//! The write side lives here, in the binary: [`sink::ObjectSink`] is the object-store
//! implementation of the media crate's `Store`/`StreamStore` traits (the filesystem one is
//! [`crate::fs_store::FsStore`]; the media crate stays sans-IO), [`runs`] keeps track of
//! packaging runs and deletes superseded ones after their grace, [`vod`] runs one package.
//! The read side is the origin's `origin::StoreSource` (`serve s3://…`), which also holds
//! the URL parsing and the S3 client setup both sides share.
//!
//! Layout under `PREFIX`: `master.m3u8` (the one fixed entry point, naming `RUN/…`),
//! `RUN/stream.m3u8`, `RUN/stream_iframes.m3u8`, `RUN/stream_RUN_000000.m4s`, … (a ladder:
//! `RUN/video_0.m3u8`, `RUN/audio_0.m3u8`, …; with `--encrypt` and no `--key-uri`,
//! `RUN/key_<n>.bin`), and `.hlsorigin/runs/RUN` markers.

pub mod live;
pub mod runs;
pub mod serve;
pub mod sink;
pub mod uploader;
pub mod vod;
