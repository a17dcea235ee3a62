// SPDX-License-Identifier: MIT OR Apache-2.0
//! Origin configuration: one struct, usable as clap arguments (flatten it into a subcommand)
//! and as a TOML/JSON table (every field optional there; missing fields take the values of
//! [`ServeConfig::default`], the same defaults `--help` shows).
//!
//! `root` and `listen` are not flags of their own: each command names the directory and the
//! address its way (`serve ROOT`, `live --root … --listen …`), so they are skipped by clap.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default `Access-Control-Allow-Origin`.
pub const DEFAULT_CORS_ORIGIN: &str = "*";
/// Default `Cache-Control` of media segments and init segments (their names never get reused:
/// the packager puts a random per-run prefix in them).
pub const DEFAULT_CACHE_SEGMENT: &str = "public, max-age=31536000, immutable";
/// Default `Cache-Control` of VOD (`#EXT-X-ENDLIST`) and multivariant playlists.
pub const DEFAULT_CACHE_VOD_PLAYLIST: &str = "public, max-age=60";
/// Default `Cache-Control` of 4xx/5xx answers: short, so a CDN absorbs bursts of requests
/// for a segment that is about to appear without pinning the error.
pub const DEFAULT_CACHE_ERROR: &str = "public, max-age=1";
/// Default `Cache-Control` of other files under the root (`.html`, `.js`, `.json`, images…).
pub const DEFAULT_CACHE_OTHER: &str = "public, max-age=60";
/// The hls.js release embedded in the binary (served at [`DEFAULT_HLSJS_URL`]).
pub const HLSJS_VERSION: &str = "1.7.4";
/// Default hls.js build loaded by the index page when the browser has no native HLS: the
/// release embedded in the binary (served by the origin itself, no CDN needed).
pub const DEFAULT_HLSJS_URL: &str = "/_hlsorigin/hls.js-1.7.4/hls.min.js";
/// Default maximum number of simultaneously open client connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default time a client gets to send a complete request head (also the idle keep-alive
/// timeout of HTTP/1 connections).
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default size of the in-memory cache of media and init segments, in MiB.
pub const DEFAULT_HOT_CACHE_MIB: u64 = 256;
/// Default interval of the pings the server sends on each `/api/events` WebSocket.
pub const DEFAULT_EVENTS_PING_INTERVAL_SECS: u64 = 20;
/// Default most `/api/events` WebSocket and SSE clients at once.
pub const DEFAULT_EVENTS_MAX_SUBSCRIBERS: usize = 10_000;
/// Default time graceful shutdown waits for in-flight responses before dropping them.
pub const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// Configuration of the HLS origin.
#[derive(clap::Args, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Directory to serve. Default: `.`.
    #[arg(skip = PathBuf::from("."))]
    pub root: PathBuf,

    /// Address to listen on (HTTP/1.1 and HTTP/2 with prior knowledge on one port).
    /// Default: `127.0.0.1:8080`.
    #[arg(skip = SocketAddr::from(([127, 0, 0, 1], 8080)))]
    pub listen: SocketAddr,

    /// `Access-Control-Allow-Origin` sent on every response.
    #[arg(long, default_value = DEFAULT_CORS_ORIGIN)]
    pub cors_origin: String,

    /// `Cache-Control` of media and init segments (`.ts .m4s .aac .ac3 .ec3 .mp3 .vtt .mp4
    /// .m4a .m4v`).
    #[arg(long, default_value = DEFAULT_CACHE_SEGMENT)]
    pub cache_segment: String,

    /// `Cache-Control` of playlists that contain `#EXT-X-ENDLIST` and of multivariant
    /// playlists.
    #[arg(long, default_value = DEFAULT_CACHE_VOD_PLAYLIST)]
    pub cache_vod_playlist: String,

    /// `max-age` of live media playlists in seconds. Never more than half the playlist's
    /// `#EXT-X-TARGETDURATION` (RFC 8216 6.3.4), which is also the default.
    #[arg(long)]
    pub cache_live_playlist_max_age: Option<u32>,

    /// `Cache-Control` of 4xx/5xx responses.
    #[arg(long, default_value = DEFAULT_CACHE_ERROR)]
    pub cache_error: String,

    /// `Cache-Control` of other files under the root.
    #[arg(long, default_value = DEFAULT_CACHE_OTHER)]
    pub cache_other: String,

    /// hls.js script the index page loads when the browser cannot play HLS natively.
    #[arg(long, default_value = DEFAULT_HLSJS_URL)]
    pub hlsjs_url: String,

    /// Maximum simultaneously open client connections; further clients wait in the listen
    /// backlog.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Seconds a client has to send a complete request head; an idle HTTP/1 keep-alive
    /// connection is closed after the same time.
    #[arg(long, default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECS)]
    pub header_read_timeout_secs: u64,

    /// Seconds graceful shutdown waits for in-flight responses.
    #[arg(long, default_value_t = DEFAULT_SHUTDOWN_TIMEOUT_SECS)]
    pub shutdown_timeout_secs: u64,

    /// MiB of memory for media and init segments served from memory (least recently used
    /// dropped first; every request still checks the file is unchanged; objects over a
    /// quarter of this are streamed from disk). 0 disables it.
    #[arg(long, default_value_t = DEFAULT_HOT_CACHE_MIB)]
    pub hot_cache_mib: u64,

    /// Segment duration, seconds, of MP4 files packaged just in time (`/PATH/FILE.mp4/master.m3u8`;
    /// as `package --segment-duration`).
    #[arg(long, default_value_t = Seconds(crate::jit::DEFAULT_SEGMENT_DURATION))]
    pub jit_segment_duration: Seconds,

    /// MiB of memory for the indexes and plans of files packaged just in time (least recently
    /// used dropped first).
    #[arg(long, default_value_t = crate::jit::DEFAULT_INDEX_CACHE_MIB)]
    pub jit_index_cache_mib: u64,

    /// Encrypt MP4 files packaged just in time: `cbcs` (fMP4 output, Common Encryption)
    /// and/or `sample-aes` (MPEG-TS output), comma-separated or repeated; a format neither
    /// names is then not served. Needs `--jit-key-secret`. Default: clear.
    #[arg(long, value_name = "METHOD", value_delimiter = ',')]
    pub jit_encrypt: Vec<String>,

    /// Secret (16 characters or more) the just-in-time keys derive from: a stream's key is
    /// HMAC-SHA256(SECRET, its path under the root), first 16 bytes.
    #[arg(long, value_name = "SECRET")]
    pub jit_key_secret: Option<String>,

    /// A new just-in-time key every N segments (as `package --key-rotation`).
    #[arg(long, value_name = "N")]
    pub jit_key_rotation: Option<u32>,

    /// URI of key `{n}` of the stream at `{path}` in EXT-X-KEY (your key server); the origin
    /// then serves no key. Default: `key_{n}.bin`, served by the origin beside the playlists.
    #[arg(long, value_name = "URI")]
    pub jit_key_uri: Option<String>,

    /// Origins (`scheme://host[:port]`, comma-separated or repeated) whose pages may use
    /// `/api/events`; a request with another `Origin` header gets 403. `*`: any.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub events_allowed_origins: Vec<String>,

    /// Seconds between the pings of an `/api/events` WebSocket; a client that misses two
    /// pongs is disconnected.
    #[arg(long, default_value_t = DEFAULT_EVENTS_PING_INTERVAL_SECS)]
    pub events_ping_interval_secs: u64,

    /// Most `/api/events` WebSocket and SSE clients at once; one more is refused
    /// (WebSocket: close 1013 Try Again Later; SSE: 503).
    #[arg(long, default_value_t = DEFAULT_EVENTS_MAX_SUBSCRIBERS)]
    pub events_max_subscribers: usize,

    /// Threads of the `/api/events` WebSockets' own runtime, at a lower scheduling priority
    /// than the HLS requests (nice +10 on Linux), so a large fan-out never slows playback.
    /// Default: one per core. 0: the sockets share the server's runtime.
    #[arg(long)]
    pub events_threads: Option<usize>,

    /// PEM certificate chain; serve HTTPS (HTTP/1.1 and HTTP/2 via ALPN) when given together
    /// with `tls_key`. Default: none (cleartext).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key matching `tls_cert`. Default: none.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// URL that every event is POSTed to as JSON (repeatable; `http://` or `https://`).
    /// Signed with `webhook_secret`, retried for about a minute, in order per stream.
    /// Default: none.
    #[arg(long = "webhook", value_name = "URL")]
    #[serde(alias = "webhook")]
    pub webhooks: Vec<String>,

    /// Event types the webhooks get, comma-separated (`stream.added,stream.ended`).
    /// Default: every type but `part.published`.
    #[arg(long, value_name = "TYPES")]
    pub webhook_types: Option<String>,

    /// Key of the `X-Hlsorigin-Signature: sha256=HEX` header (HMAC-SHA256 of the body).
    /// Default: none (no signature header).
    #[arg(long, value_name = "SECRET")]
    pub webhook_secret: Option<String>,

    /// Secret of signed URLs (repeatable: the first signs, every one verifies, for rotation).
    /// With one, streams need a `?token=` (see `hlsorigin sign`). Default: none (public).
    #[arg(long = "sign-secret", value_name = "SECRET")]
    #[serde(alias = "sign_secret")]
    pub sign_secrets: Vec<String>,

    /// Path prefix whose objects need a signed URL (repeatable, e.g. `/paid/`). Default:
    /// everything under the root, when a sign secret is given.
    #[arg(long = "signed-prefix", value_name = "PATH")]
    #[serde(alias = "signed_prefix")]
    pub signed_prefixes: Vec<String>,

    /// Token `/metrics` requires (`Authorization: Bearer TOKEN` or `?token=TOKEN`).
    /// Default: none (open).
    #[arg(long, value_name = "TOKEN")]
    pub metrics_token: Option<String>,
}

