// SPDX-License-Identifier: MIT OR Apache-2.0
//! Just-in-time ladders: the plan of what `package IN... --audio … --subtitles …` writes (the
//! CLI's ladder, README "Ladders"), every rendition planned as [`super::jit`] plans a single
//! file — `package_rendition` run over a [`Select`](super::ladder::Select)ion of one track
//! with a recording store — and put together by the CLI's own code,
//! [`ladder_build::build`] (variant order and cuts, identical
//! audio once, `audio_{k}`, subtitle renditions, the master). A segment is rendered from its
//! rendition's file ([`LadderPlan::file`]) as a single file's is.
//!
//! Sans-IO: the caller opens the files ([`LadderInputs`]'s `open`) and reads the byte ranges.

use std::io::{Read, Seek};

use bytes::Bytes;

use super::jit::{check_options, record, JitPlan, Recorder, Span};
use super::ladder::AudioOut;
use super::ladder_audio::AudioCandidate;
use super::ladder_build::{self, LadderSource, VideoOut};
use super::ladder_text::{RenditionSpec, SubtitleInput};
use super::{session_keys, PackageOptions};
use crate::demux::mp4::{MediaIndex, Mp4Demuxer};
use crate::sample::{Demuxer, TrackKind};
use crate::store::Store;

/// Why a ladder cannot be planned: the file (its name as given) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct LadderError {
    pub file: String,
    pub reason: String,
}

/// Why one file of a ladder cannot be planned: the packager's error, or a ladder's own rule.
#[derive(Debug)]
enum Why {
    Media(crate::Error),
    Ladder(&'static str),
}

impl From<crate::Error> for Why {
    fn from(e: crate::Error) -> Self {
        Why::Media(e)
    }
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Media(e) => e.fmt(f),
            Why::Ladder(s) => f.write_str(s),
        }
    }
}

/// The files of a ladder, as `package`'s arguments name them.
pub struct LadderInputs<'a> {
    /// Each file's name (for errors) and byte length (of identical audio tracks, the one in
    /// the smallest file is read, as `package` does).
    pub files: &'a [(String, u64)],
    /// The inputs (`package IN...`): indexes into `files`, each a video variant.
    pub videos: &'a [usize],
    /// `--audio FILE,…`: every audio track of the file is a rendition.
    pub audio: &'a [(usize, RenditionSpec)],
    /// `--subtitles FILE,…`, read and parsed.
    pub subtitles: Vec<SubtitleInput>,
}

/// A ladder planned from its files' indexes.
#[derive(Debug, Clone)]
pub struct LadderPlan {
    /// The master and the subtitle renditions' playlists and segments.
    objects: Vec<(String, Bytes)>,
    /// Each rendition's file (index into [`LadderInputs::files`]) and plan.
    renditions: Vec<(usize, JitPlan)>,
}

/// A planned ladder: the index of each file that holds a rendition, and the plan.
pub type Planned = (Vec<Option<MediaIndex>>, LadderPlan);

/// An audio track that may become a rendition, in file `file` (index into `files`).
type Candidate = AudioCandidate<usize>;

/// What planning has gathered so far.
struct Planning<'o, R: Read + Seek> {
    open: &'o mut dyn FnMut(usize) -> crate::Result<Mp4Demuxer<R>>,
    opts: &'o PackageOptions,
    /// [`LadderInputs::files`], for errors and sizes.
    files: &'o [(String, u64)],
    /// The first video's file: errors of the ladder as a whole name it.
    first: usize,
    indexes: Vec<Option<MediaIndex>>,
    renditions: Vec<(usize, JitPlan)>,
    /// The master and the subtitle renditions.
    store: Recorder,
}

/// Plans the ladder `package` makes of `inputs` with `opts`; `open(n)` opens file `n` from
/// its start (it is called once per rendition the file gives). Returns the index of every
/// file that holds a rendition.
pub fn plan_ladder<R: Read + Seek>(
    inputs: LadderInputs<'_>,
    opts: &PackageOptions,
    open: &mut dyn FnMut(usize) -> crate::Result<Mp4Demuxer<R>>,
) -> Result<Planned, LadderError> {
    let first = inputs.videos.first().copied().unwrap_or(0);
    let err = |file: usize, e: &dyn std::fmt::Display| ladder_error(inputs.files, file, e);
    check_options(opts).map_err(|e| err(first, &e))?;
    if let [only] = inputs.videos {
        if inputs.audio.is_empty() && inputs.subtitles.is_empty() {
            let single = plan_single(*only, inputs.files.len(), opts, open);
            if let Some(planned) = single.map_err(|e| err(*only, &e))? {
                return Ok(planned);
            }
        }
    }
    let mut p = Planning {
        open,
        opts,
        files: inputs.files,
        first,
        indexes: vec![None; inputs.files.len()],
        renditions: Vec::new(),
        store: Recorder::default(),
    };
    let built = ladder_build::build(&mut p, inputs.videos, inputs.audio, inputs.subtitles, opts)?;
    let Some(built) = built else {
        return Err(err(first, &"a ladder needs at least one video file"));
    };
    // RFC 8216bis 4.4.6.5: the keys every rendition uses, as the CLI's ladder lists them.
    let text = built.master(&session_keys(opts, built.segments()));
    p.store
        .put("master.m3u8", text.as_bytes())
        .map_err(|e| err(first, &e))?;
    let plan = LadderPlan {
        objects: p.store.objects,
        renditions: p.renditions,
    };
    Ok((p.indexes, plan))
}

