// SPDX-License-Identifier: MIT OR Apache-2.0
//! The default run (`hlsorigin` with no subcommand, i.e. `cargo run --release`): package every video in
//! `media/` into `playlists/NAME/` (skipping those already up to date), watch `media/` for files that
//! appear, change or go — packaging each only once it has stopped growing, removing the stream of a
//! deleted one — and serve `playlists/`. Naming: [`naming`]; when to package: [`scheduler`]; what an
//! output was packaged from: [`record`].

mod ingest;
mod naming;
mod progress_events;
mod record;
mod scheduler;
mod storage;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use media::package::PackageOptions;
use origin::ServeConfig;
use tokio::sync::mpsc;

use self::record::{records_in, SourceRecord, STAMP};
use self::scheduler::Scheduler;
use super::package::{human_bitrate, new_run_id, package_file};
use super::serve::{runtime, shutdown_signal};
use crate::input::OpenOptions;

/// File extensions the default run treats as videos.
const VIDEO_EXTENSIONS: &[&str] = &["mp4", "m4v", "mov", "m4a", "ts", "mts", "m2ts"];

#[derive(Debug, Clone, Args)]
pub struct DefaultRunArgs {
    /// Directory of source videos to package and watch.
    #[arg(long, default_value = "media")]
    pub media: PathBuf,
    /// Directory the streams are written to and served from.
    #[arg(long, visible_alias = "root", default_value = "playlists")]
    pub playlists: PathBuf,
    /// Address to listen on, HOST:PORT (HTTP/1.1 and HTTP/2 with prior knowledge on one port).
    #[arg(long, default_value = origin::config::DEFAULT_LISTEN, value_parser = super::parse_listen)]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub serve: ServeConfig,
    /// RTMP ingest (OBS, ffmpeg) into the same playlists directory.
    #[command(flatten)]
    pub ingest: ingest::IngestArgs,
    /// With `--playlists s3://…`: how long a superseded run of a re-packaged video stays
    /// (deleted by a later packaging of the same video), as `package --gc-grace`: `600`,
    /// `90s`, `10m`, `1h`.
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = crate::storage::runs::parse_duration)]
    pub gc_grace: std::time::Duration,
}

pub fn run(args: DefaultRunArgs) -> Result<()> {
    std::fs::create_dir_all(&args.media)
        .with_context(|| format!("cannot create {}", args.media.display()))?;
    // `--playlists s3://BUCKET/PREFIX`: see [`storage`].
    let url = args.playlists.to_str().and_then(origin::StorageUrl::parse);
    let url = url.transpose().map_err(anyhow::Error::msg)?;
    if url.is_none() {
        std::fs::create_dir_all(&args.playlists)
            .with_context(|| format!("cannot create {}", args.playlists.display()))?;
    }
    let media_canon = std::fs::canonicalize(&args.media)
        .with_context(|| format!("cannot resolve {}", args.media.display()))?;
    let rt = runtime()?;
    let stored = match &url {
        Some(url) => Some(storage::Stored::connect(
            rt.handle().clone(),
            url,
            args.gc_grace,
        )?),
        None => None,
    };
    let flush = stored.as_ref().map(|(_, target)| target.clone());
    let result = rt.block_on(async move {
        let config = ServeConfig {
            root: args.playlists.clone(),
            listen: args.listen,
            ..args.serve.clone()
        };
        let (server, live) = match &stored {
            Some((stored, target)) => stored.bind(&config, target).await?,
            None => {
                // As origin::Server::bind does, keeping the live playlists for the ingest's streams.
                let source = origin::FsSource::new(&config.root)
                    .with_context(|| format!("cannot serve {}", config.root.display()))?;
                let live = origin::LivePlaylists::watching(source.root());
                let source = origin::LiveSource::new(source, live.clone());
                let server = origin::Server::bind_with_source(&config, source)
                    .await
                    .map_err(super::serve::bind_error)?;
                (server, live)
            }
        };
        let base = format!("http://{}", server.local_addr());
        println!("serving {} on {base}/", args.playlists.display());
        let origin = (live, server.ingest_metrics());
        let target = stored.as_ref().map(|(_, t)| t.clone());
        let ingest = ingest::start(&args.ingest, &args.playlists, origin, &base, target).await?;

        let mut scheduler = Scheduler::new(
            args.media.clone(),
            media_canon,
            args.playlists.clone(),
            base,
        );
        scheduler.events = server.events().clone();
        match stored {
            Some((stored, _)) => {
                let stored = Arc::new(stored);
                storage::adopt_outputs(&mut scheduler, &stored).await;
                scheduler.storage = Some(stored);
            }
            None => adopt_outputs(&mut scheduler),
        }
        // Watch first, then list: a file arriving in between is reported, not missed.
        let (tx, rx) = mpsc::unbounded_channel();
        let _watcher = scheduler::watch(&args.media, tx)?;
        for file in videos_in(&args.media) {
            scheduler.found_at_start(file);
        }
        let packager = tokio::spawn(scheduler.run(rx));
        let ingest = ingest.map(|i| tokio::spawn(i.run_until(shutdown_signal())));
        server.run(shutdown_signal()).await?;
        packager.abort();
        if let Some(ingest) = ingest {
            let _ = ingest.await;
        }
        Ok(())
    });
    if let Some(target) = flush {
        // What the live drivers handed over is uploaded before the process ends.
        rt.block_on(target.flush(std::time::Duration::from_secs(30)));
    }
    result
}

