// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin package A B C -o OUT [--audio …] [--subtitles …]`: a VOD ladder. Each input's
//! video is a variant, every distinct audio track an `EXT-X-MEDIA` audio rendition, each
//! subtitle file a WebVTT rendition. The ladder's rules are `media::package::ladder_build`'s
//! (shared with just-in-time ladders); this module opens the files and writes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use media::package::ladder::{self, AudioOut, Select};
use media::package::ladder_audio::AudioCandidate;
use media::package::ladder_build::{self, LadderSource, VideoOut};
use media::package::ladder_text::{RenditionSpec, SubtitleInput};
use media::package::{package_rendition, PackageOptions, Rendered, StreamStore};
use media::sample::TrackKind;
use media::store::Store;

use super::descriptor::Descriptor;
use super::encrypt::Keys;
use super::package::PackageArgs;
use super::storage_keys;
use super::subtitles;
use crate::fs_store::FsStore;
use crate::input::{self, OpenOptions};
use crate::interrupt::{self, Interrupted, Interruptible};
use crate::outdir::Target;

/// Whether `args` ask for a ladder rather than the single muxed rendition: several inputs,
/// `--audio`/`--subtitles`, or one input with several audio tracks.
pub fn wanted(args: &PackageArgs, open_opts: &OpenOptions) -> Result<bool> {
    if args.inputs.len() > 1 || !args.audio.is_empty() || !args.subtitles.is_empty() {
        return Ok(true);
    }
    let Some(first) = args.inputs.first() else {
        bail!("no input given");
    };
    let mut demux = input::open(first, open_opts)?;
    let text = demux
        .subtitle_tracks()
        .with_context(|| first.display().to_string())?;
    let audio = demux
        .tracks()
        .iter()
        .filter(|t| t.kind() == TrackKind::Audio)
        .count();
    Ok(audio > 1 || !text.is_empty())
}

/// An audio track that may become a rendition, in file `file`.
type Candidate = AudioCandidate<PathBuf>;

/// What was written, for the summary line.
struct Written {
    videos: Vec<Rendered>,
    audio: usize,
    subtitles: usize,
    /// The most segments of any rendition (how many keys were used).
    segments: usize,
    /// Variants whose keyframes do not line up with the first's (warned about, packaged).
    misaligned: usize,
}

pub fn run(
    args: &PackageArgs,
    opts: &PackageOptions,
    open_opts: &OpenOptions,
    keys: Option<&Keys>,
) -> Result<()> {
    let started = Instant::now();
    let audio_specs = parse_all(&args.audio, false)?;
    let sub_specs = parse_all(&args.subtitles, true)?;
    let storage = args
        .output
        .to_str()
        .and_then(origin::StorageUrl::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let target = match storage {
        Some(url) => Dest::Storage(url),
        None => Dest::Dir(Target::new(&args.output)?),
    };
    if let Dest::Dir(target) = &target {
        let all_paths = args
            .inputs
            .iter()
            .chain(audio_specs.iter().map(|d| &d.path))
            .chain(sub_specs.iter().map(|d| &d.path));
        for p in all_paths {
            target.check(p, args.force)?;
        }
    }
    // Subtitle files are read and checked before anything is written.
    let subs = sub_specs
        .into_iter()
        .map(subtitles::read)
        .collect::<Result<Vec<_>>>()?;
    interrupt::install()?;
    let input = Inputs {
        args,
        opts,
        open_opts,
        audio_specs,
        subs,
    };
    let (written, key_files) = match target {
        Dest::Storage(url) => to_storage(input, &url, keys)?,
        Dest::Dir(target) => to_dir(input, target, keys)?,
    };
    if !args.quiet {
        for name in key_files {
            println!("key: {name}");
        }
        let peak = written
            .videos
            .iter()
            .map(|v| v.summary.peak_bandwidth)
            .max()
            .unwrap_or(0);
        println!(
            "{} inputs → {}: {} variants, {} audio, {} subtitles, {} segments, {:.3} s, top peak {}, {:.2} s wall",
            args.inputs.len(),
            args.output.join("master.m3u8").display(),
            written.videos.len(),
            written.audio,
            written.subtitles,
            written.videos.first().map_or(0, |v| v.summary.segments),
            written.videos.first().map_or(0.0, |v| v.summary.duration),
            super::package::human_bitrate(peak),
            started.elapsed().as_secs_f64(),
        );
        if written.misaligned > 0 {
            println!(
                "{} of {} variants have keyframes not aligned with the first (see the warnings)",
                written.misaligned,
                written.videos.len()
            );
        }
    }
    Ok(())
}

/// Where the ladder goes: `-o DIR` or `-o s3://BUCKET/PREFIX`.
enum Dest {
    Dir(Target),
    Storage(origin::StorageUrl),
}

/// What a ladder is made of, read and checked.
struct Inputs<'a> {
    args: &'a PackageArgs,
    opts: &'a PackageOptions,
    open_opts: &'a OpenOptions,
    audio_specs: Vec<Descriptor>,
    subs: Vec<SubtitleInput>,
}