/// One file alone, with at most one audio track and no text track: what `package` writes
/// for it is the single muxed rendition (`stream.m3u8`, README "Ladders"), planned as a
/// single file is ([`super::jit::plan`]); `None` when the file makes a ladder.
fn plan_single<R: Read + Seek>(
    file: usize,
    files: usize,
    opts: &PackageOptions,
    open: &mut dyn FnMut(usize) -> crate::Result<Mp4Demuxer<R>>,
) -> crate::Result<Option<Planned>> {
    let mut demux = open(file)?;
    let audio = demux
        .tracks()
        .iter()
        .filter(|t| t.kind() == TrackKind::Audio)
        .count();
    if audio > 1 || !demux.subtitle_tracks()?.is_empty() {
        return Ok(None);
    }
    let (index, plan) = super::jit::plan(open(file)?, opts)?;
    let mut indexes = vec![None; files];
    if let Some(slot) = indexes.get_mut(file) {
        *slot = Some(index);
    }
    let plan = LadderPlan {
        objects: Vec::new(),
        renditions: vec![(file, plan)],
    };
    Ok(Some((indexes, plan)))
}

impl<R: Read + Seek> Planning<'_, R> {
    /// Opens file `file`, indexed (once per file).
    fn open(&mut self, file: usize) -> crate::Result<(Mp4Demuxer<R>, usize)> {
        let mut demux = (self.open)(file)?;
        let total = match self.indexes.get(file) {
            Some(Some(index)) => index.samples().len(),
            _ => {
                let index = demux.index()?;
                let n = index.samples().len();
                if let Some(slot) = self.indexes.get_mut(file) {
                    *slot = Some(index);
                }
                n
            }
        };
        Ok((demux, total))
    }

    /// Plans input `file`'s video as `video_{i}` cut at `cuts`; returns it, the input's audio
    /// tracks and its text tracks (as the CLI's `package_video`).
    fn plan_video(&mut self, file: usize, i: usize, cuts: &[f64]) -> Result<VideoOut<usize>, Why> {
        let mut demux = (self.open)(file)?;
        let text = demux.subtitle_tracks()?;
        let tracks = demux.tracks().to_vec();
        let Some(v) = tracks.iter().position(|t| t.kind() == TrackKind::Video) else {
            return Err(Why::Ladder(
                "no video track: each video of a ladder is a variant; give audio-only files \
                 as audio",
            ));
        };
        let index = demux.index()?;
        let o = PackageOptions {
            rendition: format!("video_{i}"),
            ..self.opts.clone()
        };
        let rec = record(&mut demux, Some(index.samples().len()), Some(v), &o, cuts)?;
        if let Some(slot) = self.indexes.get_mut(file) {
            *slot = Some(index);
        }
        let fingerprint = |ti: usize| rec.fingerprints.get(ti).copied().flatten();
        let found = Candidate::of_tracks(&file, &tracks, fingerprint, None);
        self.renditions.push((file, rec.plan));
        Ok(VideoOut {
            rendered: rec.rendered,
            audio: found,
            text,
        })
    }

    /// The audio tracks of an audio file.
    fn plan_audio_file(
        &mut self,
        file: usize,
        spec: &RenditionSpec,
    ) -> Result<Vec<Candidate>, Why> {
        let demux = (self.open)(file)?;
        let found = Candidate::of_tracks(&file, demux.tracks(), |_| None, Some(spec));
        if found.is_empty() {
            return Err(Why::Ladder("no audio track"));
        }
        Ok(found)
    }

    /// Plans audio candidate `c` as `audio_{k}`, cut at `cuts` (as the CLI's `package_audio`).
    fn plan_audio(&mut self, c: Candidate, k: usize, cuts: &[f64]) -> crate::Result<AudioOut> {
        let (mut demux, total) = self.open(c.file)?;
        let o = PackageOptions {
            rendition: format!("audio_{k}"),
            ..self.opts.clone()
        };
        let rec = record(&mut demux, Some(total), Some(c.track), &o, cuts)?;
        self.renditions.push((c.file, rec.plan));
        Ok(c.audio_out(rec.rendered))
    }
}

