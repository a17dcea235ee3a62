// SPDX-License-Identifier: MIT OR Apache-2.0
//! I-frame playlists (RFC 8216bis 4.4.3.6, Apple 6.1): every entry is one I-frame — its byte
//! range (behind EXT-X-MAP: the init segment, or the PAT/PMT for TS) must decode to a video
//! keyframe — and its EXTINF is the time to the next I-frame. Measures the peak and average
//! bit rate of the ranges for EXT-X-I-FRAME-STREAM-INF.

use std::collections::HashMap;

use media::TrackKind;

use crate::demux::demux;
use crate::fetch::Fetcher;
use crate::media::{fetch_ok, InitKey, Measured};
use crate::playlist::{MediaPlaylist, Segment};
use crate::report::{Location, Report};

const S_IFRAMES: &str = "RFC 8216bis 4.4.3.6";

/// Checks every entry of I-frame playlist `pl`.
pub fn check_iframes(f: &Fetcher, pl: &MediaPlaylist, report: &mut Report) -> Measured {
    let mut m = Measured {
        target: pl.target.map(|t| t as f64),
        ..Measured::default()
    };
    let mut inits: HashMap<InitKey, Option<Vec<u8>>> = HashMap::new();
    // (msn, presentation time in s, EXTINF, EXTINF line) of the previous entry.
    let mut prev: Option<(u64, f64, f64, usize)> = None;
    let mut keys = crate::key::Keys::default();
    // SAMPLE-AES entries are not checked (their samples are encrypted); AES-128 ones are
    // decrypted, each range on its own: an I-frame entry is a media segment, and CBC restarts
    // on each segment boundary (RFC 8216 5.2).
    let checked = |s: &&Segment| !s.gap && s.key.as_ref().is_none_or(|k| k.method == "AES-128");
    for seg in pl.segments.iter().filter(checked) {
        if seg.range.is_none() {
            report.should(
                S_IFRAMES,
                &pl.uri,
                Location::Line(seg.line),
                "I-frame entry without EXT-X-BYTERANGE: the whole resource is one I-frame",
            );
        }
        let init = seg.map.as_ref().and_then(|map| {
            let key = (map.uri.clone(), map.range.map(|r| (r.offset, r.len)));
            inits
                .entry(key.clone())
                .or_insert_with(|| fetch_ok(f, &map.uri, key.1, report).map(|g| g.body))
                .clone()
        });
        let range = seg.range.map(|r| (r.offset, r.len));
        let bytes = fetch_ok(f, &seg.uri, range, report).map(|g| g.body);
        let fetched = bytes.as_ref().map_or(0, Vec::len);
        let bytes = match (&seg.key, bytes) {
            (Some(k), Some(b)) => keys.get(f, k, report).and_then(|key| {
                crate::key::decrypt(&b, &key, &crate::key::iv(k, seg.msn))
                    .map_err(|e| {
                        let msg = format!("AES-128 I-frame entry cannot be decrypted: {e}");
                        report.must(
                            "RFC 8216bis 4.4.4.4",
                            &pl.uri,
                            Location::Line(seg.line),
                            msg,
                        );
                    })
                    .ok()
            }),
            (_, b) => b,
        };
        let Some((pts, frame)) =
            bytes.and_then(|b| entry(seg, (&b, fetched), init.as_deref(), &mut m, report))
        else {
            prev = None;
            continue;
        };
        if let Some((msn, p_pts, p_dur, p_line)) = prev {
            let real = pts - p_pts;
            // RFC 8216bis 4.4.3.6: an I-frame's duration is the time to the next I-frame.
            if msn.saturating_add(1) == seg.msn
                && !seg.discontinuity
                && (real - p_dur).abs() > frame + 0.002
            {
                report.should(
                    S_IFRAMES,
                    &pl.uri,
                    Location::Line(p_line),
                    format!("EXTINF {p_dur:.3} s but the next I-frame comes {real:.3} s later"),
                );
            }
        }
        prev = Some((seg.msn, pts, seg.duration, seg.extinf_line));
    }
    m
}

/// One I-frame entry's bytes (in the clear, and how many were fetched): complete, decodable
/// to a keyframe. Returns its presentation time and the video frame duration, in seconds.
fn entry(
    seg: &Segment,
    (bytes, fetched): (&[u8], usize),
    init: Option<&[u8]>,
    m: &mut Measured,
    report: &mut Report,
) -> Option<(f64, f64)> {
    report.segments += 1;
    let line = seg.line;
    if let Some(r) = seg.range.filter(|r| (fetched as u64) < r.len) {
        let at = Location::Byte(r.offset.saturating_add(fetched as u64));
        report.must("RFC 8216bis 4.4.4.2", &seg.uri, at, format!("I-frame byte range {}@{} (playlist line {line}) reaches past the end of the resource", r.len, r.offset));
        return None;
    }
    m.add_segment(fetched, seg.duration);
    let at = Location::Byte(seg.range.map_or(0, |r| r.offset));
    // An I-frame range ends inside its segment: the demuxers' warnings about the cut are
    // expected here, not news.
    let quiet = tracing::subscriber::NoSubscriber::default();
    let d = match tracing::subscriber::with_default(quiet, || demux(bytes, init, true)) {
        Ok(d) => d,
        Err(e) => {
            report.must(
                S_IFRAMES,
                &seg.uri,
                at,
                format!(
                    "I-frame range (playlist line {line}) cannot be decoded: {}",
                    e.msg
                ),
            );
            return None;
        }
    };
    let video = d
        .tracks
        .iter()
        .zip(&d.times)
        .find(|(i, t)| i.kind() == TrackKind::Video && t.is_some());
    let Some((info, Some(t))) = video else {
        report.must(
            S_IFRAMES,
            &seg.uri,
            at,
            format!("I-frame range (playlist line {line}) holds no video frame"),
        );
        return None;
    };
    if !t.first_keyframe {
        report.must(
            S_IFRAMES,
            &seg.uri,
            at,
            format!("I-frame range (playlist line {line}) does not start with a keyframe"),
        );
    }
    if m.codecs.is_empty() {
        m.codecs = d.codec(info).into_iter().collect();
        m.container = Some(d.container);
        m.has_video = true;
        m.resolution = Some((info.width, info.height));
    }
    Some((
        t.secs(t.min_pts),
        t.secs(i64::from(t.typical_duration)).max(0.001),
    ))
}
