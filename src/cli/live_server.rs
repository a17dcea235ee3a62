// SPDX-License-Identifier: MIT OR Apache-2.0
//! Server mode of `hlsorigin live` (`--rtmp-listen ADDR`, `--srt-listen ADDR`, no `--name`), also used by the
//! default run: any number of publishers at once, `rtmp://HOST/APP/NAME` creating stream
//! NAME in ROOT/NAME/. Each stream gets the same per-stream pipeline as a single `--input`
//! ([`super::live::spawn_driver`]: driver task, origin publisher, events), made on its
//! first publish and released once it has had no publisher for the input timeout; one origin
//! and one event hub serve them all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use origin::{IngestMetrics, LivePlaylists};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::live::{check_name, live_config, spawn_driver, start_origin, LiveArgs};
use super::serve::{runtime, shutdown_signal};
use crate::ingest::driver::{DriverConfig, OnInputLoss};
use crate::ingest::hub::{Factory, Hub, Policy};
use crate::ingest::keys::Keys;
use crate::ingest::rtmp;
use crate::ingest::srt::{self, SrtOptions};

/// How often idle streams are looked for.
const REAP_EVERY: Duration = Duration::from_secs(1);
/// How long shutdown waits for the drivers to end their playlists.
const DRAIN: Duration = Duration::from_secs(15);

/// Who may publish (`live` and the default run).
#[derive(Debug, Clone, Args, Default)]
pub struct PublishArgs {
    /// Stream keys: a file of `NAME SECRET` lines; NAME is published with `NAME?key=SECRET`
    /// (RTMP stream name, OBS's stream key field) only, other names are refused.
    #[arg(long, value_name = "FILE", conflicts_with = "publish_secret")]
    pub publish_keys: Option<PathBuf>,
    /// Stream keys derived from a secret: the key of NAME is hex(HMAC-SHA256(S, NAME)), as
    /// `hlsorigin key NAME --publish-secret S` prints it.
    #[arg(long, value_name = "S")]
    pub publish_secret: Option<String>,
    /// A publisher of a stream that has one takes it over (else it is refused with
    /// NetStream.Publish.BadName).
    #[arg(long)]
    pub takeover: bool,
    /// RTMP connections handled at once (publishers and connections still handshaking).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_publishers: u32,
    /// SRT receive latency in milliseconds (time to recover lost packets).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(20..=60_000))]
    pub srt_latency_ms: u32,
    /// SRT AES passphrase (10 to 79 characters): callers must encrypt with it.
    #[arg(long, value_name = "P")]
    pub srt_passphrase: Option<String>,
}

impl PublishArgs {
    /// The hub policy (any application, streams kept until shutdown: callers adjust).
    pub fn policy(&self) -> Result<Policy> {
        Ok(Policy {
            app: None,
            keys: Keys::from_args(self.publish_keys.as_deref(), self.publish_secret.as_deref())?,
            takeover: self.takeover,
            max_connections: usize::try_from(self.max_publishers).unwrap_or(64),
            linger: None,
            srt: self.srt_options()?,
        })
    }

