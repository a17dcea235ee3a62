// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin live`: package a live MPEG-TS input (UDP, TCP, stdin) into ROOT/NAME/ as live
//! HLS or LL-HLS and, with `--listen`, serve ROOT from the same process, answering blocking
//! playlist reloads and preload-hint requests from memory.
//!
//! Several `--input`s are the renditions of one stream (an encoder ladder sending each
//! rendition as its own transport stream): one input task, driver task and media playlist
//! per rendition, one `master.m3u8` listing them all (see `ingest::group`), one origin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use media::live::{LiveConfig, WindowKind};
use media::package::Format;
use origin::{FsSource, LivePlaylists, LivePublisher, LiveSource, ServeConfig};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::live_server::PublishArgs;
use super::package::FormatArg;
use super::serve::{runtime, shutdown_signal};
use crate::ingest::driver::{self, Driver, DriverConfig, OnInputLoss};
use crate::ingest::events::LiveEvents;
use crate::ingest::{self, group, IngestEvent, Input};

/// Events buffered between the input and the driver.
const INGEST_QUEUE: usize = 4096;

#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// MPEG-TS input: udp://HOST:PORT (a multicast group is joined), tcp://HOST:PORT (listen;
    /// one encoder at a time, reconnects welcome) or - (stdin). Repeat it for several
    /// renditions of the stream (e.g. 1080p, 720p, 360p of one encoder, each its own
    /// transport stream): each gets its own media playlist, master.m3u8 lists them all.
    #[arg(long, value_name = "URL", required_unless_present_any = ["rtmp_listen", "srt_listen"])]
    pub input: Vec<Input>,
    /// Rendition names, one per --input in order (media playlist NAME.m3u8). Default:
    /// `stream` for one input, `stream_0`, `stream_1`, … for several.
    #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
    pub rendition_names: Vec<String>,
    /// Stream name: output goes to ROOT/NAME/ (master.m3u8 is the entry point).
    #[arg(long, required_unless_present_any = ["rtmp_listen", "srt_listen"])]
    pub name: Option<String>,
    /// Server mode: listen for RTMP publishers here, HOST:PORT; `rtmp://HOST:PORT/APP/NAME`
    /// creates stream NAME (ROOT/NAME/master.m3u8). No --input, no --name.
    #[arg(long, value_name = "ADDR", value_parser = super::parse_listen, conflicts_with_all = ["input", "name"])]
    pub rtmp_listen: Option<SocketAddr>,
    /// Server mode: listen for SRT callers here, HOST:PORT (UDP); streamid `NAME` or
    /// `#!::r=NAME,m=publish` creates stream NAME. No --input, no --name.
    #[arg(long, value_name = "ADDR", value_parser = super::parse_listen, conflicts_with_all = ["input", "name"])]
    pub srt_listen: Option<SocketAddr>,
    /// Publishers: stream keys, takeover, connection bound.
    #[command(flatten)]
    pub publish: PublishArgs,
    /// Directory of streams, or `s3://BUCKET/PREFIX` (object storage; README "Scaling out").
    #[arg(long, default_value = "playlists")]
    pub root: PathBuf,
    /// Also serve ROOT over HTTP here, HOST:PORT (playlist at http://ADDR/NAME/master.m3u8);
    /// the origin options below apply to it.
    #[arg(long, value_parser = super::parse_listen)]
    pub listen: Option<SocketAddr>,
    /// Segment container (LL-HLS needs fmp4).
    #[arg(long, value_enum, default_value_t = FormatArg::Fmp4)]
    pub format: FormatArg,
    /// Wanted segment duration in seconds; EXT-X-TARGETDURATION is its ceiling, or more when
    /// the input's keyframe interval is longer (segments start on keyframes).
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
    /// The origin's options (as for `serve`), used with --listen.
    #[command(flatten)]
    pub origin: ServeConfig,
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
pub(super) fn check_name(name: &str) -> Result<()> {
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

/// The rendition name of each input, checked: one per input, distinct, usable in object
/// names, and not `master` (its playlist would be master.m3u8).
fn rendition_names(args: &LiveArgs) -> Result<Vec<String>> {
    let n = args.input.len();
    let names: Vec<String> = match (args.rendition_names.is_empty(), n) {
        (true, 1) => vec!["stream".into()],
        (true, _) => (0..n).map(|i| format!("stream_{i}")).collect(),
        (false, _) => args.rendition_names.clone(),
    };
    if names.len() != n {
        bail!(
            "--rendition-names gives {} names for {n} inputs",
            names.len()
        );
    }
    for (i, name) in names.iter().enumerate() {
        if check_name(name).is_err() || name == "master" {
            bail!("rendition name {name:?}: use letters, digits, '.', '_' and '-' (not starting with '.'), not \"master\"");
        }
        if names.get(..i).is_some_and(|before| before.contains(name)) {
            bail!("rendition name {name:?} given twice");
        }
    }
    for (i, input) in args.input.iter().enumerate() {
        if args
            .input
            .get(..i)
            .is_some_and(|before| before.contains(input))
        {
            bail!("--input {input} given twice");
        }
    }
    Ok(names)
}

pub(super) fn live_config(args: &LiveArgs) -> Result<LiveConfig> {
    if args.listen.is_none() && args.origin != ServeConfig::default() {
        bail!(
            "origin options (--cors-origin, --cache-*, --tls-*, --hlsjs-url, --webhook, …) apply to the \
             server: add --listen ADDR, or drop them"
        );
    }
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

/// One driver configuration per input, in input order.
fn driver_configs(args: &LiveArgs) -> Result<Vec<DriverConfig>> {
    let name = args.name.as_deref().unwrap_or_default();
    check_name(name)?;
    let live = live_config(args)?;
    let names = rendition_names(args)?;
    if args.input.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        bail!("only one --input can be stdin (-)");
    }
    let dir = args.root.join(name);
    let input_timeout = Duration::from_secs_f64(args.input_timeout);
    // Several renditions share master.m3u8; it waits for all of them at most one input
    // timeout (an input silent that long counts as gone).
    let group = (names.len() > 1).then(|| group::members(names.len(), &dir, input_timeout));
    let mut configs = Vec::with_capacity(names.len());
    for (i, rendition) in names.into_iter().enumerate() {
        let live = LiveConfig {
            rendition,
            write_master: group.is_none(),
            aligned_cuts: group.is_some(),
            ..live.clone()
        };
        // Report a bad configuration now rather than when the first samples arrive (with
        // no tracks, only the track check can fail after the configuration checks).
        match media::live::LiveStream::new(live.clone(), vec![]) {
            Err(media::Error::NoTracks) | Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        configs.push(DriverConfig {
            live,
            dir: dir.clone(),
            input_timeout,
            on_loss: args.on_input_loss,
            group: group.as_ref().and_then(|g| g.get(i).cloned()),
            storage: None,
        });
    }
    Ok(configs)
}

pub fn run(args: LiveArgs) -> Result<()> {
    if args.rtmp_listen.is_some() || args.srt_listen.is_some() {
        return super::live_server::run(args);
    }
    let mut configs = driver_configs(&args)?;
    let rt = runtime()?;
    let mut storage = None;
    if let Some(url) = args.root.to_str().and_then(origin::StorageUrl::parse) {
        let url = url
            .map_err(anyhow::Error::msg)?
            .join(args.name.as_deref().unwrap_or_default());
        let target = crate::storage::live::LiveTarget::from_url(rt.handle().clone(), &url)?;
        for c in &mut configs {
            c.storage = Some(target.clone());
        }
        // Several renditions: their shared master.m3u8 goes into storage too.
        if let Some(group) = configs.first().and_then(|c| c.group.as_ref()) {
            group.write_into(Box::new(target.master_store()));
        }
        storage = Some(target);
    }
    // With --listen: the packager's own origin serves the prefix from storage.
    let served = storage
        .as_ref()
        .map(|t: &crate::storage::live::LiveTarget| {
            let root = args.root.to_str().and_then(origin::StorageUrl::parse);
            let prefix = root
                .and_then(Result::ok)
                .map(|u| u.prefix)
                .unwrap_or_default();
            (
                origin::StoreSource::new(t.object_store(), &prefix),
                t.stats(),
            )
        });
    let result = rt.block_on(serve_and_package(args, configs, served));
    if let Some(target) = storage {
        // What the drivers handed over is uploaded before the process ends.
        rt.block_on(target.flush(std::time::Duration::from_secs(30)));
    }
    // A stdin read may still be blocked in the blocking pool: do not wait for it.
    rt.shutdown_background();
    result
}

pub(super) type ServerTask = JoinHandle<Result<(), origin::OriginError>>;

/// A running origin: its stop switch and task, the live playlists packagers publish
/// through, and its ingest counters.
pub(super) struct Origin {
    pub stop: oneshot::Sender<()>,
    pub task: ServerTask,
    pub live: LivePlaylists,
    pub metrics: origin::IngestMetrics,
}

impl Origin {
    /// Runs `server` (serving `root`, publishing through `live`) until stopped; prints
    /// `serving ROOT on http://ADDR/` and, for a single stream `name`, its URL.
    fn start(
        server: origin::Server,
        root: &std::path::Path,
        name: Option<&str>,
        live: LivePlaylists,
    ) -> Self {
        let addr = server.local_addr();
        println!("serving {} on http://{addr}/", root.display());
        if let Some(name) = name {
            println!("stream http://{addr}/{name}/master.m3u8");
        }
        let metrics = server.ingest_metrics();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Origin {
            stop,
            task,
            live,
            metrics,
        }
    }

    /// Stops the origin and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Ok(Err(e)) = self.task.await {
            tracing::warn!(error = %e, "origin stopped with an error");
        }
    }
}

