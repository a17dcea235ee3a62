// SPDX-License-Identifier: MIT OR Apache-2.0
//! How a ladder is put together, shared by `package` (the CLI's ladder, which writes each
//! rendition) and just-in-time ladders ([`super::jit_ladder`], which plan them) so both give
//! the same bytes: video variants `video_{i}` cut at the first variant's segment starts
//! (Apple HLS authoring 6.3: aligned segments across variants), the inputs' text tracks as
//! subtitle renditions after the `--subtitles` files (the same text in several inputs once),
//! audio renditions `audio_{k}` (the inputs' distinct audio, then the `--audio` files'),
//! subtitle renditions cut as the first variant, and the master from all of them.
//!
//! Sans-IO: a [`LadderSource`] opens the files and packages (or plans) each rendition.

use super::ladder::{self, AudioOut, SubtitleOut};
use super::ladder_audio::{distinct_audio, AudioCandidate};
use super::ladder_text::{write_subtitles, RenditionSpec, SubtitleInput};
use super::{PackageOptions, Rendered};
use crate::crypto::playlist::insert_session_keys;
use crate::store::Store;
use crate::subtitle::SubtitleTrack;

/// One input's video variant, packaged, with what else the input holds.
pub struct VideoOut<F> {
    pub rendered: Rendered,
    /// The input's audio tracks (with their fingerprints).
    pub audio: Vec<AudioCandidate<F>>,
    /// The input's text tracks (tx3g/mov_text).
    pub text: Vec<SubtitleTrack>,
}

/// What makes a ladder's renditions: files named by `File`, packaged or planned.
pub trait LadderSource {
    type File;
    type Error;
    /// Packages `file`'s video as `video_{i}`, cut at `cuts` (none for the first variant).
    fn video(
        &mut self,
        file: &Self::File,
        i: usize,
        cuts: &[f64],
    ) -> Result<VideoOut<Self::File>, Self::Error>;
    /// The audio tracks of an `--audio` file (an error when it has none).
    fn audio_file(
        &mut self,
        file: &Self::File,
        spec: &RenditionSpec,
    ) -> Result<Vec<AudioCandidate<Self::File>>, Self::Error>;
    /// Packages audio candidate `c` as `audio_{k}`, cut at `cuts`.
    fn audio(
        &mut self,
        c: AudioCandidate<Self::File>,
        k: usize,
        cuts: &[f64],
    ) -> Result<AudioOut, Self::Error>;
    /// A file's size in bytes: of identical audio tracks, the one in the smallest is read.
    fn size(&self, file: &Self::File) -> u64;
    /// Told of each audio track found identical to one kept.
    fn identical(&self, _dropped: &AudioCandidate<Self::File>, _kept: &AudioCandidate<Self::File>) {
    }
    /// Where the subtitle renditions are written.
    fn store(&mut self) -> &mut dyn Store;
    /// An error of the ladder as a whole (writing the subtitle renditions).
    fn error(&self, e: crate::Error) -> Self::Error;
}

/// A ladder's renditions, written or planned.
pub struct Built {
    pub videos: Vec<Rendered>,
    pub audio: Vec<AudioOut>,
    pub subtitles: Vec<SubtitleOut>,
}

/// Builds the ladder of `videos` (the inputs), `audio` (`--audio` files) and `subs`
/// (`--subtitles` files, read) from `src`; `None` when `videos` is empty.
pub fn build<S: LadderSource>(
    src: &mut S,
    videos: &[S::File],
    audio: &[(S::File, RenditionSpec)],
    mut subs: Vec<SubtitleInput>,
    opts: &PackageOptions,
) -> Result<Option<Built>, S::Error> {
    let mut candidates = Vec::new();
    let mut rendered: Vec<Rendered> = Vec::new();
    for (i, file) in videos.iter().enumerate() {
        let cuts = rendered
            .first()
            .map_or(Vec::new(), |r| r.segment_starts.clone());
        let v = src.video(file, i, &cuts)?;
        candidates.extend(v.audio);
        for t in v.text {
            // The same text in several inputs (an encoder's ladder) is one rendition.
            if subs.iter().any(|s| s.subs == t.subtitles) {
                continue;
            }
            let spec = RenditionSpec {
                lang: t.language,
                ..RenditionSpec::default()
            };
            subs.push(SubtitleInput {
                subs: t.subtitles,
                spec,
            });
        }
        rendered.push(v.rendered);
    }
    let Some(reference) = rendered.first() else {
        return Ok(None);
    };
    for (file, spec) in audio {
        candidates.extend(src.audio_file(file, spec)?);
    }
    let cuts = reference.segment_starts.clone();
    let size = |f: &S::File| src.size(f);
    let distinct = distinct_audio(candidates, size, |c, k| src.identical(c, k));
    let mut audio = Vec::new();
    for c in distinct {
        let k = audio.len();
        audio.push(src.audio(c, k, &cuts)?);
    }
    let subtitles =
        write_subtitles(subs, reference, opts, src.store()).map_err(|e| src.error(e))?;
    Ok(Some(Built {
        videos: rendered,
        audio,
        subtitles,
    }))
}

impl Built {
    /// The most segments of any rendition: the keys of that many are the ones every
    /// rendition uses (EXT-X-SESSION-KEY).
    pub fn segments(&self) -> usize {
        self.videos
            .iter()
            .chain(self.audio.iter().map(|a| &a.rendered))
            .map(|r| r.summary.segments)
            .max()
            .unwrap_or(0)
    }

    /// The master playlist, with `session_keys` (RFC 8216bis 4.4.6.5 EXT-X-SESSION-KEY tags).
    pub fn master(&self, session_keys: &[String]) -> String {
        let master = ladder::master(&self.videos, &self.audio, &self.subtitles);
        insert_session_keys(&master.render(), session_keys)
    }
}

#[cfg(test)]
#[path = "ladder_build_tests.rs"]
mod tests;