impl<R: Read + Seek> LadderSource for Planning<'_, R> {
    type File = usize;
    type Error = LadderError;

    fn video(
        &mut self,
        file: &usize,
        i: usize,
        cuts: &[f64],
    ) -> Result<VideoOut<usize>, LadderError> {
        self.plan_video(*file, i, cuts)
            .map_err(|e| self.fail(*file, &e))
    }

    fn audio_file(
        &mut self,
        file: &usize,
        spec: &RenditionSpec,
    ) -> Result<Vec<Candidate>, LadderError> {
        self.plan_audio_file(*file, spec)
            .map_err(|e| self.fail(*file, &e))
    }

    fn audio(&mut self, c: Candidate, k: usize, cuts: &[f64]) -> Result<AudioOut, LadderError> {
        let file = c.file;
        self.plan_audio(c, k, cuts).map_err(|e| self.fail(file, &e))
    }

    /// Of identical tracks, the one in the smallest file (as `package`).
    fn size(&self, file: &usize) -> u64 {
        self.files.get(*file).map_or(u64::MAX, |f| f.1)
    }

    fn store(&mut self) -> &mut dyn Store {
        &mut self.store
    }

    fn error(&self, e: crate::Error) -> LadderError {
        self.fail(self.first, &e)
    }
}

impl<R: Read + Seek> Planning<'_, R> {
    /// A ladder error naming file `file`.
    fn fail(&self, file: usize, e: &dyn std::fmt::Display) -> LadderError {
        ladder_error(self.files, file, e)
    }
}

/// A ladder error naming file `file` of `files`.
fn ladder_error(files: &[(String, u64)], file: usize, e: &dyn std::fmt::Display) -> LadderError {
    LadderError {
        file: files.get(file).map_or("?", |f| f.0.as_str()).to_owned(),
        reason: e.to_string(),
    }
}

impl LadderPlan {
    /// A playlist, init segment or WebVTT segment, by name.
    pub fn object(&self, name: &str) -> Option<&Bytes> {
        self.objects
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b)
            .or_else(|| self.renditions.iter().find_map(|(_, p)| p.object(name)))
    }

    /// The media segment named `name`: its rendition and its index in that rendition.
    pub fn segment(&self, name: &str) -> Option<(usize, usize)> {
        self.renditions
            .iter()
            .enumerate()
            .find_map(|(r, (_, p))| p.segment(name).map(|s| (r, s)))
    }

    /// The file rendition `r` is made from (index into [`LadderInputs::files`]).
    pub fn file(&self, r: usize) -> Option<usize> {
        self.renditions.get(r).map(|(f, _)| *f)
    }

    /// The names of every object: playlists, init segments, media and WebVTT segments.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.objects.iter().map(|(n, _)| n.clone()).collect();
        for (_, p) in &self.renditions {
            names.extend(p.object_names().map(str::to_owned));
            names.extend(p.segment_names().map(str::to_owned));
            names.extend(p.iframe_file().map(|(n, _)| n.to_owned()));
        }
        names
    }

    /// Heap bytes held, roughly (for a cache's bound).
    pub fn heap_bytes(&self) -> usize {
        let objects: usize = self.objects.iter().map(|(n, b)| n.len() + b.len()).sum();
        objects
            + self
                .renditions
                .iter()
                .map(|(_, p)| p.heap_bytes())
                .sum::<usize>()
    }

    /// The byte ranges of its file that segment `seg` of rendition `r` needs.
    pub fn spans(&self, index: &MediaIndex, r: usize, seg: usize) -> Vec<Span> {
        self.renditions
            .get(r)
            .map_or_else(Vec::new, |(_, p)| p.spans(index, seg))
    }

    /// The AES-128 I-frame file named `name`: its rendition and length.
    pub fn iframe_file(&self, name: &str) -> Option<(usize, u64)> {
        self.renditions.iter().enumerate().find_map(|(r, (_, p))| {
            p.iframe_file()
                .filter(|(n, _)| *n == name)
                .map(|(_, len)| (r, len))
        })
    }

    /// The plan of rendition `r`.
    pub fn rendition(&self, r: usize) -> Option<&JitPlan> {
        self.renditions.get(r).map(|(_, p)| p)
    }

    /// Renders segment `seg` of rendition `r` from the bytes of each of [`Self::spans`].
    pub fn render(
        &self,
        index: &MediaIndex,
        r: usize,
        seg: usize,
        read: &[(Span, Bytes)],
    ) -> crate::Result<Vec<u8>> {
        let (_, p) = self
            .renditions
            .get(r)
            .ok_or_else(|| crate::Error::mp4(format!("no rendition {r}"), 0))?;
        p.render(index, seg, read)
    }
}

#[cfg(test)]
#[path = "jit_ladder_tests.rs"]
mod tests;
