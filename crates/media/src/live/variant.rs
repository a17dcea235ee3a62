// SPDX-License-Identifier: MIT OR Apache-2.0
//! This rendition as a variant of the multivariant playlist: EXT-X-STREAM-INF and
//! EXT-X-I-FRAME-STREAM-INF, measured on the segments as they complete ([`super::bitrate`]),
//! and `master.m3u8` rewritten when they change.

use bytes::Bytes;

use super::bitrate::{revise, Meter};
use super::{LiveStream, Output};
use crate::playlist::{IFrameVariant, MasterPlaylist, Variant};
use crate::sample::TrackKind;

impl LiveStream {
    /// Measures a finished segment of `size` bytes lasting `duration` seconds, whose opening
    /// keyframe (its I-frame entry) is `key_len` bytes, and puts `master.m3u8` (when this
    /// stream writes it) if the variant changed: the first segment of a track set, the first
    /// keyframe range, or a bit rate out of tolerance (Apple 1.26, 9.13–9.15).
    pub(super) fn measure_segment(
        &mut self,
        size: u64,
        key_len: Option<u64>,
        duration: f64,
        main_frames: u64,
        out: &mut Vec<Output>,
    ) {
        let fresh = !self.master_written;
        if fresh {
            self.meter.restart();
            self.i_meter.restart();
        }
        // RFC 8216bis 4.4.6.2: the peak is over sets of segments lasting 0.5–1.5 times
        // EXT-X-TARGETDURATION (the media and I-frame playlists have the same).
        let target = self.target as f64;
        self.meter.add(size, duration, target);
        if let Some(len) = key_len {
            self.i_meter.add(len, duration, target);
        }
        let mut changed = fresh;
        if fresh {
            self.variant = Some(self.measure_variant(duration, main_frames));
            self.i_frame_variant = None;
        } else if self.config.bandwidth.is_none() {
            if let Some(v) = self.variant.as_mut() {
                changed |= apply(&mut v.bandwidth, &mut v.average_bandwidth, &self.meter);
            }
        }
        match self.i_frame_variant.as_mut() {
            Some(v) => changed |= apply(&mut v.bandwidth, &mut v.average_bandwidth, &self.i_meter),
            None if !self.i_meter.is_empty() => {
                self.i_frame_variant = Some(self.measure_i_frames());
                changed = true;
            }
            None => {}
        }
        self.master_written = true;
        if changed {
            tracing::debug!(
                rendition = %self.config.rendition,
                variant = ?self.variant,
                i_frames = ?self.i_frame_variant,
                "variant measured"
            );
            if self.config.write_master {
                self.put_master(out);
            }
        }
    }

    fn put_master(&self, out: &mut Vec<Output>) {
        let variants: Vec<Variant> = self.variant.iter().cloned().collect();
        let master = MasterPlaylist {
            independent_segments: master_independent(&variants),
            renditions: vec![],
            variants,
        };
        let i_frames: Vec<_> = self.i_frame_variant.iter().cloned().collect();
        // The IO layer writes it atomically (Output::Put).
        out.push(Output::Put {
            name: "master.m3u8".into(),
            bytes: Bytes::from(master.with_i_frames(&i_frames)),
        });
    }

    /// This rendition's EXT-X-I-FRAME-STREAM-INF (Apple 6.1, 9.1–9.4: CODECS of the video
    /// only, RESOLUTION), BANDWIDTH from the I-frame entries measured so far.
    fn measure_i_frames(&self) -> IFrameVariant {
        let video = self
            .tracks
            .iter()
            .position(|t| t.kind() == TrackKind::Video);
        let (bandwidth, average) = revise(None, &self.i_meter).unwrap_or_default();
        IFrameVariant {
            uri: self.i_frame_playlist_name(),
            bandwidth,
            average_bandwidth: Some(average),
            codecs: video
                .and_then(|i| self.codecs.get(i).cloned())
                .into_iter()
                .collect(),
            resolution: video
                .and_then(|i| self.tracks.get(i))
                .filter(|v| v.width > 0 && v.height > 0)
                .map(|v| (v.width, v.height)),
        }
    }

    /// This rendition's EXT-X-STREAM-INF (Apple 9.1–9.15: CODECS, RESOLUTION, FRAME-RATE,
    /// BANDWIDTH), BANDWIDTH from the segments measured so far (or the configured one),
    /// FRAME-RATE from the last one, of `duration` seconds and `main_frames` frames.
    fn measure_variant(&self, duration: f64, main_frames: u64) -> Variant {
        let (bandwidth, average) = match self.config.bandwidth {
            Some(b) => (b, b),
            None => revise(None, &self.meter).unwrap_or_default(),
        };
        let video = self.tracks.iter().find(|t| t.kind() == TrackKind::Video);
        Variant {
            uri: self.playlist_name(),
            bandwidth,
            average_bandwidth: Some(average),
            codecs: self.codecs.clone(),
            resolution: video
                .filter(|v| v.width > 0 && v.height > 0)
                .map(|v| (v.width, v.height)),
            frame_rate: video.and_then(|_| (duration > 0.0).then(|| main_frames as f64 / duration)),
            audio_group: None,
        }
    }
}

/// Revises a declared (BANDWIDTH, AVERAGE-BANDWIDTH) from `meter`; whether it changed.
fn apply(bandwidth: &mut u64, average: &mut Option<u64>, meter: &Meter) -> bool {
    let declared = (*bandwidth, average.unwrap_or(*bandwidth));
    match revise(Some(declared), meter) {
        Some((b, a)) => {
            *bandwidth = b;
            *average = Some(a);
            true
        }
        None => false,
    }
}

/// EXT-X-INDEPENDENT-SEGMENTS in a live master applies to every media playlist (RFC 8216bis
/// 4.4.2.1). An HEVC rendition may cut on a CRA with RASL pictures (see `super::cut`) before it
/// learns better, so with HEVC the media playlists declare it themselves, segment by segment.
pub(super) fn master_independent(variants: &[Variant]) -> bool {
    !variants
        .iter()
        .flat_map(|v| &v.codecs)
        .any(|c| c.starts_with("hvc1") || c.starts_with("hev1"))
}