impl ServeConfig {
    /// The signed-URL policy of this configuration (`None`: nothing signed), or why the
    /// settings are unusable.
    pub fn signing(&self) -> Result<Option<crate::signing::Policy>, String> {
        crate::signing::Policy::new(&self.sign_secrets, &self.signed_prefixes)
    }

    /// The encryption of just-in-time output (`None`: clear), or why the settings are unusable.
    pub fn jit_protection(&self) -> Result<Option<crate::jit::JitProtection>, String> {
        crate::jit::JitProtection::new(
            &self.jit_encrypt,
            self.jit_key_secret.as_deref(),
            self.jit_key_rotation,
            self.jit_key_uri.as_deref(),
        )
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            root: PathBuf::from("."),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            cors_origin: DEFAULT_CORS_ORIGIN.to_owned(),
            cache_segment: DEFAULT_CACHE_SEGMENT.to_owned(),
            cache_vod_playlist: DEFAULT_CACHE_VOD_PLAYLIST.to_owned(),
            cache_live_playlist_max_age: None,
            cache_error: DEFAULT_CACHE_ERROR.to_owned(),
            cache_other: DEFAULT_CACHE_OTHER.to_owned(),
            hlsjs_url: DEFAULT_HLSJS_URL.to_owned(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout_secs: DEFAULT_HEADER_READ_TIMEOUT_SECS,
            shutdown_timeout_secs: DEFAULT_SHUTDOWN_TIMEOUT_SECS,
            hot_cache_mib: DEFAULT_HOT_CACHE_MIB,
            jit_segment_duration: Seconds(crate::jit::DEFAULT_SEGMENT_DURATION),
            jit_index_cache_mib: crate::jit::DEFAULT_INDEX_CACHE_MIB,
            jit_encrypt: Vec::new(),
            jit_key_secret: None,
            jit_key_rotation: None,
            jit_key_uri: None,
            events_allowed_origins: vec!["*".to_owned()],
            events_ping_interval_secs: DEFAULT_EVENTS_PING_INTERVAL_SECS,
            events_max_subscribers: DEFAULT_EVENTS_MAX_SUBSCRIBERS,
            events_threads: None,
            tls_cert: None,
            tls_key: None,
            webhooks: Vec::new(),
            webhook_types: None,
            webhook_secret: None,
            sign_secrets: Vec::new(),
            signed_prefixes: Vec::new(),
            metrics_token: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeConfig,
    }

    #[test]
    fn clap_defaults_match_default_impl() {
        let cli = Cli::try_parse_from(["x"]).map(|c| c.serve);
        assert_eq!(cli.ok(), Some(ServeConfig::default()));
    }

    #[test]
    fn serde_missing_fields_take_defaults() {
        let cfg: ServeConfig =
            serde_json::from_str(r#"{"root": "/srv/hls", "listen": "0.0.0.0:80"}"#)
                .unwrap_or_default();
        assert_eq!(cfg.root, PathBuf::from("/srv/hls"));
        assert_eq!(cfg.listen, SocketAddr::from(([0, 0, 0, 0], 80)));
        assert_eq!(cfg.cache_segment, DEFAULT_CACHE_SEGMENT);
        assert!(serde_json::from_str::<ServeConfig>(r#"{"rooot": "x"}"#).is_err());
    }

    #[test]
    fn tls_flags_come_in_pairs() {
        assert!(Cli::try_parse_from(["x", "--tls-cert", "c.pem"]).is_err());
        let ok = Cli::try_parse_from(["x", "--tls-cert", "c.pem", "--tls-key", "k.pem"]);
        assert!(ok.is_ok());
    }
}

/// A duration in seconds: positive, finite, at most an hour (`--jit-segment-duration`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(try_from = "f64")]
pub struct Seconds(pub f64);

// Never NaN (checked when parsed), so equality is an equivalence.
impl Eq for Seconds {}

impl TryFrom<f64> for Seconds {
    type Error = String;
    fn try_from(d: f64) -> Result<Self, String> {
        if d.is_finite() && d > 0.0 && d <= 3600.0 {
            Ok(Seconds(d))
        } else {
            Err(format!("{d} is not a duration in seconds (0 < d <= 3600)"))
        }
    }
}

impl std::str::FromStr for Seconds {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let d: f64 = s
            .parse()
            .map_err(|_| format!("{s:?} is not a number of seconds"))?;
        Seconds::try_from(d)
    }
}

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
