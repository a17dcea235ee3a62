// SPDX-License-Identifier: MIT OR Apache-2.0
//! VOD ladders: several renditions of one title packaged side by side.
//!
//! Each rendition is an ordinary [`package_rendition`](super::package_rendition) run over a
//! [`Select`]ed subset of one input's tracks: a video variant keeps the video track only (its
//! audio goes to an `EXT-X-MEDIA TYPE=AUDIO` group, RFC 8216bis 4.4.6.1), an audio rendition one
//! audio track. The renditions after the first are cut at the first one's segment starts, so
//! that an encoder ladder with aligned keyframes gets the same boundaries everywhere (Apple 7.4).
//! [`master`] puts the renditions together into the multivariant playlist.
//!
//! Identical audio in several inputs (an encoder ladder usually carries the same audio in every
//! rendition) is packaged once: [`Select`] fingerprints the tracks it drops (codec
//! configuration, every sample's timestamps, size and bytes).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use super::Rendered;
use crate::playlist::master_vod::{MediaEntry, StreamEntry, VodMaster};
use crate::playlist::IFrameVariant;
use crate::sample::{Demuxer, Sample, TrackInfo, TrackKind};
use crate::Result;

/// A demuxer that yields only some tracks of another (renumbered in the order given), and
/// fingerprints the audio tracks it drops.
pub struct Select<'a> {
    inner: &'a mut dyn Demuxer,
    keep: Vec<usize>,
    tracks: Vec<TrackInfo>,
    hashers: Vec<Option<DefaultHasher>>,
}

impl<'a> Select<'a> {
    /// Keeps tracks `keep` (indices into `inner.tracks()`), in that order.
    pub fn new(inner: &'a mut dyn Demuxer, keep: &[usize]) -> Self {
        let all = inner.tracks();
        let tracks = keep.iter().filter_map(|&i| all.get(i).cloned()).collect();
        let hashers = all
            .iter()
            .enumerate()
            .map(|(i, t)| {
                (t.kind() == TrackKind::Audio && !keep.contains(&i)).then(|| {
                    let mut h = DefaultHasher::new();
                    format!("{:?}", t.config).hash(&mut h);
                    t.timescale.hash(&mut h);
                    h
                })
            })
            .collect();
        Select {
            inner,
            keep: keep.to_vec(),
            tracks,
            hashers,
        }
    }

    /// Fingerprint of dropped audio track `track` (index into the input's tracks) over what
    /// was read so far; the whole track once the input is read to the end.
    pub fn fingerprint(&self, track: usize) -> Option<u64> {
        self.hashers.get(track)?.as_ref().map(|h| h.finish())
    }
}

impl Demuxer for Select<'_> {
    fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }

    fn next_sample(&mut self) -> Result<Option<Sample>> {
        while let Some(mut s) = self.inner.next_sample()? {
            if let Some(pos) = self.keep.iter().position(|&k| k == s.track) {
                s.track = pos;
                return Ok(Some(s));
            }
            if let Some(Some(h)) = self.hashers.get_mut(s.track) {
                (s.dts, s.cts_offset, s.duration).hash(h);
                s.data.hash(h);
            }
        }
        Ok(None)
    }
}

/// ISO 639-2 codes (as MP4 `mdhd` carries them) → the shortest RFC 5646 tag (ISO 639-1, as RFC
/// 8216bis 4.4.6.1 LANGUAGE wants) and an English name for NAME.
const LANGUAGES: &[(&str, &str, &str)] = &[
    ("ara", "ar", "Arabic"),
    ("chi", "zh", "Chinese"),
    ("zho", "zh", "Chinese"),
    ("dan", "da", "Danish"),
    ("dut", "nl", "Dutch"),
    ("nld", "nl", "Dutch"),
    ("eng", "en", "English"),
    ("fin", "fi", "Finnish"),
    ("fra", "fr", "French"),
    ("fre", "fr", "French"),
    ("deu", "de", "German"),
    ("ger", "de", "German"),
    ("gre", "el", "Greek"),
    ("ell", "el", "Greek"),
    ("heb", "he", "Hebrew"),
    ("hin", "hi", "Hindi"),
    ("ita", "it", "Italian"),
    ("jpn", "ja", "Japanese"),
    ("kor", "ko", "Korean"),
    ("nor", "no", "Norwegian"),
    ("pol", "pl", "Polish"),
    ("por", "pt", "Portuguese"),
    ("rus", "ru", "Russian"),
    ("spa", "es", "Spanish"),
    ("swe", "sv", "Swedish"),
    ("tur", "tr", "Turkish"),
    ("ukr", "uk", "Ukrainian"),
];

