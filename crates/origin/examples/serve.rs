// SPDX-License-Identifier: MIT OR Apache-2.0
//! Runs the origin alone: `cargo run -p hlsorigin-origin --example serve -- --root DIR`.
//! Set `ORIGIN_LOG=1` for the access log. Ctrl-C shuts down gracefully.

use clap::Parser;

#[derive(Parser)]
struct Cli {
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
    origin::serve(cli.serve, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
