// SPDX-License-Identifier: MIT OR Apache-2.0
//! The default run (`hlsorigin` with no subcommand, i.e. `cargo run --release`): package every video in
//! `media/` into `playlists/NAME/` (skipping those already up to date), watch `media/` for files that
//! appear or change — packaging each only once it has stopped growing — and serve `playlists/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::Args;
use media::package::PackageOptions;
use notify::{RecursiveMode, Watcher};
use origin::ServeConfig;
use tokio::sync::mpsc;

use super::package::{human_bitrate, new_run_id, package_file};
use super::serve::{runtime, shutdown_signal};
use crate::input::OpenOptions;

/// File extensions the default run treats as videos.
const VIDEO_EXTENSIONS: &[&str] = &["mp4", "m4v", "mov", "m4a", "ts", "mts", "m2ts"];
/// Name of the stamp file recording which source an output was packaged from (a dotfile: never served).
const STAMP: &str = ".hlsorigin-source";
/// How long a file's size and mtime must stay unchanged before it is packaged.
const SETTLE: Duration = Duration::from_millis(1500);

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
}

pub fn run(args: DefaultRunArgs) -> Result<()> {
    std::fs::create_dir_all(&args.media)
        .with_context(|| format!("cannot create {}", args.media.display()))?;
    std::fs::create_dir_all(&args.playlists)
        .with_context(|| format!("cannot create {}", args.playlists.display()))?;
    let rt = runtime()?;
    rt.block_on(async move {
        let config = ServeConfig {
            root: args.playlists.clone(),
            listen: args.listen,
            ..args.serve.clone()
        };
        let server = origin::Server::bind(&config)
            .await
            .map_err(super::serve::bind_error)?;
        let base = format!("http://{}", server.local_addr());
        println!("serving {} on {base}/", args.playlists.display());

        // Package what is there now, then whatever appears.
        let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
        for path in videos_in(&args.media) {
            let _ = tx.send(path);
        }
        let _watcher = watch(&args.media, tx.clone())?;
        let playlists = args.playlists.clone();
        let packager = tokio::spawn(async move {
            while let Some(path) = rx.recv().await {
                if !path.is_file() || !is_video(&path) {
                    continue;
                }
                if !settled(&path).await {
                    continue;
                }
                let (p, out) = (path.clone(), playlists.join(stream_name(&path)));
                let base = base.clone();
                let res = tokio::task::spawn_blocking(move || package_if_stale(&p, &out)).await;
                match res {
                    Ok(Ok(Some(line))) => {
                        println!("{line} → {base}/{}/master.m3u8", stream_name(&path))
                    }
                    Ok(Ok(None)) => {
                        println!("up to date: {base}/{}/master.m3u8", stream_name(&path))
                    }
                    Ok(Err(e)) => tracing::error!("{}: {e:#}", path.display()),
                    Err(e) => tracing::error!("{}: packaging task failed: {e}", path.display()),
                }
            }
        });
        server.run(shutdown_signal()).await?;
        packager.abort();
        Ok(())
    })
}

fn is_video(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.')
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn videos_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && is_video(p))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// URL-safe stream name from a file name: `My Clip.mp4` → `My_Clip`.
fn stream_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("stream");
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches(['_', '.']).to_owned();
    if name.is_empty() {
        "stream".into()
    } else {
        name
    }
}

fn watch(dir: &Path, tx: mpsc::UnboundedSender<PathBuf>) -> Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            if matches!(
                event.kind,
                notify::EventKind::Create(_) | notify::EventKind::Modify(_)
            ) {
                for p in event.paths {
                    let _ = tx.send(p);
                }
            }
        }
    })
    .context("cannot start the file watcher")?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    Ok(watcher)
}

/// Waits until the file's size and mtime stop changing (a half-copied file is never packaged).
async fn settled(path: &Path) -> bool {
    let mut last = None;
    for _ in 0..600 {
        let now = std::fs::metadata(path)
            .ok()
            .map(|m| (m.len(), m.modified().ok()));
        let Some(now) = now else { return false };
        if last.as_ref() == Some(&now) && now.0 > 0 {
            return true;
        }
        last = Some(now);
        tokio::time::sleep(SETTLE).await;
    }
    false
}

fn source_stamp(path: &Path) -> Result<String> {
    let m = std::fs::metadata(path)?;
    let mtime = m
        .modified()?
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    Ok(format!(
        "{} {} {mtime} {}\n",
        path.display(),
        m.len(),
        env!("CARGO_PKG_VERSION")
    ))
}

/// Packages `src` into `out` unless `out` was already packaged from this very file.
fn package_if_stale(src: &Path, out: &Path) -> Result<Option<String>> {
    let stamp = source_stamp(src)?;
    if std::fs::read_to_string(out.join(STAMP)).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(None);
    }
    let opts = PackageOptions {
        run_id: new_run_id(),
        ..Default::default()
    };
    let summary = package_file(
        src,
        out,
        &opts,
        &OpenOptions {
            allow_truncated: false,
        },
        false,
    )?;
    std::fs::write(out.join(STAMP), stamp)?;
    Ok(Some(format!(
        "packaged {}: {} segments, {:.1} s, avg {}",
        src.display(),
        summary.segments,
        summary.duration,
        human_bitrate(summary.average_bandwidth)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_are_url_safe() {
        let cases = [
            ("media/sample.mp4", "sample"),
            ("media/My Clip (1).mov", "My_Clip__1_"),
            ("media/..evil.ts", "evil"),
            ("media/é.mp4", "stream"),
        ];
        for (path, want) in cases {
            assert_eq!(stream_name(Path::new(path)), want, "{path}");
        }
    }

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
