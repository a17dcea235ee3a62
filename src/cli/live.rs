// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin live`: package a live MPEG-TS input (UDP, TCP, stdin) into ROOT/NAME/ as live
//! HLS or LL-HLS and, with `--listen`, serve ROOT from the same process, answering blocking
//! playlist reloads and preload-hint requests from memory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use media::live::{LiveConfig, WindowKind};
use media::package::Format;
use origin::{FsSource, LivePlaylists, LivePublisher, LiveSource, ServeConfig};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::package::FormatArg;
use super::serve::{runtime, shutdown_signal};
use crate::ingest::driver::{self, Driver, DriverConfig, OnInputLoss};
use crate::ingest::{self, Input};

/// Events buffered between the input and the driver.
const INGEST_QUEUE: usize = 4096;

#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// MPEG-TS input: udp://HOST:PORT (a multicast group is joined), tcp://HOST:PORT (listen;
    /// one encoder at a time, reconnects welcome) or - (stdin).
    #[arg(long, value_name = "URL")]
    pub input: Input,
    /// Stream name: output goes to ROOT/NAME/ (master.m3u8 is the entry point).
    #[arg(long)]
    pub name: String,
    /// Directory of streams.
    #[arg(long, default_value = "playlists")]
    pub root: PathBuf,
    /// Also serve ROOT over HTTP here (playlist at http://ADDR/NAME/master.m3u8).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Segment container (LL-HLS needs fmp4).
    #[arg(long, value_enum, default_value_t = FormatArg::Fmp4)]
    pub format: FormatArg,
    /// Wanted segment duration in seconds; EXT-X-TARGETDURATION is its ceiling.
    #[arg(long, default_value_t = 2.0)]
    pub segment_duration: f64,
    /// Segments listed in the sliding window (Apple asks for at least 6).
    #[arg(long, default_value_t = 6)]
    pub window: usize,
    /// EVENT playlist: keep every segment (EXT-X-PLAYLIST-TYPE:EVENT).
    #[arg(long, conflicts_with = "dvr")]
    pub event: bool,
    /// DVR window: keep at least this much (e.g. 30m, 90s, 2h).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub dvr: Option<f64>,
    /// Low-Latency HLS: parts, preload hints, blocking reload, delta updates.
    #[arg(long)]
    pub ll_hls: bool,
    /// LL-HLS part target in seconds (0.2 to the target duration).
    #[arg(long, default_value_t = 0.2, requires = "ll_hls")]
    pub part_duration: f64,
    /// Seconds without input after which the input counts as gone.
    #[arg(long, default_value_t = 10.0)]
    pub input_timeout: f64,
    /// When the input is gone: end the playlist, or wait for the encoder to come back.
    #[arg(long, value_enum, default_value_t = OnInputLoss::End)]
    pub on_input_loss: OnInputLoss,
    /// Allow HEVC in MPEG-TS segments (Apple devices reject it: HEVC must be fMP4).
    #[arg(long)]
    pub allow_hevc_ts: bool,
}

/// `90`, `90s`, `30m`, `2h` → seconds.
fn parse_duration(s: &str) -> std::result::Result<f64, String> {
    let (num, unit) = match s.char_indices().last() {
        Some((i, c @ ('s' | 'm' | 'h'))) => (s.get(..i).unwrap_or_default(), c),
        _ => (s, 's'),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration such as 90s, 30m or 2h"))?;
    let secs = match unit {
        'h' => n * 3600.0,
        'm' => n * 60.0,
        _ => n,
    };
    if secs.is_finite() && secs > 0.0 {
        Ok(secs)
    } else {
        Err(format!("{s:?}: the duration must be positive"))
    }
}

/// A stream name is one directory: letters, digits, `.`, `_`, `-`, not starting with `.`.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        bail!("--name {name:?}: use letters, digits, '.', '_' and '-' (not starting with '.')");
    }
    Ok(())
}

fn live_config(args: &LiveArgs) -> Result<LiveConfig> {
    check_name(&args.name)?;
    let format = match args.format {
        FormatArg::Fmp4 => Format::Fmp4,
        FormatArg::Ts => Format::Ts,
    };
    if args.ll_hls && format != Format::Fmp4 {
        bail!("--ll-hls needs --format fmp4 (parts are CMAF chunks)");
    }
    if !(args.input_timeout.is_finite() && args.input_timeout > 0.0) {
        bail!("--input-timeout must be a positive number of seconds");
    }
    let kind = match (args.event, args.dvr) {
        (true, _) => WindowKind::Event,
        (false, Some(secs)) => WindowKind::Dvr(secs),
        (false, None) => WindowKind::Sliding,
    };
    Ok(LiveConfig {
        format,
        segment_duration: args.segment_duration,
        window: args.window,
        kind,
        part_duration: args.ll_hls.then_some(args.part_duration),
        rendition: "stream".into(),
        allow_hevc_ts: args.allow_hevc_ts,
        ..LiveConfig::default()
    })
}