    fn srt_options(&self) -> Result<SrtOptions> {
        if let Some(p) = &self.srt_passphrase {
            anyhow::ensure!(
                (10..=79).contains(&p.chars().count()),
                "--srt-passphrase must be 10 to 79 characters (SRT)"
            );
        }
        Ok(SrtOptions {
            latency: Duration::from_millis(u64::from(self.srt_latency_ms)),
            passphrase: self.srt_passphrase.clone(),
            any_streamid: false,
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// The stream name.
    pub name: String,
    /// The secret the server runs with (`--publish-secret`).
    #[arg(long, value_name = "S")]
    pub publish_secret: String,
}

/// `hlsorigin key NAME --publish-secret S`: prints the key and how to publish with it.
pub fn print_key(args: &KeyArgs) -> Result<()> {
    check_name(&args.name)?;
    anyhow::ensure!(
        !args.publish_secret.is_empty(),
        "--publish-secret must not be empty"
    );
    let key = crate::ingest::keys::derive(&args.publish_secret, &args.name);
    println!("{key}");
    eprintln!(
        "publish with rtmp://HOST/APP/{}?key={key} (OBS stream key: {}?key={key})",
        args.name, args.name
    );
    Ok(())
}

/// `hlsorigin live --rtmp-listen ADDR`.
pub fn run(args: LiveArgs) -> Result<()> {
    let mut template = template(&args)?;
    let policy = Policy {
        linger: stream_linger(&template),
        ..args.publish.policy()?
    };
    let url = args.root.to_str().and_then(origin::StorageUrl::parse);
    if url.is_none() {
        std::fs::create_dir_all(&args.root)
            .with_context(|| format!("cannot create {}", args.root.display()))?;
    }
    let rt = runtime()?;
    // `--root s3://BUCKET/PREFIX`: stream NAME goes to PREFIX/NAME (README "Scaling out").
    let storage = match url {
        Some(url) => {
            let url = url.map_err(anyhow::Error::msg)?;
            let target = crate::storage::live::LiveTarget::from_url(rt.handle().clone(), &url)?;
            let source = origin::StoreSource::new(target.object_store(), &url.prefix);
            template.storage = Some(target.clone());
            Some((target, source))
        }
        None => None,
    };
    let flush = storage.as_ref().map(|(t, _)| t.clone());
    let result = rt.block_on(async move {
        let mut listeners = Vec::new();
        if let Some(addr) = args.rtmp_listen {
            listeners.push(Listener::Rtmp(bind_rtmp(addr).await?));
        }
        if let Some(addr) = args.srt_listen {
            listeners.push(Listener::Srt(bind_srt(addr)?));
        }
        let served = storage.map(|(target, source)| (source, target.stats()));
        let server = start_origin(args.listen, &args.root, &args.origin, served, None).await?;
        let ingest = IngestServer::start(
            listeners,
            &args.root,
            template,
            policy,
            server.as_ref().map(|s| (s.live.clone(), s.metrics.clone())),
        );
        ingest.run_until(shutdown_signal()).await;
        if let Some(server) = server {
            server.stop().await;
        }
        Ok(())
    });
    if let Some(target) = flush {
        // What the drivers handed over is uploaded before the process ends.
        rt.block_on(target.flush(Duration::from_secs(30)));
    }
    rt.shutdown_background();
    result
}

/// The driver configuration every stream starts from (its `dir` is set per stream).
fn template(args: &LiveArgs) -> Result<DriverConfig> {
    let live = live_config(args)?;
    media::live::LiveStream::new(live.clone(), vec![])
        .map(|_| ())
        .or_else(|e| match e {
            media::Error::NoTracks => Ok(()),
            e => Err(e),
        })?;
    Ok(DriverConfig {
        live,
        dir: PathBuf::new(),
        input_timeout: Duration::from_secs_f64(args.input_timeout),
        on_loss: args.on_input_loss,
        group: None,
        storage: None,
    })
}

/// How long a stream without a publisher is kept: past the input timeout (its driver has
/// ended the playlist by then); with `--on-input-loss wait`, until shutdown.
pub(super) fn stream_linger(template: &DriverConfig) -> Option<Duration> {
    match template.on_loss {
        OnInputLoss::End => Some(template.input_timeout + Duration::from_secs(2)),
        OnInputLoss::Wait => None,
    }
}

/// Binds an RTMP listener and prints `ingest rtmp://ADDR/APP/NAME (server mode)`.
pub(super) async fn bind_rtmp(addr: SocketAddr) -> Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for RTMP on {addr}"))?;
    let bound = listener.local_addr().unwrap_or(addr);
    println!("ingest rtmp://{bound}/APP/NAME (server mode: any NAME)");
    Ok(listener)
}

/// Binds an SRT listener and prints `ingest srt://ADDR?streamid=NAME (server mode)`.
pub(super) fn bind_srt(addr: SocketAddr) -> Result<tokio::net::UdpSocket> {
    let socket = srt::bind(addr)?;
    let bound = socket.local_addr().unwrap_or(addr);
    println!("ingest srt://{bound}?streamid=NAME (server mode: any NAME)");
    Ok(socket)
}

/// A bound ingest listener.
pub(super) enum Listener {
    Rtmp(TcpListener),
    Srt(tokio::net::UdpSocket),
}

/// A directory of ROOT that a live stream must not take: the output of `package` or of
/// the default run's packaging of media/ (VOD).
fn vod_output(dir: &Path) -> bool {
    [crate::outdir::MARKER, ".hlsorigin-source"]
        .iter()
        .any(|m| dir.join(m).exists())
}

/// The RTMP listeners, their hub and the streams' drivers.
pub(super) struct IngestServer {
    hub: Arc<Hub>,
    tasks: Vec<JoinHandle<Result<()>>>,
    done: mpsc::UnboundedReceiver<(String, Result<()>)>,
    spawned: Arc<AtomicUsize>,
}

impl IngestServer {
    /// Starts taking publishers on `listeners`; stream NAME is packaged into ROOT/NAME with
    /// `template`, published to `live` (and counted in its metrics) when an origin serves.
    pub fn start(
        listeners: Vec<Listener>,
        root: &Path,
        template: DriverConfig,
        policy: Policy,
        origin: Option<(LivePlaylists, IngestMetrics)>,
    ) -> Self {
        let (done_tx, done) = mpsc::unbounded_channel();
        let spawned = Arc::new(AtomicUsize::new(0));
        let (live, metrics) = origin.unzip();
        let factory = factory(root.to_owned(), template, live, done_tx, &spawned);
        let hub = Hub::server(policy, factory, metrics);
        let tasks = listeners
            .into_iter()
            .map(|l| match l {
                Listener::Rtmp(l) => tokio::spawn(rtmp::run(l, Arc::clone(&hub))),
                Listener::Srt(s) => {
                    let opts = hub.policy().srt.clone();
                    tokio::spawn(srt::run(s, Arc::clone(&hub), opts))
                }
            })
            .collect();
        IngestServer {
            hub,
            tasks,
            done,
            spawned,
        }
    }

    /// Releases idle streams and logs drivers that fail, until `shutdown`; then ends every
    /// stream (EXT-X-ENDLIST) and waits for the drivers.
    pub async fn run_until(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut finished = 0usize;
        let mut tick = tokio::time::interval(REAP_EVERY);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some((name, result)) = self.done.recv() => {
                    finished += 1;
                    if let Err(e) = result {
                        tracing::error!(stream = %name, error = %format!("{e:#}"), "live stream stopped");
                    }
                }
                _ = tick.tick() => {
                    for name in self.hub.reap(std::time::Instant::now()) {
                        tracing::info!(stream = %name, "stream released (no publisher)");
                    }
                }
            }
        }
        // Close first (every driver gets End), then stop the listeners (already returning).
        self.hub.close().await;
        for task in &self.tasks {
            task.abort();
        }
        let deadline = Instant::now() + DRAIN;
        while finished < self.spawned.load(Ordering::Acquire) {
            match tokio::time::timeout_at(deadline, self.done.recv()).await {
                Ok(Some(_)) => finished += 1,
                _ => break,
            }
        }
    }
}

