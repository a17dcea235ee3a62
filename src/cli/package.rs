// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin package`: one input file → OUTDIR/master.m3u8 and its media.
//!
//! Output is atomic: everything is written into a hidden sibling directory `.NAME.tmp-RUN` and renamed
//! onto OUTDIR only when packaging succeeded; a previous OUTDIR is replaced as a whole.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use media::package::{package_streaming, Format, PackageOptions, PackageSummary, Progress};

use crate::fs_store::FsStore;
use crate::input::{self, OpenOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// fMP4/CMAF segments (.m4s) with an init segment.
    Fmp4,
    /// MPEG-TS segments (.ts).
    Ts,
}

#[derive(Debug, Clone, Args)]
pub struct PackageArgs {
    /// Input file (MP4/MOV, fragmented MP4, MPEG-TS).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output directory; OUTDIR/master.m3u8 is the entry point.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Segment container.
    #[arg(long, value_enum, default_value_t = FormatArg::Fmp4)]
    pub format: FormatArg,
    /// Wanted segment duration in seconds; cuts go at the first keyframe at or after it.
    #[arg(long, default_value_t = 6.0)]
    pub segment_duration: f64,
    /// One media file per rendition, segments addressed with EXT-X-BYTERANGE.
    #[arg(long)]
    pub single_file: bool,
    /// No progress bar and no summary line.
    #[arg(short, long)]
    pub quiet: bool,
    /// Package what is complete of a truncated MP4 (warns) instead of failing.
    #[arg(long)]
    pub allow_truncated: bool,
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
}

pub fn run(args: PackageArgs) -> Result<()> {
    if args.inputs.len() > 1 {
        bail!(
            "{} inputs given: one input per run for now (several renditions per master playlist are \
             planned)",
            args.inputs.len()
        );
    }
    if !(args.segment_duration >= 0.5 && args.segment_duration <= 60.0) {
        bail!("--segment-duration must be between 0.5 and 60 seconds");
    }
    if !(1..=4096).contains(&args.max_buffer_mib) {
        bail!("--max-buffer-mib must be between 1 and 4096");
    }
    let input = &args.inputs[0];
    let started = Instant::now();
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let summary = package_file(
        input,
        &args.output,
        &options(&args),
        &open_options(&args),
        show_progress,
    )?;
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
    }
}

pub fn new_run_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Packages `input` into `outdir` atomically.
pub fn package_file(
    input: &Path,
    outdir: &Path,
    opts: &PackageOptions,
    open_opts: &OpenOptions,
    show_progress: bool,
) -> Result<PackageSummary> {
    let mut demux = input::open(input, open_opts)?;
    let name = outdir
        .file_name()
        .with_context(|| format!("output directory {} has no name", outdir.display()))?
        .to_string_lossy()
        .into_owned();
    let parent = match outdir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let tmp = parent.join(format!(".{name}.tmp-{}", opts.run_id));
    std::fs::create_dir(&tmp)
        .with_context(|| format!("cannot write to {} (is it writable?)", parent.display()))?;
    let guard = RemoveOnDrop(Some(tmp.clone()));

    let bar = progress_bar(show_progress);
    let mut on_progress = |p: Progress| {
        if let Some(total) = p.total_secs {
            bar.set_length((total * 1000.0) as u64);
        }
        bar.set_position((p.done_secs * 1000.0) as u64);
    };
    let mut store = FsStore::new(&tmp);
    let summary = package_streaming(demux.as_mut(), opts, &mut store, &mut on_progress)
        .with_context(|| input.display().to_string())?;
    bar.finish_and_clear();
    drop(store);

    // Swap into place: old OUTDIR (if any) aside, new one in, old one removed.
    let old = parent.join(format!(".{name}.old-{}", opts.run_id));
    let had_old = outdir.exists();
    if had_old {
        std::fs::rename(outdir, &old)
            .with_context(|| format!("cannot replace {}", outdir.display()))?;
    }
    if let Err(e) = std::fs::rename(&tmp, outdir) {
        if had_old {
            let _ = std::fs::rename(&old, outdir);
        }
        return Err(e).with_context(|| format!("cannot move output into {}", outdir.display()));
    }
    std::mem::forget(guard);
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(summary)
}

struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

fn progress_bar(show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {percent:>3}% {msg} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

pub fn human_bitrate(bps: u64) -> String {
    if bps >= 1_000_000 {
        format!("{:.2} Mb/s", bps as f64 / 1e6)
    } else {
        format!("{:.1} kb/s", bps as f64 / 1e3)
    }
}