/// The origin of a `live` run when `--listen` asks for one (`listen`): over the storage
/// the packager writes into, or over `root`, with the other settings of `base`.
pub(super) async fn start_origin(
    listen: Option<SocketAddr>,
    root: &std::path::Path,
    base: &ServeConfig,
    storage: Option<Served>,
    name: Option<&str>,
) -> Result<Option<Origin>> {
    let Some(listen) = listen else {
        return Ok(None);
    };
    let config = ServeConfig {
        root: root.to_path_buf(),
        listen,
        ..base.clone()
    };
    Ok(Some(match storage {
        Some(storage) => start_storage_server(&config, storage, name).await?,
        None => start_server(&config, name).await?,
    }))
}

/// Serves `config.root` with live playlists published in-process (and those other processes
/// write, watched); prints `serving ROOT on http://ADDR/` and, for a single stream `name`,
/// its URL.
async fn start_server(config: &ServeConfig, name: Option<&str>) -> Result<Origin> {
    let root = config.root.as_path();
    let source = FsSource::new(root).with_context(|| format!("cannot serve {}", root.display()))?;
    // Other live playlists under the root (written by other processes) block too.
    let live = LivePlaylists::watching(source.root());
    let server = origin::Server::bind_with_source(config, LiveSource::new(source, live.clone()))
        .await
        .map_err(super::serve::bind_error)?;
    Ok(Origin::start(server, root, name, live))
}