/// LANGUAGE for a track's or option's language: ISO 639-2 codes become ISO 639-1 where one
/// exists (RFC 5646 2.2.1: the shortest tag); "und" and empty mean none.
pub fn language_tag(lang: &str) -> Option<String> {
    let lang = lang.trim();
    if lang.is_empty() || lang.eq_ignore_ascii_case("und") {
        return None;
    }
    let lower = lang.to_ascii_lowercase();
    Some(
        LANGUAGES
            .iter()
            .find(|(three, _, _)| *three == lower)
            .map_or_else(|| lang.to_owned(), |(_, two, _)| (*two).to_owned()),
    )
}

/// A human NAME for a language tag ("en" → "English"), else the tag itself.
pub fn language_name(tag: &str) -> String {
    let primary = tag.split('-').next().unwrap_or(tag).to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|(three, two, _)| *two == primary || *three == primary)
        .map_or_else(|| tag.to_owned(), |(_, _, name)| (*name).to_owned())
}

/// One audio rendition, packaged.
#[derive(Debug, Clone)]
pub struct AudioOut {
    pub rendered: Rendered,
    /// Codec family (`TrackInfo::config.name()`): one group per family (Apple HLS authoring spec: AAC and
    /// AC-3 in separate groups).
    pub family: &'static str,
    pub name: Option<String>,
    pub language: Option<String>,
    pub default: bool,
    pub channels: u16,
}

/// One subtitle rendition, written.
#[derive(Debug, Clone)]
pub struct SubtitleOut {
    pub uri: String,
    pub name: Option<String>,
    pub language: Option<String>,
    pub default: bool,
    pub forced: bool,
}

/// GROUP-ID of an audio codec family ("AC-3" → "audio-ac3").
fn group_id(family: &str) -> String {
    let clean: String = family
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("audio-{}", clean.to_ascii_lowercase())
}

