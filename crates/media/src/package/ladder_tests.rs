// SPDX-License-Identifier: MIT OR Apache-2.0
use bytes::Bytes;

use super::*;
use crate::package::PackageSummary;
use crate::sample::CodecConfig;

pub(crate) fn rendered(uri: &str, codecs: &[&str], peak: u64, average: u64) -> Rendered {
    Rendered {
        summary: PackageSummary {
            segments: 1,
            duration: 1.0,
            target_duration: 1,
            average_bandwidth: average,
            peak_bandwidth: peak,
            bytes: 0,
            codecs: codecs.iter().map(|c| (*c).to_owned()).collect(),
            resolution: None,
            frame_rate: None,
            long_segments: vec![],
            i_frames: 0,
        },
        media_uri: uri.into(),
        i_frames: None,
        independent_segments: true,
        segment_starts: vec![0.0],
        segment_durations: vec![1.0],
        first_pts: Some(0.0),
    }
}

fn audio(uri: &str, family: &'static str, codec: &str, peak: u64, lang: &str) -> AudioOut {
    AudioOut {
        rendered: rendered(uri, &[codec], peak, peak / 2),
        family,
        name: None,
        language: language_tag(lang),
        default: false,
        channels: 2,
    }
}

/// Two video variants, AAC in two languages and AC-3 in one: every variant once per group,
/// BANDWIDTH = video + the group's largest rendition, ordered by BANDWIDTH; names unique.
#[test]
fn master_lists_each_variant_once_per_audio_group() {
    let videos = [
        rendered("video_0.m3u8", &["avc1.640028"], 5_000_000, 4_000_000),
        rendered("video_1.m3u8", &["avc1.64001e"], 1_000_000, 800_000),
    ];
    let audios = [
        audio("audio_0.m3u8", "AAC", "mp4a.40.2", 130_000, "eng"),
        audio("audio_1.m3u8", "AAC", "mp4a.40.2", 140_000, "eng"),
        audio("audio_2.m3u8", "AC-3", "ac-3", 390_000, "fra"),
    ];
    let m = master(&videos, &audios, &[]);
    let rows: Vec<(&str, u64, u64, String, Option<&str>)> = m
        .variants
        .iter()
        .map(|v| {
            (
                v.uri.as_str(),
                v.bandwidth,
                v.average_bandwidth,
                v.codecs.join(","),
                v.audio_group.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "video_1.m3u8",
                1_140_000,
                870_000,
                "avc1.64001e,mp4a.40.2".into(),
                Some("audio-aac")
            ),
            (
                "video_1.m3u8",
                1_390_000,
                995_000,
                "avc1.64001e,ac-3".into(),
                Some("audio-ac3")
            ),
            (
                "video_0.m3u8",
                5_140_000,
                4_070_000,
                "avc1.640028,mp4a.40.2".into(),
                Some("audio-aac")
            ),
            (
                "video_0.m3u8",
                5_390_000,
                4_195_000,
                "avc1.640028,ac-3".into(),
                Some("audio-ac3")
            ),
        ]
    );
    let media: Vec<(&str, &str, bool, Option<&str>)> = m
        .media
        .iter()
        .map(|e| {
            (
                e.group_id.as_str(),
                e.name.as_str(),
                e.default,
                e.language.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        media,
        vec![
            ("audio-aac", "English", true, Some("en")),
            ("audio-aac", "English 2", false, Some("en")),
            ("audio-ac3", "French", true, Some("fr")),
        ]
    );
}

#[test]
fn language_tags() {
    let cases = [
        ("eng", Some("en")),
        ("FRA", Some("fr")),
        ("und", None),
        ("", None),
        ("pt-BR", Some("pt-BR")),
        ("tlh", Some("tlh")),
    ];
    for (input, want) in cases {
        assert_eq!(language_tag(input).as_deref(), want, "{input}");
    }
    assert_eq!(language_name("en"), "English");
    assert_eq!(language_name("pt-BR"), "Portuguese");
    assert_eq!(language_name("tlh"), "tlh");
}

#[test]
fn misalignment_finds_the_first_difference() {
    assert_eq!(misalignment(&[0.0, 6.0, 12.0], &[0.0, 6.0, 12.0]), None);
    assert_eq!(
        misalignment(&[0.0, 6.0, 12.0], &[0.0, 6.5, 12.0]),
        Some((1, 6.0, 6.5))
    );
    let (i, a, b) = misalignment(&[0.0, 6.0], &[0.0]).expect("missing segment");
    assert_eq!((i, a), (1, 6.0));
    assert!(b.is_nan());
}

struct Fake {
    tracks: Vec<TrackInfo>,
    samples: std::vec::IntoIter<Sample>,
}

impl Demuxer for Fake {
    fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }
    fn next_sample(&mut self) -> Result<Option<Sample>> {
        Ok(self.samples.next())
    }
}

fn track(config: CodecConfig) -> TrackInfo {
    TrackInfo {
        id: 1,
        config,
        timescale: 1000,
        width: 0,
        height: 0,
        sample_rate: 48_000,
        channels: 2,
        language: None,
        duration: None,
    }
}

fn fake(audio_bytes: &'static [u8]) -> Fake {
    let s = |track: usize, dts: i64, data: &'static [u8]| Sample {
        track,
        dts,
        cts_offset: 0,
        duration: 10,
        keyframe: true,
        data: Bytes::from_static(data),
    };
    Fake {
        tracks: vec![
            track(CodecConfig::Avc {
                sps: vec![],
                pps: vec![],
                in_band: false,
            }),
            track(CodecConfig::Aac {
                asc: Bytes::from_static(&[0x11, 0x90]),
            }),
        ],
        samples: vec![s(0, 0, b"v0"), s(1, 0, audio_bytes), s(0, 10, b"v1")].into_iter(),
    }
}

/// Select renumbers the kept track, drops the other, and fingerprints dropped audio: equal
/// audio gives equal fingerprints, one changed byte another.
#[test]
fn select_keeps_and_fingerprints() {
    let mut a = fake(b"same");
    let mut sel = Select::new(&mut a, &[0]);
    assert_eq!(sel.tracks().len(), 1);
    let mut got = Vec::new();
    while let Some(s) = sel.next_sample().expect("sample") {
        got.push((s.track, s.dts));
    }
    assert_eq!(got, vec![(0, 0), (0, 10)]);
    let fp_a = sel.fingerprint(1).expect("audio fingerprinted");
    assert_eq!(sel.fingerprint(0), None, "kept video is not");

    let mut b = fake(b"same");
    let mut sel_b = Select::new(&mut b, &[0]);
    while sel_b.next_sample().expect("sample").is_some() {}
    assert_eq!(sel_b.fingerprint(1), Some(fp_a));

    let mut c = fake(b"diff");
    let mut sel_c = Select::new(&mut c, &[0]);
    while sel_c.next_sample().expect("sample").is_some() {}
    assert_ne!(sel_c.fingerprint(1), Some(fp_a));

    let mut d = fake(b"x");
    let mut audio_only = Select::new(&mut d, &[1]);
    assert_eq!(
        audio_only.next_sample().expect("s").map(|s| s.track),
        Some(0)
    );
}