/// Serves the storage prefix the packager writes into, following its own events
/// (`live --root s3://… --listen`); prints the same lines as [`start_server`].
async fn start_storage_server(
    config: &ServeConfig,
    storage: Served,
    name: Option<&str>,
) -> Result<Origin> {
    use crate::storage::serve::{follow_own_events, FollowingSource};
    let (source, stats) = storage;
    let (source, live) = FollowingSource::new(source, Some(stats));
    let server = origin::Server::bind_with_source(config, source)
        .await
        .map_err(super::serve::bind_error)?;
    tokio::spawn(follow_own_events(live.clone()));
    Ok(Origin::start(server, &config.root, name, live))
}

/// The storage the packager writes into, as its origin serves it, and its upload counters.
pub(super) type Served = (
    origin::StoreSource,
    std::sync::Arc<crate::storage::uploader::UploadStats>,
);

async fn serve_and_package(
    args: LiveArgs,
    configs: Vec<DriverConfig>,
    storage: Option<Served>,
) -> Result<()> {
    let bound = bind_inputs(&args, &configs).await?;
    let name = args.name.clone().unwrap_or_default();
    let into_storage = storage.is_some();
    let server = start_origin(args.listen, &args.root, &args.origin, storage, Some(&name)).await?;
    let policy = args.publish.policy()?;
    let metrics = server.as_ref().map(|s| s.metrics.clone());
    let (done_tx, done_rx) = mpsc::unbounded_channel::<(usize, Result<()>)>();
    let mut inputs = Vec::with_capacity(configs.len());
    for (i, (cfg, b)) in configs.into_iter().zip(bound).enumerate() {
        let publisher = server.as_ref().map(|s| {
            let playlist = format!("{name}/{}.m3u8", cfg.live.rendition);
            if into_storage {
                // Playlists and parts are served from storage once stored, not from memory.
                s.live.events_only()
            } else {
                s.live.publisher(&playlist)
            }
        });
        // One rendition announces the stream (stream.added), each reports its own segments.
        let done = done_tx.clone();
        let tx = spawn_driver(&name, i, cfg, publisher, move |r| {
            let _ = done.send((i, r));
        })?;
        inputs.push(tokio::spawn(b.run(tx, policy.clone(), metrics.clone())));
    }
    drop(done_tx);
    let result = supervise(&mut inputs, done_rx, server.is_some()).await;
    if let Some(server) = server {
        server.stop().await;
    }
    result
}

