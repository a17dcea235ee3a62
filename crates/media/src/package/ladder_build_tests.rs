// SPDX-License-Identifier: MIT OR Apache-2.0
use std::collections::HashMap;

use super::*;
use crate::package::jit::Recorder;
use crate::subtitle::{self, Subtitles};

/// A rendition with segments at `starts`, each 2 s long.
fn rendered(uri: &str, starts: &[f64]) -> Rendered {
    let mut r = super::super::ladder::tests::rendered(uri, &["mp4a.40.2"], 2000, 1000);
    r.summary.segments = starts.len();
    r.segment_starts = starts.to_vec();
    r.segment_durations = vec![2.0; starts.len()];
    r
}

fn vtt(text: &str) -> Subtitles {
    subtitle::parse(&format!("WEBVTT\n\n00:00.000 --> 00:01.000\n{text}\n")).expect("vtt")
}

/// Each file: its audio tracks' fingerprints and its text tracks' cues.
struct Fake {
    audio: HashMap<&'static str, Vec<Option<u64>>>,
    text: HashMap<&'static str, Vec<&'static str>>,
    calls: Vec<String>,
    store: Recorder,
}

impl LadderSource for Fake {
    type File = &'static str;
    type Error = String;

    fn video(
        &mut self,
        f: &&'static str,
        i: usize,
        cuts: &[f64],
    ) -> Result<VideoOut<&'static str>, String> {
        self.calls.push(format!("video {f} video_{i} {cuts:?}"));
        let info = |track: usize| super::super::ladder_audio::tests::candidate(0, track, None).info;
        let fps = self.audio.get(f).cloned().unwrap_or_default();
        let audio = fps
            .into_iter()
            .enumerate()
            .map(|(track, fingerprint)| AudioCandidate {
                file: *f,
                track,
                info: info(track),
                fingerprint,
                spec: None,
            })
            .collect();
        let text = self.text.get(f).cloned().unwrap_or_default();
        let text = text
            .into_iter()
            .map(|t| SubtitleTrack {
                id: 3,
                language: Some("eng".into()),
                subtitles: vtt(t),
            })
            .collect();
        Ok(VideoOut {
            rendered: rendered(&format!("video_{i}.m3u8"), &[0.0, 2.0, 4.0]),
            audio,
            text,
        })
    }

    fn audio_file(
        &mut self,
        f: &&'static str,
        spec: &RenditionSpec,
    ) -> Result<Vec<AudioCandidate<&'static str>>, String> {
        let mut found = self.video(f, 99, &[])?.audio;
        self.calls.pop();
        found.iter_mut().for_each(|c| c.spec = Some(spec.clone()));
        Ok(found)
    }

    fn audio(
        &mut self,
        c: AudioCandidate<&'static str>,
        k: usize,
        cuts: &[f64],
    ) -> Result<AudioOut, String> {
        self.calls
            .push(format!("audio {} {} audio_{k} {cuts:?}", c.file, c.track));
        Ok(c.audio_out(rendered(&format!("audio_{k}.m3u8"), cuts)))
    }

    /// The name's length: "lo.mp4" is smaller than "high.mp4".
    fn size(&self, f: &&'static str) -> u64 {
        f.len() as u64
    }

    fn store(&mut self) -> &mut dyn Store {
        &mut self.store
    }

    fn error(&self, e: crate::Error) -> String {
        e.to_string()
    }
}

/// Variants in order, the others cut at the first's starts; identical audio once (from the
/// smallest file), then the audio files' tracks; subtitle files first, then the inputs'
/// distinct text tracks.
#[test]
fn build_orders_renditions_as_package() {
    let mut src = Fake {
        audio: HashMap::from([
            ("high.mp4", vec![Some(1), Some(2)]),
            ("lo.mp4", vec![Some(1)]),
            ("dub.m4a", vec![None]),
        ]),
        text: HashMap::from([("high.mp4", vec!["a"]), ("lo.mp4", vec!["a", "b"])]),
        calls: vec![],
        store: Recorder::default(),
    };
    let spec = RenditionSpec::default();
    let subs = vec![SubtitleInput {
        subs: vtt("file"),
        spec: spec.clone(),
    }];
    let opts = PackageOptions::default();
    let built = build(
        &mut src,
        &["high.mp4", "lo.mp4"],
        &[("dub.m4a", spec)],
        subs,
        &opts,
    )
    .expect("built")
    .expect("videos");
    assert_eq!(
        src.calls,
        [
            "video high.mp4 video_0 []",
            "video lo.mp4 video_1 [0.0, 2.0, 4.0]",
            "audio lo.mp4 0 audio_0 [0.0, 2.0, 4.0]",
            "audio high.mp4 1 audio_1 [0.0, 2.0, 4.0]",
            "audio dub.m4a 0 audio_2 [0.0, 2.0, 4.0]",
        ]
    );
    assert_eq!((built.videos.len(), built.audio.len()), (2, 3));
    let langs: Vec<_> = built.subtitles.iter().map(|s| s.language.clone()).collect();
    assert_eq!(langs, [None, Some("en".into()), Some("en".into())]);
    let master = built.master(&[]);
    assert!(master.contains("video_1.m3u8") && master.contains("audio_2.m3u8"));
    assert!(master.contains("subs_2.m3u8") && !master.contains("subs_3.m3u8"));
    let none = build(&mut src, &[], &[], vec![], &opts).expect("no error");
    assert!(none.is_none());
}
