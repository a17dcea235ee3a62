// SPDX-License-Identifier: MIT OR Apache-2.0
//! A ladder's audio rules, shared by `package` (the CLI's ladder) and just-in-time ladders
//! ([`super::jit_ladder`]) so both give the same bytes: which audio tracks become renditions
//! (identical audio of the inputs packaged once) and what each rendition's `EXT-X-MEDIA`
//! says of it (NAME, LANGUAGE, DEFAULT, CHANNELS, the codec family's GROUP-ID).

use super::ladder::{language_tag, AudioOut};
use super::ladder_text::RenditionSpec;
use super::Rendered;
use crate::sample::{TrackInfo, TrackKind};

/// An audio track that may become a rendition; `F` names its file (a path, an index).
#[derive(Debug, Clone)]
pub struct AudioCandidate<F> {
    pub file: F,
    /// The track's index in its file.
    pub track: usize,
    pub info: TrackInfo,
    /// Fingerprint of the whole track (inputs' tracks only), for packaging identical audio once.
    pub fingerprint: Option<u64>,
    /// The `--audio` descriptor (audio files' tracks only).
    pub spec: Option<RenditionSpec>,
}

impl<F: Clone> AudioCandidate<F> {
    /// The audio tracks of `tracks` (file `file`'s, by index), each with its
    /// `fingerprint(track)` and `spec` (an `--audio` file's descriptor).
    pub fn of_tracks(
        file: &F,
        tracks: &[TrackInfo],
        fingerprint: impl Fn(usize) -> Option<u64>,
        spec: Option<&RenditionSpec>,
    ) -> Vec<Self> {
        tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind() == TrackKind::Audio)
            .map(|(track, t)| AudioCandidate {
                file: file.clone(),
                track,
                info: t.clone(),
                fingerprint: fingerprint(track),
                spec: spec.cloned(),
            })
            .collect()
    }
}

impl<F> AudioCandidate<F> {
    /// The rendition this candidate makes, packaged as `rendered`.
    pub fn audio_out(self, rendered: Rendered) -> AudioOut {
        let spec = self.spec.unwrap_or_default();
        AudioOut {
            rendered,
            family: self.info.config.name(),
            name: spec.name,
            // RFC 8216bis 4.4.6.1: LANGUAGE from the descriptor, else the track's (mdhd/elng).
            language: spec
                .lang
                .or(self.info.language)
                .and_then(|l| language_tag(&l)),
            default: spec.default,
            channels: self.info.channels,
        }
    }
}

/// The candidates with identical audio (same fingerprint) reduced to one each, in the order
/// they first appear. Of identical tracks, the one in the smallest file (`size`) is kept: a
/// reader goes through the file's interleaved chunks, so the smallest variant's copy costs
/// least. `same(dropped, kept)` is told of each identical pair found.
pub fn distinct_audio<F>(
    candidates: Vec<AudioCandidate<F>>,
    size: impl Fn(&F) -> u64,
    mut same: impl FnMut(&AudioCandidate<F>, &AudioCandidate<F>),
) -> Vec<AudioCandidate<F>> {
    let mut kept: Vec<AudioCandidate<F>> = Vec::new();
    for c in candidates {
        let found = c
            .fingerprint
            .and_then(|fp| kept.iter().position(|k| k.fingerprint == Some(fp)));
        match found.and_then(|i| kept.get_mut(i)) {
            Some(k) => {
                same(&c, k);
                if size(&c.file) < size(&k.file) {
                    *k = c;
                }
            }
            None => kept.push(c),
        }
    }
    kept
}

#[cfg(test)]
#[path = "ladder_audio_tests.rs"]
pub(super) mod tests;