/// The ladder into a directory, atomically; the written result and the key files' paths.
fn to_dir(
    input: Inputs<'_>,
    target: Target,
    keys: Option<&Keys>,
) -> Result<(Written, Vec<String>)> {
    let args = input.args;
    target.remove_stale();
    let staging = target.stage(&input.opts.run_id)?;
    let mut store = Interruptible(FsStore::new(staging.path()));
    let written = build(
        args,
        input.opts,
        input.open_opts,
        input.audio_specs,
        input.subs,
        &mut store,
    );
    drop(store);
    if interrupt::requested() {
        return Err(Interrupted.into());
    }
    let written = written?;
    let key_files = match keys {
        Some(k) => k.write(staging.path(), written.segments)?,
        None => Vec::new(),
    };
    staging.commit(&target, &args.inputs[0], args.force)?;
    let key_files = key_files
        .iter()
        .map(|name| args.output.join(name).display().to_string())
        .collect();
    Ok((written, key_files))
}

/// The ladder into object storage as one run (`crate::storage`: segments, init segments and
/// keys first, media playlists next, the master last); the key files' places.
fn to_storage(
    input: Inputs<'_>,
    url: &origin::StorageUrl,
    keys: Option<&Keys>,
) -> Result<(Written, Vec<String>)> {
    let (args, run) = (input.args, &input.opts.run_id);
    let local = std::env::current_dir().context("the current directory")?;
    let stored = crate::storage::vod::run_to_url(url, run, args.gc_grace, |sink| {
        let written = build(
            args,
            input.opts,
            input.open_opts,
            input.audio_specs,
            input.subs,
            sink,
        )?;
        let key_files = match keys {
            Some(k) => storage_keys::write(k, sink, &local, run, written.segments)?,
            None => Vec::new(),
        };
        Ok((written, storage_keys::describe(url, run, &key_files)))
    });
    if stored.is_err() {
        storage_keys::remove_local(&local, run);
    }
    stored
}

fn parse_all(descriptors: &[String], subtitles: bool) -> Result<Vec<Descriptor>> {
    let flag = if subtitles { "--subtitles" } else { "--audio" };
    descriptors
        .iter()
        .map(|d| Descriptor::parse(d, subtitles).with_context(|| format!("{flag} {d}")))
        .collect()
}

fn build(
    args: &PackageArgs,
    opts: &PackageOptions,
    open_opts: &OpenOptions,
    audio_specs: Vec<Descriptor>,
    subs: Vec<SubtitleInput>,
    store: &mut dyn StreamStore,
) -> Result<Written> {
    let audio_files: Vec<(PathBuf, RenditionSpec)> = audio_specs
        .iter()
        .map(|d| (d.path.clone(), d.rendition_spec()))
        .collect();
    let mut src = Packager {
        opts,
        open_opts,
        store,
        reference: None,
        misaligned: 0,
    };
    let built = ladder_build::build(&mut src, &args.inputs, &audio_files, subs, opts)?;
    let Some(built) = built else {
        bail!("no input given");
    };
    let segments = built.segments();
    // RFC 8216bis 4.4.6.5: the keys every rendition uses, for players to load ahead.
    let text = built.master(&media::package::session_keys(opts, segments));
    src.store
        .put("master.m3u8", text.as_bytes())
        .context("writing master.m3u8")?;
    Ok(Written {
        audio: built.audio.len(),
        subtitles: built.subtitles.len(),
        videos: built.videos,
        segments,
        misaligned: src.misaligned,
    })
}

/// Packages a ladder's renditions into `store`, as `package` does.
struct Packager<'a> {
    opts: &'a PackageOptions,
    open_opts: &'a OpenOptions,
    store: &'a mut dyn StreamStore,
    /// The first input and its variant, that the others are cut at and checked against.
    reference: Option<(PathBuf, Rendered)>,
    /// How many variants were not aligned with the reference.
    misaligned: usize,
}

impl LadderSource for Packager<'_> {
    type File = PathBuf;
    type Error = anyhow::Error;

    fn video(&mut self, path: &PathBuf, i: usize, _cuts: &[f64]) -> Result<VideoOut<PathBuf>> {
        let reference = self.reference.as_ref().map(|(p, r)| (p, r));
        let out = package_video(path, i, reference, self.opts, self.open_opts, self.store)?;
        match &self.reference {
            Some((ref_path, reference)) => {
                if report_alignment(ref_path, reference, path, &out.rendered) {
                    self.misaligned += 1;
                }
            }
            None => self.reference = Some((path.clone(), out.rendered.clone())),
        }
        Ok(out)
    }

    fn audio_file(&mut self, path: &PathBuf, spec: &RenditionSpec) -> Result<Vec<Candidate>> {
        audio_file(path, spec, self.open_opts)
    }

    fn audio(&mut self, c: Candidate, k: usize, cuts: &[f64]) -> Result<AudioOut> {
        package_audio(c, k, cuts, self.opts, self.open_opts, self.store)
    }

    fn size(&self, path: &PathBuf) -> u64 {
        file_size(path)
    }

    fn identical(&self, dropped: &Candidate, kept: &Candidate) {
        report_identical(dropped, kept);
    }

    fn store(&mut self) -> &mut dyn Store {
        self.store
    }

    fn error(&self, e: media::Error) -> anyhow::Error {
        e.into()
    }
}