/// Makes stream NAME's pipeline on its first publish.
fn factory(
    root: PathBuf,
    template: DriverConfig,
    live: Option<LivePlaylists>,
    done: mpsc::UnboundedSender<(String, Result<()>)>,
    spawned: &Arc<AtomicUsize>,
) -> Factory {
    let spawned = Arc::clone(spawned);
    Box::new(move |name: &str| {
        check_name(name)?;
        let dir = root.join(name);
        let storage = template.storage.as_ref().map(|t| t.join(name));
        if storage.is_none() && vod_output(&dir) {
            anyhow::bail!("{name} is a VOD stream of {}", root.display());
        }
        let publisher = live.as_ref().map(|l| match storage {
            // Into storage: playlists and parts are served from storage once stored.
            Some(_) => l.events_only(),
            None => l.publisher(&format!("{name}/stream.m3u8")),
        });
        let cfg = DriverConfig {
            dir,
            storage,
            ..template.clone()
        };
        let done = done.clone();
        let owned = name.to_owned();
        let tx = spawn_driver(name, 0, cfg, publisher, move |r| {
            let _ = done.send((owned, r));
        })?;
        spawned.fetch_add(1, Ordering::AcqRel);
        tracing::info!(stream = %name, "new live stream");
        Ok(tx)
    })
}