/// Binds every `--input` and creates ROOT/NAME, printing one `ingest …` line per input.
async fn bind_inputs(args: &LiveArgs, configs: &[DriverConfig]) -> Result<Vec<ingest::Bound>> {
    let mut bound = Vec::with_capacity(args.input.len());
    for input in &args.input {
        bound.push(ingest::bind(input).await?);
    }
    let dir = args.root.join(args.name.as_deref().unwrap_or_default());
    if configs.iter().all(|c| c.storage.is_none()) {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for (b, cfg) in bound.iter().zip(configs) {
        if configs.len() > 1 {
            let rendition = &cfg.live.rendition;
            println!(
                "ingest {} into {} as {rendition}",
                b.describe(),
                dir.display()
            );
        } else {
            println!("ingest {} into {}", b.describe(), dir.display());
        }
    }
    Ok(bound)
}

pub(super) type Done = mpsc::UnboundedReceiver<(usize, Result<()>)>;

/// The per-stream pipeline, the same for every input and mode: rendition `index` of stream
/// `name` gets a driver task of its own (calling `done` with its result when it ends), and
/// the
/// events of the origin its `publisher` belongs to (rendition 0 speaks for the stream:
/// stream.added/live/ended; each reports its own segments).
/// Returns the sender its input feeds.
pub(super) fn spawn_driver(
    name: &str,
    index: usize,
    cfg: DriverConfig,
    publisher: Option<LivePublisher>,
    done: impl FnOnce(Result<()>) + Send + 'static,
) -> Result<mpsc::Sender<IngestEvent>> {
    let events = publisher.as_ref().map(|p| {
        LiveEvents::new(
            p.events().clone(),
            name,
            &cfg.live.rendition,
            cfg.live.kind,
            index == 0,
        )
    });
    // Several renditions: their log lines say which one.
    let span = match cfg.group {
        Some(_) => tracing::info_span!("rendition", name = %cfg.live.rendition),
        None => tracing::Span::none(),
    };
    let mut driver = Driver::new(cfg, publisher)?;
    if let Some(events) = events {
        driver = driver.with_events(events);
    }
    let (tx, rx) = mpsc::channel(INGEST_QUEUE);
    tokio::spawn(
        async move {
            done(driver::run(driver, rx).await);
        }
        .instrument(span),
    );
    Ok(tx)
}

/// Waits for the renditions to end (or for Ctrl-C / SIGTERM): an error in one stops them all;
/// when every input has ended and the origin serves, it keeps serving until the signal.
async fn supervise(
    inputs: &mut [JoinHandle<Result<()>>],
    mut done_rx: Done,
    serving: bool,
) -> Result<()> {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut running = inputs.len();
    loop {
        let (i, ended) = tokio::select! {
            () = &mut shutdown => {
                // Dropping the inputs' senders makes every driver end its stream and return.
                stop_all(inputs, &mut done_rx, running).await;
                return Ok(());
            }
            r = done_rx.recv() => match r {
                Some(r) => r,
                None => return Ok(()),
            },
        };
        running = running.saturating_sub(1);
        let result = match ended {
            Err(e) => Err(e),
            // The input ended (stdin) or failed (its error is the task's result).
            Ok(()) => input_result(inputs.get_mut(i)).await,
        };
        if let Some(task) = inputs.get(i) {
            task.abort();
        }
        if result.is_err() {
            // A rendition that cannot go on stops the stream: the others end too.
            stop_all(inputs, &mut done_rx, running).await;
            return result;
        }
        if running == 0 {
            if serving {
                println!("input ended; still serving (Ctrl-C to stop)");
                (&mut shutdown).await;
            }
            return Ok(());
        }
    }
}

/// The result of an input task whose driver has returned (its error, if it failed).
async fn input_result(task: Option<&mut JoinHandle<Result<()>>>) -> Result<()> {
    let Some(task) = task else {
        return Ok(());
    };
    match tokio::time::timeout(Duration::from_secs(5), task).await {
        Ok(Ok(r)) => r,
        _ => Ok(()),
    }
}

/// Stops every input and waits for the `running` drivers to end their streams.
async fn stop_all(
    inputs: &[JoinHandle<Result<()>>],
    done: &mut mpsc::UnboundedReceiver<(usize, Result<()>)>,
    running: usize,
) {
    for task in inputs {
        task.abort();
    }
    for _ in 0..running {
        match done.recv().await {
            Some((_, Err(e))) => tracing::warn!(error = %e, "a live driver stopped with an error"),
            Some((_, Ok(()))) => {}
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

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

    fn parse(args: &[&str]) -> Result<LiveArgs> {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            live: LiveArgs,
        }
        let argv = std::iter::once("live").chain(args.iter().copied());
        Ok(<Cli as clap::Parser>::try_parse_from(argv)?.live)
    }

    /// Inputs → rendition names (or the start of the error).
    #[test]
    fn renditions() {
        let u = |p: u16| format!("udp://127.0.0.1:{p}");
        let (a, b, c) = (u(1), u(2), u(3));
        type Case<'a> = (Vec<&'a str>, std::result::Result<Vec<&'a str>, &'a str>);
        let cases: Vec<Case> = vec![
            (vec!["--input", &a], Ok(vec!["stream"])),
            (
                vec!["--input", &a, "--input", &b],
                Ok(vec!["stream_0", "stream_1"]),
            ),
            (
                vec![
                    "--input",
                    &a,
                    "--input",
                    &b,
                    "--input",
                    &c,
                    "--rendition-names",
                    "hi,mid,lo",
                ],
                Ok(vec!["hi", "mid", "lo"]),
            ),
            (
                vec!["--input", &a, "--rendition-names", "main"],
                Ok(vec!["main"]),
            ),
            (
                vec!["--input", &a, "--input", &b, "--rendition-names", "x"],
                Err("--rendition-names gives 1 names for 2 inputs"),
            ),
            (
                vec!["--input", &a, "--input", &b, "--rendition-names", "x,x"],
                Err("rendition name \"x\" given twice"),
            ),
            (
                vec![
                    "--input",
                    &a,
                    "--input",
                    &b,
                    "--rendition-names",
                    "master,x",
                ],
                Err("rendition name \"master\""),
            ),
            (
                vec!["--input", &a, "--input", &b, "--rendition-names", "a/b,x"],
                Err("rendition name \"a/b\""),
            ),
            (
                vec!["--input", &a, "--input", &a],
                Err("--input udp://127.0.0.1:1 given twice"),
            ),
            (
                vec!["--input", "-", "--input", "-"],
                Err("--input stdin given twice"),
            ),
        ];
        for (args, want) in cases {
            let mut argv = vec!["--name", "n"];
            argv.extend(&args);
            let got = parse(&argv).and_then(|a| driver_configs(&a)).map(|c| {
                c.iter()
                    .map(|c| c.live.rendition.clone())
                    .collect::<Vec<_>>()
            });
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{args:?}"),
                (Err(e), Err(want)) => {
                    assert!(e.to_string().starts_with(want), "{args:?}: {e}")
                }
                (got, want) => panic!("{args:?}: {got:?}, wanted {want:?}"),
            }
        }
        assert!(parse(&["--name", "n"]).is_err(), "--input is required");
    }

    /// One input writes its own master.m3u8 as before; several share one through a group
    /// and cut on the aligned grid.
    #[test]
    fn several_inputs_share_a_group() {
        let one = parse(&["--name", "n", "--input", "udp://127.0.0.1:1"]).expect("args");
        let one = driver_configs(&one).expect("configs");
        assert!(one
            .iter()
            .all(|c| c.group.is_none() && c.live.write_master && !c.live.aligned_cuts));
        let two = parse(&[
            "--name",
            "n",
            "--input",
            "udp://127.0.0.1:1",
            "--input",
            "tcp://127.0.0.1:2",
            "--ll-hls",
        ])
        .expect("args");
        let two = driver_configs(&two).expect("configs");
        assert_eq!(two.len(), 2);
        for c in &two {
            assert!(c.group.is_some() && !c.live.write_master && c.live.aligned_cuts);
            assert_eq!(c.live.part_duration, Some(0.2));
            assert_eq!(c.dir, Path::new("playlists").join("n"));
        }
    }

    /// The origin options come with --listen: without it nothing would use them.
    #[test]
    fn origin_options_need_listen() {
        let base = ["--name", "n", "--input", "udp://127.0.0.1:1"];
        let with = |extra: &[&'static str]| {
            let argv: Vec<&str> = base.iter().chain(extra).copied().collect();
            parse(&argv).and_then(|a| driver_configs(&a))
        };
        assert!(with(&[]).is_ok());
        assert!(with(&["--listen", "localhost:0", "--cors-origin", "x"]).is_ok());
        let e = with(&["--cors-origin", "x"]).unwrap_err().to_string();
        assert!(e.contains("add --listen"), "{e}");
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
