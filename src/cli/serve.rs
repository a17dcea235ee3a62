// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin serve ROOT`: the HTTP origin over a directory of HLS streams.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use origin::ServeConfig;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Directory to serve at `/` (ROOT/NAME/master.m3u8 is http://HOST/NAME/master.m3u8).
    #[arg(value_name = "ROOT")]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub config: ServeConfig,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let mut config = args.config;
    if let Some(dir) = args.dir {
        config.root = dir;
    }
    runtime()?.block_on(async move {
        let server = origin::Server::bind(&config)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        println!(
            "serving {} on http://{}/",
            config.root.display(),
            server.local_addr()
        );
        server.run(shutdown_signal()).await?;
        Ok(())
    })
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
