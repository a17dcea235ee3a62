// SPDX-License-Identifier: MIT OR Apache-2.0
//! The playlists of a packaged rendition, written once every segment is: media playlist,
//! I-frame playlist (Apple 6.1), and the master of a single rendition (Apple 9.1–9.15).

use super::render::{put, Mux, Writer};
use super::{CutStats, PackageOptions, PackageSummary, Plan, Rendered, StreamStore};
use crate::playlist::master::measure_bandwidth;
use crate::playlist::media::Map;
use crate::playlist::{ByteRange, IFrameVariant, MasterPlaylist, MediaPlaylist, Variant};
use crate::sample::TrackInfo;
use crate::Result;

/// Writes the media, I-frame and master playlists once every segment is written.
pub(super) fn write_playlists(
    mut writer: Writer<'_>,
    plan: &Plan,
    cut: &CutStats,
    opts: &PackageOptions,
) -> Result<Rendered> {
    let playlist = &mut writer.playlist;
    playlist.target_duration = MediaPlaylist::target_for(&playlist.segments);
    let duration = playlist.duration();
    let bytes: u64 = playlist.segments.iter().map(|s| s.size).sum();
    let (peak_bandwidth, average_bandwidth) =
        measure_bandwidth(playlist.segments.iter().map(|s| (s.size, s.duration)));
    let long_segments: Vec<(u64, f64)> = playlist
        .segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.duration > opts.segment_duration + 0.5)
        .map(|(i, s)| (i as u64, s.duration))
        .collect();
    for (i, d) in &long_segments {
        tracing::warn!(
            segment = i,
            duration = d,
            "segment exceeds the wanted duration by more than 0.5 s because of the input's GOP (Apple 7.7)"
        );
    }
    let video = plan.video();
    let frame_rate =
        video.and_then(|_| (duration > 0.0).then(|| cut.main_frames as f64 / duration));
    let resolution = video.map(|v| (v.width, v.height));
    let media_name = format!("{}.m3u8", opts.rendition);
    let mut text = playlist.to_string();
    if let Some((aes, _)) = &writer.aes {
        text = aes.media_playlist(&text);
    }
    if let Some(s) = &writer.sample_aes {
        text = s.media_playlist(&text);
    }
    if let Some(c) = &writer.cbcs {
        text = c.media_playlist(&text);
    }
    put(writer.store, &media_name, text.as_bytes())?;

    let i_frames = match video {
        Some(v) => Some(write_i_frames(&mut writer, plan, v, cut, opts)?),
        None => None,
    };
    let summary = PackageSummary {
        segments: writer.playlist.segments.len(),
        duration,
        target_duration: writer.playlist.target_duration,
        average_bandwidth,
        peak_bandwidth,
        bytes,
        codecs: plan.codecs.clone(),
        resolution,
        frame_rate,
        long_segments,
        i_frames: writer.iframes.entries.len(),
    };
    let timescale = plan
        .tracks
        .get(plan.video_index.unwrap_or(0))
        .map_or(1.0, |t| f64::from(t.timescale.max(1)));
    Ok(Rendered {
        summary,
        media_uri: media_name,
        i_frames,
        independent_segments: writer.playlist.independent_segments,
        segment_starts: cut.starts.clone(),
        segment_durations: writer
            .playlist
            .segments
            .iter()
            .map(|s| s.duration)
            .collect(),
        first_pts: cut.main_first_pts.map(|p| p as f64 / timescale),
    })
}

/// Writes the master playlist of a single (muxed) rendition, with `session_keys`
/// (EXT-X-SESSION-KEY lines) for encrypted output.
pub(super) fn write_master(
    store: &mut dyn StreamStore,
    r: &Rendered,
    session_keys: &[String],
) -> Result<()> {
    let s = &r.summary;
    // Apple 9.1–9.15: CODECS, RESOLUTION, FRAME-RATE, measured BANDWIDTH and AVERAGE-BANDWIDTH.
    let master = MasterPlaylist {
        independent_segments: r.independent_segments,
        renditions: vec![],
        variants: vec![Variant {
            uri: r.media_uri.clone(),
            bandwidth: s.peak_bandwidth,
            average_bandwidth: Some(s.average_bandwidth),
            codecs: s.codecs.clone(),
            resolution: s.resolution,
            frame_rate: s.frame_rate,
            audio_group: None,
        }],
    };
    let i_frames: Vec<IFrameVariant> = r.i_frames.iter().cloned().collect();
    let text = crate::crypto::playlist::insert_session_keys(
        &master.with_i_frames(&i_frames),
        session_keys,
    );
    put(store, "master.m3u8", text.as_bytes())
}

/// Writes the I-frame playlist of video track `v`; returns its EXT-X-I-FRAME-STREAM-INF.
fn write_i_frames(
    writer: &mut Writer<'_>,
    plan: &Plan,
    v: &TrackInfo,
    cut: &CutStats,
    opts: &PackageOptions,
) -> Result<IFrameVariant> {
    let iframes = &mut writer.iframes;
    iframes.finish(v.timescale, cut.main_end_pts.unwrap_or(0));
    iframes.map = match &writer.muxer {
        Mux::Fmp4(_) => writer.playlist.map.clone(),
        // RFC 8216bis §4.4.3.6: an entry without PAT/PMT needs them from EXT-X-MAP; every
        // segment starts with the same two tables.
        Mux::Ts(m) => writer
            .first_segment
            .clone()
            .filter(|_| writer.ts_needs_map)
            .map(|(uri, offset)| Map {
                uri,
                byterange: Some(ByteRange {
                    length: m.psi_len(),
                    offset,
                }),
            }),
    };
    // EXTINF rounded ≤ TARGETDURATION (RFC 8216bis 4.4.3.1); a keyframe interval never
    // exceeds its segment, but the I-frame EXTINFs are rounded to the millisecond.
    let entries = iframes.as_segments();
    iframes.target_duration = writer
        .playlist
        .target_duration
        .max(MediaPlaylist::target_for(&entries));
    let name = format!("{}_iframes.m3u8", opts.rendition);
    let mut text = iframes.to_string();
    if let Some((aes, _)) = &writer.aes {
        text = aes.iframe_playlist(&text);
    }
    if let Some(s) = &writer.sample_aes {
        text = s.iframe_playlist(&text);
    }
    if let Some(c) = &writer.cbcs {
        text = c.iframe_playlist(&text);
    }
    put(writer.store, &name, text.as_bytes())?;
    // Apple 9.13–9.15 for I-frame streams: peak and average over the I-frame byte ranges.
    let (peak, average) = measure_bandwidth(entries.iter().map(|e| (e.size, e.duration)));
    Ok(IFrameVariant {
        uri: name,
        bandwidth: peak,
        average_bandwidth: Some(average),
        codecs: plan
            .video_index
            .and_then(|vi| plan.codecs.get(vi))
            .cloned()
            .into_iter()
            .collect(),
        resolution: Some((v.width, v.height)),
    })
}