/// Reads the source records of `playlists/`: a stream whose source is still in `media/` keeps its name;
/// one whose source was deleted while hlsorigin was not running is removed. Records written for another
/// media directory are left alone.
fn adopt_outputs(s: &mut Scheduler) {
    let here = s.media_canon.to_string_lossy().into_owned();
    for (name, rec) in records_in(&s.playlists) {
        let src = s.media.join(&rec.file);
        if src.is_file() {
            s.names.claim(&name, &rec.file);
        } else if rec.media == here && remove_stream(&s.playlists, &name, &src) {
            s.removed(&name);
        }
    }
}

/// Removes the stream `name` whose source `src` is gone: its output leaves `playlists/` (moved aside
/// first, so the listing never shows half a stream) and `/api/streams`. The one place a stream leaves
/// the list; true when it did (the caller sends `stream.removed`).
fn remove_stream(playlists: &Path, name: &str, src: &Path) -> bool {
    let out = playlists.join(name);
    let owned =
        SourceRecord::read(&out).is_some_and(|r| Some(OsStr::new(&r.file)) == src.file_name());
    if !owned {
        return false; // not (or no longer) this source's output: never delete what we did not write
    }
    let aside = playlists.join(format!(".{name}.removed-{}", new_run_id()));
    let res = std::fs::rename(&out, &aside).and_then(|()| std::fs::remove_dir_all(&aside));
    match res {
        Ok(()) => {
            println!(
                "removed stream {name}: its source {} is gone",
                src.display()
            );
            true
        }
        Err(e) => {
            tracing::error!(
                "cannot remove {} (source {} is gone): {e}",
                out.display(),
                src.display()
            );
            false
        }
    }
}

fn is_video(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.')
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// A file name the source record can hold: UTF-8, one line.
fn usable_name(name: &OsStr) -> Result<String, &'static str> {
    let name = name.to_str().ok_or("its file name is not UTF-8")?;
    if name.contains(['\n', '\r']) {
        return Err("its file name contains a line break");
    }
    Ok(name.to_owned())
}

/// The usable video file names in `dir`, sorted.
fn videos_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().is_file() && is_video(&e.path()))
                .filter_map(|e| match usable_name(&e.file_name()) {
                    Ok(name) => Some(name),
                    Err(why) => {
                        tracing::warn!("{}: skipped: {why}", e.path().display());
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Packages `src` into `out` as run `run_id` unless `out` was already packaged from this very file
/// (`record` is the file's record now).
fn package_if_stale(
    src: &Path,
    out: &Path,
    record: &SourceRecord,
    run_id: String,
    on_progress: &mut dyn FnMut(media::package::Progress),
) -> Result<Option<String>> {
    if SourceRecord::read(out).is_some_and(|old| old.up_to_date(record)) {
        return Ok(None);
    }
    let opts = PackageOptions {
        run_id,
        ..Default::default()
    };
    let summary = package_file(
        src,
        out,
        &opts,
        &OpenOptions {
            allow_truncated: false,
            drop_bad_samples: false,
        },
        on_progress,
    )?;
    let stamp = out.join(STAMP);
    std::fs::write(&stamp, record.render())
        .with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(Some(packaged_line(src, &summary)))
}

/// The line the default run logs for a packaged video.
fn packaged_line(src: &Path, summary: &media::package::PackageSummary) -> String {
    format!(
        "packaged {}: {} segments, {:.1} s, avg {}",
        src.display(),
        summary.segments,
        summary.duration,
        human_bitrate(summary.average_bandwidth)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_videos_are_picked_up() {
        for (name, want) in [
            ("a.mp4", true),
            ("b.TS", true),
            ("c.txt", false),
            (".d.mp4", false),
            ("e", false),
        ] {
            assert_eq!(is_video(Path::new(name)), want, "{name}");
        }
    }
}
