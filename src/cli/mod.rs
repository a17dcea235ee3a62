// SPDX-License-Identifier: MIT OR Apache-2.0
//! Command-line interface: `package`, `serve`, `live`, and the default run (no subcommand).

mod config_file;
mod default_run;
mod live;
mod package;
mod serve;
mod validate;

use std::io::IsTerminal;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub use package::PackageArgs;

#[derive(Debug, Parser)]
#[command(
    name = "hlsorigin",
    version,
    about = "Package video into HLS and serve it as a CDN-friendly origin",
    long_about = "Package video into HLS and serve it as a CDN-friendly origin.\n\n\
        With no subcommand: package every video in ./media into ./playlists, watch ./media for new \
        files, and serve ./playlists on http://127.0.0.1:8080."
)]
#[command(args_conflicts_with_subcommands = true, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the default run (no subcommand).
    #[command(flatten)]
    pub run: default_run::DefaultRunArgs,
    /// TOML file with settings for any flag (keys = flag names; see README). Flags win over the file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Cli {
    pub fn quiet(&self) -> bool {
        matches!(&self.command, Some(Command::Package(p)) if p.quiet)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Package a file (MP4/MOV/fragmented MP4/MPEG-TS) into HLS.
    Package(PackageArgs),
    /// Serve a directory of HLS streams over HTTP.
    Serve(Box<serve::ServeArgs>),
    /// Package a live MPEG-TS input (UDP, TCP, stdin) as live HLS / LL-HLS, optionally serving it.
    Live(Box<live::LiveArgs>),
    /// Check a stream (URL or directory) against the HLS rules; exit 1 when a MUST fails.
    Validate(validate::ValidateArgs),
}

/// Parses the command line, with `--config FILE` settings spliced in (see [`config_file`]).
pub fn parse() -> Result<Cli> {
    let args = config_file::expand(std::env::args_os().collect())?;
    Ok(<Cli as Parser>::parse_from(args))
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Package(args)) => package::run(args),
        Some(Command::Serve(args)) => serve::run(*args),
        Some(Command::Live(args)) => live::run(*args),
        Some(Command::Validate(args)) => validate::run(args),
        None => default_run::run(cli.run),
    }
}

pub fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,hlsorigin=info,origin=info",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
