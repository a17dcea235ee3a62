// SPDX-License-Identifier: MIT OR Apache-2.0
//! Runs the origin alone: `cargo run -p hlsorigin-origin --example serve -- --root DIR`.
//! Set `ORIGIN_LOG=1` for the access log. Ctrl-C shuts down gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
struct Cli {
    /// Directory to serve.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = origin::config::DEFAULT_LISTEN)]
    listen: SocketAddr,
    #[command(flatten)]
    serve: origin::ServeConfig,
}

#[tokio::main]
async fn main() -> Result<(), origin::OriginError> {
    if std::env::var_os("ORIGIN_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .init();
    }
    let cli = Cli::parse();
    let config = origin::ServeConfig {
        root: cli.root,
        listen: cli.listen,
        ..cli.serve
    };
    origin::serve(config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
