// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin package`: one input file → OUTDIR/master.m3u8 and its media.
//!
//! Output is atomic and never deletes what hlsorigin did not write: see [`crate::outdir`].

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use media::package::{package_streaming, Format, PackageOptions, PackageSummary, Progress};

use super::encrypt::{EncryptArgs, Keys};
use super::progress::PackageProgress;
use crate::fs_store::FsStore;
use crate::input::{self, OpenOptions};
use crate::interrupt::{self, Interrupted, Interruptible};
use crate::outdir::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// fMP4/CMAF segments (.m4s) with an init segment.
    Fmp4,
    /// MPEG-TS segments (.ts).
    Ts,
}

#[derive(Debug, Clone, Args)]
pub struct PackageArgs {
    /// Input file (MP4/MOV, fragmented MP4, MPEG-TS). Several inputs make a ladder: each
    /// input's video is a variant, their audio one group of renditions.
    #[arg(value_name = "INPUT", required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// An audio rendition: FILE[,lang=L][,name=N][,default] (a comma in FILE or N is written
    /// twice: ,,). Every audio track of FILE becomes a rendition. Repeatable.
    #[arg(long, value_name = "FILE[,lang=L][,name=N][,default]")]
    pub audio: Vec<String>,
    /// A subtitle rendition from a WebVTT or SRT file, or from an MP4 holding a text track (a
    /// packager's WebVTT-in-MP4 `wvtt`, or `tx3g`): FILE[,lang=L][,name=N][,default][,forced].
    /// Repeatable.
    #[arg(long, value_name = "FILE[,lang=L][,name=N][,default][,forced]")]
    pub subtitles: Vec<String>,
    /// Output directory; OUTDIR/master.m3u8 is the entry point. Created, or replaced as a whole
    /// if it is empty or a previous hlsorigin output (it has a .hlsorigin file). Or
    /// `s3://BUCKET/PREFIX` (object storage; README "Scaling out").
    #[arg(short, long, value_name = "OUTDIR")]
    pub output: PathBuf,
    /// Replace OUTDIR even if it holds files hlsorigin did not write (all of them are deleted).
    #[arg(long)]
    pub force: bool,
    /// Segment container.
    #[arg(long, value_enum, default_value_t = FormatArg::Fmp4)]
    pub format: FormatArg,
    /// Wanted segment duration in seconds; cuts go at the first keyframe at or after it.
    #[arg(long, default_value_t = 6.0)]
    pub segment_duration: f64,
    /// One media file per rendition, segments addressed with EXT-X-BYTERANGE.
    #[arg(long)]
    pub single_file: bool,
    /// No progress bar and no summary line (warnings and errors still show).
    #[arg(short, long)]
    pub quiet: bool,
    /// Package what is complete of a truncated MP4 (warns) instead of failing.
    #[arg(long)]
    pub allow_truncated: bool,
    /// Drop (with a warning) video samples whose NAL lengths overrun them instead of failing.
    #[arg(long)]
    pub drop_bad_samples: bool,
    /// Allow HEVC in MPEG-TS segments (Apple devices reject it: HEVC must be fMP4).
    #[arg(long)]
    pub allow_hevc_ts: bool,
    /// Most sample data held for one segment, in MiB: a longer GOP (keyframes far apart) is
    /// written in pieces, so memory stays bounded whatever the input's keyframe interval.
    #[arg(long, default_value_t = 32, value_name = "MIB")]
    pub max_buffer_mib: usize,
    /// Id embedded in segment names (default: random per run, so segment URLs are never reused).
    #[arg(long, hide = true)]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub encrypt: EncryptArgs,
    /// With `-o s3://…`: how long a superseded run's objects stay after a newer run is
    /// committed (deleted by a later `package` into the same prefix): `600`, `90s`, `10m`, `1h`.
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = crate::storage::runs::parse_duration)]
    pub gc_grace: std::time::Duration,
}