pub fn run(args: LiveArgs) -> Result<()> {
    let live = live_config(&args)?;
    // Report a bad configuration now rather than when the first samples arrive (with no
    // tracks, only the track check can fail after the configuration checks).
    match media::live::LiveStream::new(live.clone(), vec![]) {
        Err(media::Error::NoTracks) | Ok(_) => {}
        Err(e) => return Err(e.into()),
    }
    let playlist = format!("{}/{}.m3u8", args.name, live.rendition);
    let cfg = DriverConfig {
        live,
        dir: args.root.join(&args.name),
        input_timeout: Duration::from_secs_f64(args.input_timeout),
        on_loss: args.on_input_loss,
    };
    let rt = runtime()?;
    let result = rt.block_on(serve_and_package(args, cfg, playlist));
    // A stdin read may still be blocked in the blocking pool: do not wait for it.
    rt.shutdown_background();
    result
}

type ServerTask = JoinHandle<Result<(), origin::OriginError>>;

/// Serves `root` with the live playlist `playlist` published in-process.
async fn start_server(
    root: &Path,
    listen: SocketAddr,
    playlist: &str,
) -> Result<(oneshot::Sender<()>, ServerTask, LivePublisher)> {
    let config = ServeConfig {
        root: root.to_path_buf(),
        listen,
        ..ServeConfig::default()
    };
    let source = FsSource::new(root).with_context(|| format!("cannot serve {}", root.display()))?;
    // Other live playlists under the root (written by other processes) block too.
    let live = LivePlaylists::watching(source.root());
    let publisher = live.publisher(playlist);
    let server = origin::Server::bind_with_source(&config, LiveSource::new(source, live))
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = server.local_addr();
    println!("serving {} on http://{addr}/", root.display());
    let master = playlist.rsplit_once('/').map_or("", |(dir, _)| dir);
    println!("stream http://{addr}/{master}/master.m3u8");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Ok((stop, task, publisher))
}

async fn serve_and_package(args: LiveArgs, cfg: DriverConfig, playlist: String) -> Result<()> {
    let bound = ingest::bind(&args.input).await?;
    std::fs::create_dir_all(&cfg.dir)
        .with_context(|| format!("cannot create {}", cfg.dir.display()))?;
    println!("ingest {} into {}", bound.describe(), cfg.dir.display());
    let (server, publisher) = match args.listen {
        Some(listen) => {
            let (stop, task, publisher) = start_server(&args.root, listen, &playlist).await?;
            (Some((stop, task)), Some(publisher))
        }
        None => (None, None),
    };

    let driver = Driver::new(cfg, publisher)?;
    let (tx, rx) = mpsc::channel(INGEST_QUEUE);
    let (done_tx, mut done_rx) = oneshot::channel();
    let handle = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("live-driver".into())
        .spawn(move || {
            let _ = done_tx.send(driver::run(driver, rx, handle));
        })
        .context("cannot start the live driver thread")?;
    let mut ingest_task = tokio::spawn(bound.run(tx));

    let stopped_by_driver = tokio::select! {
        () = shutdown_signal() => None,
        r = &mut done_rx => Some(r.unwrap_or_else(|_| Err(anyhow!("the live driver stopped")))),
    };
    let result = match stopped_by_driver {
        None => {
            // Dropping the input's sender makes the driver end the stream and return.
            ingest_task.abort();
            done_rx.await.unwrap_or(Ok(()))
        }
        Some(Err(e)) => {
            ingest_task.abort();
            Err(e)
        }
        Some(Ok(())) => {
            // The input ended (stdin) or failed (its error is the task's result).
            let input = match tokio::time::timeout(Duration::from_secs(5), &mut ingest_task).await {
                Ok(Ok(r)) => r,
                _ => {
                    ingest_task.abort();
                    Ok(())
                }
            };
            if input.is_ok() && server.is_some() {
                println!("input ended; still serving (Ctrl-C to stop)");
                shutdown_signal().await;
            }
            input
        }
    };
    if let Some((stop, task)) = server {
        let _ = stop.send(());
        if let Ok(Err(e)) = task.await {
            tracing::warn!(error = %e, "origin stopped with an error");
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases: &[(&str, Option<f64>)] = &[
            ("90", Some(90.0)),
            ("90s", Some(90.0)),
            ("30m", Some(1800.0)),
            ("2h", Some(7200.0)),
            ("0.5m", Some(30.0)),
            ("0", None),
            ("-1m", None),
            ("m", None),
            ("", None),
            ("10x", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_duration(s).ok(), *want, "{s:?}");
        }
    }

    #[test]
    fn names() {
        for ok in ["news", "a.b_c-1"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "..", "sp ace"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
