// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin serve ROOT`: the HTTP origin over a directory of HLS streams.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use origin::config::DEFAULT_LISTEN;
use origin::{OriginError, ServeConfig};

use super::parse_listen;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Directory to serve at `/` (ROOT/NAME/master.m3u8 is http://HOST/NAME/master.m3u8), or
    /// `s3://BUCKET/PREFIX` (object storage; README "Scaling out"). Default: the current directory.
    #[arg(value_name = "ROOT")]
    pub dir: Option<PathBuf>,
    /// The same as ROOT (give one or the other).
    #[arg(long, value_name = "ROOT", conflicts_with = "dir")]
    pub root: Option<PathBuf>,
    /// `root` from a config file's [serve] table: used when neither ROOT nor --root is given.
    #[arg(long, hide = true)]
    pub config_root: Option<PathBuf>,
    /// Address to listen on, HOST:PORT (HTTP/1.1 and HTTP/2 with prior knowledge on one port).
    #[arg(long, default_value = DEFAULT_LISTEN, value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// With an `s3://` ROOT: the live packager writing into it (`http://HOST:PORT`, its
    /// `live --listen` address); its `/api/events` tell this origin of every new part at
    /// once (README "Scaling out"). Without it, live playlists are polled in storage.
    #[arg(long, value_name = "URL")]
    pub follow: Option<String>,
    #[command(flatten)]
    pub origin: ServeConfig,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let root = args
        .dir
        .or(args.root)
        .or(args.config_root)
        .unwrap_or_else(|| PathBuf::from("."));
    if let Some(url) = root.to_str().and_then(origin::StorageUrl::parse) {
        let url = url.map_err(anyhow::Error::msg)?;
        return serve_storage(
            &url,
            args.follow,
            ServeConfig {
                root,
                listen: args.listen,
                ..args.origin
            },
        );
    }
    if args.follow.is_some() {
        bail!("--follow follows a packager writing into object storage: serve an s3:// ROOT");
    }
    check_root(&root)?;
    let config = ServeConfig {
        root,
        listen: args.listen,
        ..args.origin
    };
    runtime()?.block_on(async move {
        let server = origin::Server::bind(&config).await.map_err(bind_error)?;
        // Streams that other programs write into the root: stream.added / stream.removed.
        let _watch = match crate::root_watch::start(&config.root, server.events().clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("no stream events: {e:#}");
                None
            }
        };
        println!(
            "serving {} on http://{}/",
            config.root.display(),
            server.local_addr()
        );
        server.run(shutdown_signal()).await?;
        Ok(())
    })
}

/// `serve s3://BUCKET/PREFIX`: a stateless origin over object storage
/// ([`origin::StoreSource`]); several can serve one prefix behind a CDN.
fn serve_storage(
    url: &origin::StorageUrl,
    follow: Option<String>,
    config: ServeConfig,
) -> Result<()> {
    use crate::storage::serve::{follow_packager, FollowingSource};
    runtime()?.block_on(async move {
        let source = origin::StoreSource::from_url(url).with_context(|| url.to_string())?;
        // Live playlists in storage: blocking reloads, released when storage lists the part.
        let (source, live) = FollowingSource::new(source, None);
        // MP4 objects are also served as HLS, packaged just in time (README).
        let source = origin::JitSource::from_config(source, &config).map_err(|e| anyhow!(e))?;
        let server = origin::Server::bind_with_source(&config, source)
            .await
            .map_err(bind_error)?;
        if let Some(packager) = follow {
            tokio::spawn(follow_packager(live, packager));
        }
        println!("serving {url} on http://{}/", server.local_addr());
        server.run(shutdown_signal()).await?;
        Ok(())
    })
}

/// The directory to serve must exist (say so before anything else is set up).
fn check_root(root: &Path) -> Result<()> {
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!(
            "cannot serve {}: it is a file; give the directory that holds the streams",
            root.display()
        ),
        Err(e) => bail!(
            "cannot serve {}: {e}; give an existing directory (the one holding NAME/master.m3u8)",
            root.display()
        ),
    }
}

/// An origin that cannot start, in one line that says what to change.
pub fn bind_error(e: OriginError) -> anyhow::Error {
    match e {
        OriginError::Bind { addr, source } => anyhow!(
            "cannot listen on {addr}: {source}; choose another address with --listen (port 0 \
             picks a free one)"
        ),
        other => other.into(),
    }
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight responses");
}