/// NAMEs unique within a group (RFC 8216bis 4.4.6.1.1: NAME MUST be unique in its group):
/// the second "English" becomes "English 2".
fn unique_name(taken: &mut Vec<String>, wanted: String) -> String {
    let mut name = wanted.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{wanted} {n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

/// An audio group: its GROUP-ID, CODECS, and largest peak and average bit rates.
struct Group {
    id: String,
    codecs: Vec<String>,
    peak: u64,
    average: u64,
}

/// The EXT-X-MEDIA entries of `audio`, one group per codec family in the order the families
/// first appear, and the groups. DEFAULT=YES on the rendition asked for, else the first of each
/// group (RFC 8216bis 4.4.6.1: at most one DEFAULT per group).
fn audio_groups(audio: &[AudioOut]) -> (Vec<MediaEntry>, Vec<Group>) {
    let mut families: Vec<&'static str> = Vec::new();
    for a in audio {
        if !families.contains(&a.family) {
            families.push(a.family);
        }
    }
    let (mut entries, mut groups) = (Vec::new(), Vec::new());
    for family in families {
        let members: Vec<&AudioOut> = audio.iter().filter(|a| a.family == family).collect();
        let default = members.iter().position(|a| a.default).unwrap_or(0);
        let id = group_id(family);
        let mut group = Group {
            id: id.clone(),
            codecs: Vec::new(),
            peak: 0,
            average: 0,
        };
        let mut names = Vec::new();
        for (i, a) in members.iter().enumerate() {
            let s = &a.rendered.summary;
            for c in &s.codecs {
                if !group.codecs.contains(c) {
                    group.codecs.push(c.clone());
                }
            }
            group.peak = group.peak.max(s.peak_bandwidth);
            group.average = group.average.max(s.average_bandwidth);
            let wanted = a.name.clone().unwrap_or_else(|| {
                a.language
                    .as_deref()
                    .map_or_else(|| format!("Audio {}", i + 1), language_name)
            });
            entries.push(MediaEntry {
                media_type: "AUDIO",
                group_id: id.clone(),
                name: unique_name(&mut names, wanted),
                language: a.language.clone(),
                default: i == default,
                autoselect: true,
                forced: None,
                // RFC 8216bis 4.4.6.1 CHANNELS; Apple: MUST on every audio rendition.
                channels: (a.channels > 0).then_some(a.channels),
                uri: Some(a.rendered.media_uri.clone()),
            });
        }
        groups.push(group);
    }
    (entries, groups)
}

fn subtitle_entries(subs: &[SubtitleOut]) -> Vec<MediaEntry> {
    let default = subs.iter().position(|s| s.default);
    let mut names = Vec::new();
    subs.iter()
        .enumerate()
        .map(|(i, s)| {
            let wanted = s.name.clone().unwrap_or_else(|| {
                s.language
                    .as_deref()
                    .map_or_else(|| format!("Subtitles {}", i + 1), language_name)
            });
            MediaEntry {
                media_type: "SUBTITLES",
                group_id: SUBTITLE_GROUP.into(),
                name: unique_name(&mut names, wanted),
                language: s.language.clone(),
                default: default == Some(i),
                // RFC 8216bis 4.4.6.1: AUTOSELECT MUST be YES if DEFAULT is; FORCED needs it.
                autoselect: true,
                forced: Some(s.forced),
                channels: None,
                uri: Some(s.uri.clone()),
            }
        })
        .collect()
}

/// GROUP-ID of the subtitle renditions.
pub const SUBTITLE_GROUP: &str = "subs";

/// The multivariant playlist of a ladder: every video variant once per audio group (Apple:
/// each variant listed with each group), BANDWIDTH and AVERAGE-BANDWIDTH of the video plus the
/// group's largest audio rendition (Apple 9.13–9.15), CODECS of both (Apple 9.1), ordered by
/// BANDWIDTH; one I-frame playlist per video variant.
pub fn master(videos: &[Rendered], audio: &[AudioOut], subs: &[SubtitleOut]) -> VodMaster {
    let (mut media, groups) = audio_groups(audio);
    media.extend(subtitle_entries(subs));
    let subtitles = (!subs.is_empty()).then(|| SUBTITLE_GROUP.to_owned());
    let mut variants = Vec::new();
    for v in videos {
        let s = &v.summary;
        let base = StreamEntry {
            uri: v.media_uri.clone(),
            bandwidth: s.peak_bandwidth,
            average_bandwidth: s.average_bandwidth,
            codecs: s.codecs.clone(),
            resolution: s.resolution,
            frame_rate: s.frame_rate,
            audio_group: None,
            subtitles_group: subtitles.clone(),
        };
        if groups.is_empty() {
            variants.push(base.clone());
        }
        for g in &groups {
            let mut codecs = base.codecs.clone();
            codecs.extend(g.codecs.iter().cloned());
            variants.push(StreamEntry {
                bandwidth: base.bandwidth.saturating_add(g.peak),
                average_bandwidth: base.average_bandwidth.saturating_add(g.average),
                codecs,
                audio_group: Some(g.id.clone()),
                ..base.clone()
            });
        }
    }
    variants.sort_by_key(|v| v.bandwidth);
    let mut i_frames: Vec<IFrameVariant> =
        videos.iter().filter_map(|v| v.i_frames.clone()).collect();
    i_frames.sort_by_key(|v| v.bandwidth);
    VodMaster {
        independent_segments: videos.iter().all(|v| v.independent_segments)
            && audio.iter().all(|a| a.rendered.independent_segments),
        media,
        variants,
        i_frames,
    }
}

/// Where rendition `other`'s segments do not start where `reference`'s do: (segment index,
/// reference start, other start) of the first difference above one millisecond, or of a
/// missing segment (start `NaN`).
pub fn misalignment(reference: &[f64], other: &[f64]) -> Option<(usize, f64, f64)> {
    let n = reference.len().max(other.len());
    (0..n).find_map(|i| {
        let a = reference.get(i).copied().unwrap_or(f64::NAN);
        let b = other.get(i).copied().unwrap_or(f64::NAN);
        ((a - b).abs() > 0.001 || a.is_nan() || b.is_nan()).then_some((i, a, b))
    })
}

#[cfg(test)]
#[path = "ladder_tests.rs"]
pub(super) mod tests;
