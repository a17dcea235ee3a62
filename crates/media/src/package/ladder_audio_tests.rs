// SPDX-License-Identifier: MIT OR Apache-2.0
use super::*;
use crate::package::PackageSummary;
use crate::sample::CodecConfig;

pub(crate) fn candidate(
    file: usize,
    track: usize,
    fingerprint: Option<u64>,
) -> AudioCandidate<usize> {
    AudioCandidate {
        file,
        track,
        info: TrackInfo {
            id: track as u32 + 1,
            config: CodecConfig::Mp3,
            timescale: 48_000,
            width: 0,
            height: 0,
            sample_rate: 48_000,
            channels: 6,
            language: Some("fre".into()),
            duration: None,
        },
        fingerprint,
        spec: None,
    }
}

/// Identical audio (same fingerprint) is kept once, in first-seen order, from the smallest
/// file; tracks without a fingerprint (`--audio` files) are all kept.
#[test]
fn distinct_audio_keeps_one_per_fingerprint_from_the_smallest_file() {
    let sizes = [300u64, 100, 200];
    // (given (file, track, fingerprint)…, kept (file, track)…, identical pairs reported)
    type Case<'a> = (
        &'a [(usize, usize, Option<u64>)],
        &'a [(usize, usize)],
        usize,
    );
    let cases: &[Case] = &[
        (
            &[(0, 1, Some(7)), (1, 1, Some(7)), (2, 1, Some(7))],
            &[(1, 1)],
            2,
        ),
        (
            &[(0, 1, Some(7)), (0, 2, Some(8)), (1, 2, Some(8))],
            &[(0, 1), (1, 2)],
            1,
        ),
        (&[(0, 1, None), (1, 1, None)], &[(0, 1), (1, 1)], 0),
        (
            &[(2, 1, Some(7)), (0, 1, Some(7)), (2, 3, None)],
            &[(2, 1), (2, 3)],
            1,
        ),
    ];
    for (given, want, pairs) in cases {
        let given = given
            .iter()
            .map(|&(f, t, fp)| candidate(f, t, fp))
            .collect();
        let mut seen = 0;
        let kept = distinct_audio(given, |f| sizes[*f], |_, _| seen += 1);
        let got: Vec<(usize, usize)> = kept.iter().map(|c| (c.file, c.track)).collect();
        assert_eq!(&got, want);
        assert_eq!(seen, *pairs);
    }
}

#[test]
fn audio_out_takes_the_descriptor_then_the_track() {
    let rendered = Rendered {
        summary: PackageSummary {
            segments: 0,
            duration: 0.0,
            target_duration: 0,
            average_bandwidth: 0,
            peak_bandwidth: 0,
            bytes: 0,
            codecs: vec![],
            resolution: None,
            frame_rate: None,
            long_segments: vec![],
            i_frames: 0,
        },
        media_uri: "audio_0.m3u8".into(),
        i_frames: None,
        independent_segments: true,
        segment_starts: vec![],
        segment_durations: vec![],
        first_pts: None,
    };
    let out = candidate(0, 0, None).audio_out(rendered.clone());
    assert_eq!(out.family, "MP3");
    assert_eq!(out.language.as_deref(), Some("fr"));
    assert_eq!((out.name, out.default, out.channels), (None, false, 6));
    let mut c = candidate(0, 0, None);
    c.spec = Some(RenditionSpec {
        lang: Some("de".into()),
        name: Some("Deutsch".into()),
        default: true,
        forced: false,
    });
    let out = c.audio_out(rendered);
    assert_eq!(out.language.as_deref(), Some("de"));
    assert_eq!((out.name.as_deref(), out.default), (Some("Deutsch"), true));
}

/// Only the audio tracks become candidates, with their index in the file, fingerprint and spec.
#[test]
fn of_tracks_takes_the_audio_tracks() {
    let audio = candidate(0, 0, None).info;
    let mut video = audio.clone();
    video.config = CodecConfig::Avc {
        sps: vec![],
        pps: vec![],
        in_band: false,
    };
    let tracks = [video, audio.clone(), audio];
    let spec = RenditionSpec {
        name: Some("Commentary".into()),
        ..RenditionSpec::default()
    };
    let found = AudioCandidate::of_tracks(&"a.mp4", &tracks, |t| Some(t as u64 * 10), Some(&spec));
    let got: Vec<_> = found
        .iter()
        .map(|c| (c.file, c.track, c.fingerprint))
        .collect();
    assert_eq!(got, [("a.mp4", 1, Some(10)), ("a.mp4", 2, Some(20))]);
    assert!(found.iter().all(|c| c.spec.as_ref() == Some(&spec)));
    assert!(AudioCandidate::of_tracks(&0, &tracks[..1], |_| None, None).is_empty());
}
