// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin validate URL|DIR`: runs the `validate` crate and prints one line per finding (or
//! the report as JSON); exits with status 1 when a MUST rule is broken.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Playlist URL (http/https), playlist file, or directory (its master.m3u8).
    #[arg(value_name = "URL|DIR")]
    pub target: String,
    /// Follow a live playlist for N seconds (MEDIA-SEQUENCE, DISCONTINUITY-SEQUENCE, PDT rules).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub live_seconds: u64,
    /// Print the report as one JSON object instead of one line per finding.
    #[arg(long)]
    pub json: bool,
    /// Timeout of each HTTP request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
}

pub fn run(args: ValidateArgs) -> Result<()> {
    let opts = validate::Options {
        live_seconds: args.live_seconds,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let report = validate::validate(&args.target, &opts)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        for f in &report.findings {
            writeln!(out, "{f}")?;
        }
        let must = report
            .findings
            .iter()
            .filter(|f| f.level == validate::Level::Must)
            .count();
        writeln!(
            out,
            "{} playlists, {} segments: {must} MUST and {} SHOULD findings",
            report.playlists,
            report.segments,
            report.findings.len() - must
        )?;
    }
    out.flush()?;
    if report.has_must() {
        bail!("{} does not validate: MUST rules are broken", args.target);
    }
    Ok(())
}
