// SPDX-License-Identifier: MIT OR Apache-2.0
//! Live ingest in the default run: RTMP server mode on 127.0.0.1:1935 with LL-HLS, streams
//! written beside the packaged ones and served by the same origin; the OBS settings are
//! printed. A port already in use is a warning, never a failed start.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use media::live::LiveConfig;
use origin::{IngestMetrics, LivePlaylists};

use super::super::live_server::{
    bind_rtmp, bind_srt, stream_linger, IngestServer, Listener, PublishArgs,
};
use crate::ingest::driver::{DriverConfig, OnInputLoss};
use crate::ingest::hub::Policy;

/// The RTMP port OBS and ffmpeg use when the URL names none (RTMP spec).
const RTMP_PORT: u16 = 1935;

#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// Do not listen for RTMP publishers.
    #[arg(long)]
    pub no_ingest: bool,
    /// Where to listen for RTMP publishers (OBS: server rtmp://HOST/live, stream key NAME).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1935", value_parser = super::super::parse_listen)]
    pub ingest_rtmp: SocketAddr,
    /// Where to listen for SRT callers (streamid NAME; MPEG-TS payload).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8890", value_parser = super::super::parse_listen)]
    pub ingest_srt: SocketAddr,
    #[command(flatten)]
    pub publish: PublishArgs,
}

/// Starts RTMP ingest into `root` (None with `--no-ingest` or when the port is taken),
/// printing the OBS settings for stream `test` on the origin at `base`.
pub async fn start(
    args: &IngestArgs,
    root: &Path,
    origin: (LivePlaylists, IngestMetrics),
    base: &str,
    storage: Option<crate::storage::live::LiveTarget>,
) -> Result<Option<IngestServer>> {
    if args.no_ingest {
        return Ok(None);
    }
    let policy = args.publish.policy()?;
    let mut listeners = Vec::new();
    match bind_rtmp(args.ingest_rtmp).await {
        Ok(l) => {
            let addr = l.local_addr().unwrap_or(args.ingest_rtmp);
            listeners.push(Listener::Rtmp(l));
            let keyed = !policy.keys.is_open();
            println!("{}", obs_settings(addr, base, keyed));
        }
        Err(e) => tracing::warn!(
            "no RTMP ingest: {e:#} (choose another port with --ingest-rtmp, or --no-ingest)"
        ),
    }
    match bind_srt(args.ingest_srt) {
        Ok(s) => listeners.push(Listener::Srt(s)),
        Err(e) => tracing::warn!(
            "no SRT ingest: {e:#} (choose another port with --ingest-srt, or --no-ingest)"
        ),
    }
    if listeners.is_empty() {
        return Ok(None);
    }
    // `--playlists s3://…`: each stream into storage, as `live --rtmp-listen --root s3://…`.
    let template = DriverConfig {
        storage,
        ..template()
    };
    let policy = Policy {
        linger: stream_linger(&template),
        ..policy
    };
    Ok(Some(IngestServer::start(
        listeners,
        root,
        template,
        policy,
        Some(origin),
    )))
}

/// LL-HLS, fMP4, 2 s segments, a window of 6; the playlist ends 10 s after the publisher.
fn template() -> DriverConfig {
    DriverConfig {
        live: LiveConfig {
            part_duration: Some(0.2),
            ..LiveConfig::default()
        },
        dir: Default::default(),
        input_timeout: Duration::from_secs(10),
        on_loss: OnInputLoss::End,
        group: None,
        storage: None,
    }
}

/// What to type into OBS (Settings → Stream, Service "Custom…") and where to watch.
fn obs_settings(addr: SocketAddr, base: &str, keyed: bool) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let host = if addr.is_ipv6() && !addr.ip().is_unspecified() {
        format!("[{host}]")
    } else {
        host
    };
    let server = if addr.port() == RTMP_PORT {
        format!("rtmp://{host}/live")
    } else {
        format!("rtmp://{host}:{}/live", addr.port())
    };
    let key = if keyed {
        "test?key=KEY (KEY: `hlsorigin key test --publish-secret S`, or test's line of --publish-keys)"
    } else {
        "test"
    };
    format!("OBS: Server {server}  Stream key {key}  → {base}/test/master.m3u8 (any NAME for NAME)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obs_lines() {
        let cases = [
            (
                "127.0.0.1:1935",
                false,
                "OBS: Server rtmp://127.0.0.1/live  Stream key test  → http://b/test/master.m3u8",
            ),
            (
                "127.0.0.1:1936",
                false,
                "Server rtmp://127.0.0.1:1936/live  Stream key test  →",
            ),
            ("0.0.0.0:1935", false, "Server rtmp://127.0.0.1/live "),
            ("[::1]:1935", false, "Server rtmp://[::1]/live "),
            (
                "127.0.0.1:1935",
                true,
                "Stream key test?key=KEY (KEY: `hlsorigin key test",
            ),
        ];
        for (addr, keyed, want) in cases {
            let got = obs_settings(addr.parse().expect("addr"), "http://b", keyed);
            assert!(got.contains(want), "{addr}: {got}");
        }
    }
}
