// SPDX-License-Identifier: MIT OR Apache-2.0
//! H.264 / HEVC elementary streams: one PES payload is one access unit in Annex B form
//! (ISO/IEC 13818-1 §2.14 and §2.17; ISO/IEC 14496-10 Annex B; ITU-T H.265 Annex B).
//! Converted to the canonical form: 4-byte length-prefixed NAL units without AUDs.

use bytes::Bytes;

use crate::codec::{self, nal};
use crate::sample::CodecConfig;

/// What a video track needs once its parameter sets are known.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct VideoConfig {
    pub config: CodecConfig,
    pub width: u32,
    pub height: u32,
    /// Frame duration in 90 kHz ticks, from the SPS VUI timing if present.
    pub frame_duration: Option<u32>,
}

/// One converted access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AccessUnit {
    pub data: Vec<u8>,
    /// Contains an IDR (H.264 nal_unit_type 5) or IRAP (HEVC 16..=23) picture.
    pub keyframe: bool,
}

#[derive(Debug, Clone)]
pub(super) struct VideoEs {
    hevc: bool,
    pid: u16,
    vps: Option<Bytes>,
    sps: Option<(Bytes, u32, u32, Option<f64>)>,
    pps: Option<Bytes>,
    config: Option<VideoConfig>,
    sps_error_warned: bool,
}

impl VideoEs {
    pub(super) fn new(hevc: bool, pid: u16) -> Self {
        VideoEs {
            hevc,
            pid,
            vps: None,
            sps: None,
            pps: None,
            config: None,
            sps_error_warned: false,
        }
    }

    /// Known once the first SPS + PPS (+ VPS for HEVC) were seen. The parameter sets stay
    /// in-band in the samples too (`in_band: true`).
    pub(super) fn config(&self) -> Option<&VideoConfig> {
        self.config.as_ref()
    }

    /// Converts one PES payload (Annex B) to length-prefixed NAL units; AUDs are dropped.
    pub(super) fn access_unit(&mut self, payload: &[u8]) -> AccessUnit {
        let mut au = AccessUnit {
            data: Vec::with_capacity(payload.len() + 16),
            keyframe: false,
        };
        for unit in nal::annexb_nals(payload) {
            if self.hevc {
                self.hevc_nal(unit, &mut au);
            } else {
                self.h264_nal(unit, &mut au);
            }
        }
        if self.config.is_none() {
            self.try_config();
        }
        au
    }

    fn h264_nal(&mut self, unit: &[u8], au: &mut AccessUnit) {
        let Some(t) = nal::h264_nal_type(unit) else {
            return;
        };
        match t {
            nal::h264::NAL_AUD => return,
            nal::h264::NAL_IDR => au.keyframe = true,
            nal::h264::NAL_SPS if self.sps.is_none() => {
                let sps = codec::h264::parse_sps(unit).map(|i| (i.width, i.height, i.frame_rate));
                self.keep_sps(unit, sps);
            }
            nal::h264::NAL_PPS if self.pps.is_none() => {
                self.pps = Some(Bytes::copy_from_slice(unit));
            }
            _ => {}
        }
        nal::write_length_prefixed(unit, &mut au.data);
    }

    fn hevc_nal(&mut self, unit: &[u8], au: &mut AccessUnit) {
        let Some(t) = nal::h265_nal_type(unit) else {
            return;
        };
        match t {
            nal::h265::NAL_AUD => return,
            t if nal::h265_is_irap(t) => au.keyframe = true,
            nal::h265::NAL_VPS if self.vps.is_none() => {
                self.vps = Some(Bytes::copy_from_slice(unit));
            }
            nal::h265::NAL_SPS if self.sps.is_none() => {
                let sps = codec::h265::parse_sps(unit).map(|i| (i.width, i.height, i.frame_rate));
                self.keep_sps(unit, sps);
            }
            nal::h265::NAL_PPS if self.pps.is_none() => {
                self.pps = Some(Bytes::copy_from_slice(unit));
            }
            _ => {}
        }
        nal::write_length_prefixed(unit, &mut au.data);
    }

    /// Keeps the first readable SPS with what was read of it (width, height, frame rate).
    fn keep_sps(&mut self, unit: &[u8], read: Result<(u32, u32, Option<f64>), String>) {
        match read {
            Ok((width, height, fps)) => {
                self.sps = Some((Bytes::copy_from_slice(unit), width, height, fps));
            }
            Err(e) => self.warn_sps(&e),
        }
    }

    fn warn_sps(&mut self, error: &str) {
        if !self.sps_error_warned {
            self.sps_error_warned = true;
            tracing::warn!(
                pid = self.pid,
                "MPEG-TS: unreadable SPS ({error}); waiting for another"
            );
        }
    }

    fn try_config(&mut self) {
        let (Some((sps, width, height, fps)), Some(pps)) = (&self.sps, &self.pps) else {
            return;
        };
        let config = if self.hevc {
            let Some(vps) = &self.vps else {
                return;
            };
            CodecConfig::Hevc {
                vps: vec![vps.clone()],
                sps: vec![sps.clone()],
                pps: vec![pps.clone()],
                in_band: true,
            }
        } else {
            CodecConfig::Avc {
                sps: vec![sps.clone()],
                pps: vec![pps.clone()],
                in_band: true,
            }
        };
        let frame_duration = fps
            .filter(|f| f.is_finite() && *f >= 1.0 && *f <= 1000.0)
            .map(|f| (f64::from(super::PTS_HZ) / f).round() as u32);
        self.config = Some(VideoConfig {
            config,
            width: *width,
            height: *height,
            frame_duration,
        });
    }
}