pub fn run(args: PackageArgs) -> Result<()> {
    if !(args.segment_duration >= 0.5 && args.segment_duration <= 60.0) {
        bail!("--segment-duration must be between 0.5 and 60 seconds");
    }
    if !(1..=4096).contains(&args.max_buffer_mib) {
        bail!("--max-buffer-mib must be between 1 and 4096");
    }
    let storage = args.output.to_str().and_then(origin::StorageUrl::parse);
    if super::ladder::wanted(&args, &open_options(&args))? {
        // Every rendition (video and audio) is encrypted with the same keys.
        let keys = args.encrypt.keys()?;
        let mut opts = options(&args);
        opts.encryption = keys.as_ref().map(|k| k.encryption.clone());
        return super::ladder::run(&args, &opts, &open_options(&args), keys.as_ref());
    }
    let input = &args.inputs[0];
    let started = Instant::now();
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let keys = args.encrypt.keys()?;
    let mut opts = options(&args);
    opts.encryption = keys.as_ref().map(|k| k.encryption.clone());
    interrupt::install()?;
    let (summary, key_files) = if let Some(url) = storage {
        let url = url.map_err(anyhow::Error::msg)?;
        package_to_storage(&args, &url, &opts, keys.as_ref(), show_progress)?
    } else {
        let (summary, names) = package_into(
            input,
            Target::new(&args.output)?,
            &opts,
            &open_options(&args),
            (show_progress, args.force),
            keys.as_ref(),
            &mut |_| {},
        )?;
        let paths = names
            .iter()
            .map(|n| args.output.join(n).display().to_string());
        (summary, paths.collect())
    };
    if !args.quiet {
        for name in key_files {
            println!("key: {name}");
        }
    }
    if !args.quiet {
        println!(
            "{} → {}: {} segments, {} I-frames, {:.3} s, avg {}, peak {}, target {} s, {:.2} s wall{}",
            input.display(),
            args.output.join("master.m3u8").display(),
            summary.segments,
            summary.i_frames,
            summary.duration,
            human_bitrate(summary.average_bandwidth),
            human_bitrate(summary.peak_bandwidth),
            summary.target_duration,
            started.elapsed().as_secs_f64(),
            peak_memory_mib()
                .map(|m| format!(", peak memory {m:.1} MiB"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `-o s3://BUCKET/PREFIX`: see [`crate::storage`]; with `keys`, their files go where
/// [`super::storage_keys`] says. Returns the summary and the key files' places.
fn package_to_storage(
    args: &PackageArgs,
    url: &origin::StorageUrl,
    opts: &PackageOptions,
    keys: Option<&Keys>,
    show_progress: bool,
) -> Result<(PackageSummary, Vec<String>)> {
    let input = &args.inputs[0];
    let mut demux = input::open(input, &open_options(args))?;
    let local = std::env::current_dir().context("the current directory")?;
    let mut progress = PackageProgress::new(show_progress);
    let run = opts.run_id.as_str();
    let packaged = crate::storage::vod::run_to_url(url, run, args.gc_grace, |sink| {
        let summary = package_streaming(demux.as_mut(), opts, sink, &mut |p| progress.update(p))
            .with_context(|| input.display().to_string())?;
        let files = match keys {
            Some(k) => super::storage_keys::write(k, sink, &local, run, summary.segments)?,
            None => Vec::new(),
        };
        Ok((summary, super::storage_keys::describe(url, run, &files)))
    });
    progress.clear();
    if packaged.is_err() {
        super::storage_keys::remove_local(&local, run);
    }
    packaged
}

pub fn options(args: &PackageArgs) -> PackageOptions {
    PackageOptions {
        format: match args.format {
            FormatArg::Fmp4 => Format::Fmp4,
            FormatArg::Ts => Format::Ts,
        },
        segment_duration: args.segment_duration,
        single_file: args.single_file,
        run_id: args.run_id.clone().unwrap_or_else(new_run_id),
        allow_hevc_ts: args.allow_hevc_ts,
        rendition: "stream".into(),
        max_buffered_bytes: args.max_buffer_mib.saturating_mul(1 << 20),
        encryption: None,
    }
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

fn open_options(args: &PackageArgs) -> OpenOptions {
    OpenOptions {
        allow_truncated: args.allow_truncated,
        drop_bad_samples: args.drop_bad_samples,
    }
}

pub fn new_run_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Packages `input` into `outdir` atomically, replacing only a previous output of ours (the
/// default run's entry point; no progress bar, `on_progress` gets the packager's reports).
pub fn package_file(
    input: &Path,
    outdir: &Path,
    opts: &PackageOptions,
    open_opts: &OpenOptions,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<PackageSummary> {
    let target = Target::managed(outdir)?;
    package_into(
        input,
        target,
        opts,
        open_opts,
        (false, false),
        None,
        on_progress,
    )
    .map(|(summary, _)| summary)
}

/// Packages `input` into `target` atomically; `force` replaces a directory that is not ours.
/// With `keys`, their files go into the output too; returns their names.
fn package_into(
    input: &Path,
    target: Target,
    opts: &PackageOptions,
    open_opts: &OpenOptions,
    (show_progress, force): (bool, bool),
    keys: Option<&Keys>,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<(PackageSummary, Vec<String>)> {
    target.check(input, force)?;
    let mut demux = input::open(input, open_opts)?;
    target.remove_stale();
    let staging = target.stage(&opts.run_id)?;
    let mut progress = PackageProgress::new(show_progress);
    let mut store = Interruptible(FsStore::new(staging.path()));
    let packaged = package_streaming(demux.as_mut(), opts, &mut store, &mut |p| {
        on_progress(p);
        progress.update(p);
    });
    progress.clear();
    drop(store);
    if interrupt::requested() {
        return Err(Interrupted.into());
    }
    let summary = packaged.with_context(|| input.display().to_string())?;
    let key_files = match keys {
        Some(k) => k.write(staging.path(), summary.segments)?,
        None => Vec::new(),
    };
    staging.commit(&target, input, force)?;
    Ok((summary, key_files))
}

pub fn human_bitrate(bps: u64) -> String {
    if bps >= 1_000_000 {
        format!("{:.2} Mb/s", bps as f64 / 1e6)
    } else {
        format!("{:.1} kb/s", bps as f64 / 1e3)
    }
}