/// A file's size: of identical audio tracks, the one in the smallest file is read.
fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(u64::MAX, |m| m.len())
}

fn report_identical(c: &Candidate, kept: &Candidate) {
    tracing::info!(
        "{}: audio track {} is identical to {} track {}: packaged once",
        c.file.display(),
        c.info.id,
        kept.file.display(),
        kept.info.id
    );
}

/// Packages input `i`'s video as `video_{i}`, cut where `reference` (the first input) was;
/// returns it, the input's audio tracks and its subtitle tracks.
fn package_video(
    path: &Path,
    i: usize,
    reference: Option<(&PathBuf, &Rendered)>,
    opts: &PackageOptions,
    open_opts: &OpenOptions,
    store: &mut dyn StreamStore,
) -> Result<VideoOut<PathBuf>> {
    let mut demux = input::open(path, open_opts)?;
    let text = demux
        .subtitle_tracks()
        .with_context(|| path.display().to_string())?;
    let tracks = demux.tracks().to_vec();
    let Some(v) = tracks.iter().position(|t| t.kind() == TrackKind::Video) else {
        bail!(
            "{}: no video track: each input of a ladder is a video variant; give audio-only \
             files with --audio FILE",
            path.display()
        );
    };
    let cuts = reference.map_or(&[][..], |(_, r)| &r.segment_starts[..]);
    let mut sel = Select::new(demux.as_mut(), &[v]);
    let o = PackageOptions {
        rendition: format!("video_{i}"),
        ..opts.clone()
    };
    let r = package_rendition(&mut sel, &o, cuts, store, &mut |_| {})
        .with_context(|| path.display().to_string())?;
    let found = Candidate::of_tracks(&path.to_owned(), &tracks, |ti| sel.fingerprint(ti), None);
    Ok(VideoOut {
        rendered: r,
        audio: found,
        text,
    })
}

/// Warns when `other`'s keyframes do not line up with `reference`'s, or their durations differ
/// by more than a second; both are still packaged (each variant is correct on its own).
/// Whether the keyframes are misaligned.
fn report_alignment(ref_path: &Path, reference: &Rendered, path: &Path, other: &Rendered) -> bool {
    let misaligned = ladder::misalignment(&reference.segment_starts, &other.segment_starts);
    if let Some((seg, a, b)) = misaligned {
        tracing::warn!(
            "{}: keyframes not aligned with {}: segment {seg} starts at {b:.3} s, not {a:.3} s; \
             players may stall when switching variants (encode the ladder with the same GOP: \
             -g, -keyint_min, -sc_threshold 0)",
            path.display(),
            ref_path.display()
        );
    }
    let (da, db) = (reference.summary.duration, other.summary.duration);
    if (da - db).abs() > 1.0 {
        tracing::warn!(
            "{}: lasts {db:.3} s, {} lasts {da:.3} s",
            path.display(),
            ref_path.display()
        );
    }
    misaligned.is_some()
}

/// The audio tracks of an `--audio` file.
fn audio_file(
    path: &Path,
    spec: &RenditionSpec,
    open_opts: &OpenOptions,
) -> Result<Vec<Candidate>> {
    let demux = input::open(path, open_opts)?;
    let found = Candidate::of_tracks(&path.to_owned(), demux.tracks(), |_| None, Some(spec));
    if found.is_empty() {
        bail!("--audio {}: no audio track", path.display());
    }
    Ok(found)
}

/// Packages audio candidate `c` as `audio_{k}`, cut at `cuts`.
fn package_audio(
    c: Candidate,
    k: usize,
    cuts: &[f64],
    opts: &PackageOptions,
    open_opts: &OpenOptions,
    store: &mut dyn StreamStore,
) -> Result<AudioOut> {
    let mut demux = input::open(&c.file, open_opts)?;
    let mut sel = Select::new(demux.as_mut(), &[c.track]);
    let o = PackageOptions {
        rendition: format!("audio_{k}"),
        ..opts.clone()
    };
    let rendered = package_rendition(&mut sel, &o, cuts, store, &mut |_| {})
        .with_context(|| format!("{} (audio track {})", c.file.display(), c.info.id))?;
    Ok(c.audio_out(rendered))
}

#[cfg(test)]
#[path = "ladder_storage_tests.rs"]
mod storage_tests;
