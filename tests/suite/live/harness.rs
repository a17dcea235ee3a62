// SPDX-License-Identifier: MIT OR Apache-2.0
//! Machinery of the live tests: `hlsorigin live` and ffmpeg encoders as child processes,
//! a raw HTTP/1.1 client (so nothing between the test and the server interprets the
//! protocol), and an independent playlist reader.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::bin;

/// One browser at a time across the live tests: two Chromiums and two encoders on a
/// 2-core CI machine would starve each other's playback.
pub static BROWSER: Mutex<()> = Mutex::new(());

/// A child process killed (SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Proc {
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `ffmpeg -re` encoding testsrc2 320x240 + sine as H.264 (keyframe every second) + AAC
/// into MPEG-TS at `output` (`-` or an URL), or with `format_args` replacing `-f mpegts`.
pub fn encoder(output: &str, format_args: &[&str], seconds: Option<u32>, stdout: Stdio) -> Proc {
    let mut cmd = encoder_command("320x240");
    cmd.args(["-map", "0:v", "-map", "1:a"]).args(LIVE_CODECS);
    if let Some(s) = seconds {
        cmd.args(["-t", &s.to_string()]);
    }
    if format_args.is_empty() {
        cmd.args(["-f", "mpegts"]);
    } else {
        cmd.args(format_args);
    }
    cmd.arg(output);
    spawn_encoder(cmd, stdout)
}

/// H.264 (a keyframe every second at 30 fps, no lookahead) and AAC, as the live tests encode.
pub const LIVE_CODECS: [&str; 18] = [
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-tune",
    "zerolatency",
    "-g",
    "30",
    "-keyint_min",
    "30",
    "-sc_threshold",
    "0",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-b:a",
    "64k",
];

/// ffmpeg in real time (`-re`) on a test picture of `size` and a sine tone: inputs 0 and 1;
/// the caller adds maps, codecs and outputs.
pub fn encoder_command(size: &str) -> Command {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate=30"),
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
    cmd
}

/// Starts an encoder command (stdin closed, errors to the test's stderr).
pub fn spawn_encoder(mut cmd: Command, stdout: Stdio) -> Proc {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ffmpeg must be installed (see README: the test command installs it)");
    Proc(child)
}

/// A running `hlsorigin live`.
pub struct Live {
    pub proc: Proc,
    /// Bound input, e.g. `udp://127.0.0.1:40000`.
    pub ingest: String,
    /// `http://ADDR` with `--listen`.
    pub base: Option<String>,
}

impl Live {
    /// Starts `hlsorigin live --input INPUT --name NAME --root ROOT ARGS…`; waits for its
    /// ingest line (and its "serving … on http://ADDR/" line with `--listen`). Its log goes
    /// to ROOT/NAME.log.
    pub fn start(root: &Path, name: &str, input: &str, args: &[&str], stdin: Stdio) -> Live {
        std::fs::create_dir_all(root).expect("root");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join(format!("{name}.log")))
            .expect("log file");
        let mut child = Command::new(bin())
            .arg("live")
            .args(["--input", input, "--name", name, "--root"])
            .arg(root)
            .args(args)
            .env("RUST_LOG", "info,origin::access=warn")
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn hlsorigin live");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let listen = args.contains(&"--listen");
        let (mut ingest, mut base) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while ingest.is_none() || (listen && base.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "hlsorigin live printed its addresses within 30 s (log: {}/{name}.log)",
                    root.display()
                )
            });
            if let Some(rest) = line.strip_prefix("ingest ") {
                ingest = rest.split_whitespace().next().map(str::to_owned);
            } else if line.starts_with("serving ") {
                if let Some(pos) = line.find("http://") {
                    base = line
                        .get(pos..)
                        .and_then(|s| s.split_whitespace().next())
                        .map(|s| s.trim_end_matches('/').to_owned());
                }
            }
        }
        Live {
            proc: Proc(child),
            ingest: ingest.expect("ingest line"),
            base,
        }
    }

    /// `live` over UDP with LL-HLS served over HTTP (0.5 s parts, a 20 s window, a minute of
    /// input timeout, then `extra`), fed by a real-time [`encoder`] (returned with it).
    pub fn ll_hls_over_udp(root: &Path, name: &str, extra: &[&str]) -> (Live, Proc) {
        let mut args = vec![
            "--listen",
            "127.0.0.1:0",
            "--ll-hls",
            "--part-duration",
            "0.5",
            "--window",
            "20",
            "--input-timeout",
            "60",
        ];
        args.extend_from_slice(extra);
        let live = Live::start(root, name, "udp://127.0.0.1:0", &args, Stdio::null());
        let url = format!("{}?pkt_size=1316", live.ingest);
        let enc = encoder(&url, &[], None, Stdio::null());
        (live, enc)
    }

    /// The bound input without its scheme (`127.0.0.1:40000`).
    pub fn ingest_addr(&self) -> &str {
        self.ingest.split_once("://").map_or("", |(_, a)| a)
    }

    pub fn base(&self) -> &str {
        self.base.as_deref().expect("started with --listen")
    }
}

/// An HTTP response.
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
    /// Time from sending the request to the end of the response.
    pub took: Duration,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// Opens a connection and sends `GET path` (HTTP/1.1, `Connection: close`, no compression).
pub fn send_get(base: &str, path: &str) -> TcpStream {
    send_request(base, path, "")
}

/// [`send_get`] with more header lines (each ending in `\r\n`).
pub fn send_request(base: &str, path: &str, headers: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n"
    )
    .expect("send request");
    s
}

/// Reads a whole response from a connection made by [`send_get`].
pub fn read_response(mut s: TcpStream, sent: Instant) -> Resp {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let took = sent.elapsed();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(raw.get(..split).unwrap_or_default()).into_owned();
    let mut body = raw.get(split + 4..).unwrap_or_default().to_vec();
    if head
        .to_ascii_lowercase()
        .contains("\r\ntransfer-encoding: chunked")
    {
        body = dechunk(&body).expect("a complete chunked body");
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    Resp {
        status,
        head,
        body,
        took,
    }
}

/// Decodes a chunked body (RFC 9112 7.1); `None` when it is cut short (no last chunk).
pub fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(raw.get(..line)?).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        raw = raw.get(line + 2..)?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

pub fn get(base: &str, path: &str) -> Resp {
    let sent = Instant::now();
    read_response(send_get(base, path), sent)
}

/// `GET path` for `length` bytes from `offset` (a Range request, RFC 9110 14.2).
pub fn get_range(base: &str, path: &str, offset: u64, length: u64) -> Resp {
    let sent = Instant::now();
    let last = offset + length.max(1) - 1;
    let range = format!("Range: bytes={offset}-{last}\r\n");
    read_response(send_request(base, path, &range), sent)
}

/// Polls `f` every 200 ms until it returns something, or panics after `secs`.
pub fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A media playlist as read by the tests (independently of the crate's own code).
#[derive(Debug, Clone, Default)]
pub struct Playlist {
    pub text: String,
    pub target: u64,
    pub media_sequence: u64,
    pub discontinuity_sequence: Option<u64>,
    pub skipped: u64,
    /// (msn, uri, preceded by EXT-X-DISCONTINUITY, parts listed for it)
    pub segments: Vec<(u64, String, bool, usize)>,
    /// Parts of the segment in progress.
    pub open_parts: Vec<String>,
    pub hint: Option<String>,
    pub ended: bool,
}

impl Playlist {
    pub fn parse(text: &str) -> Playlist {
        assert!(text.starts_with("#EXTM3U"), "not a playlist: {text:?}");
        let mut p = Playlist {
            text: text.to_owned(),
            ..Playlist::default()
        };
        let mut disc = false;
        let mut parts = Vec::new();
        let uri = |l: &str| {
            l.split("URI=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_owned)
        };
        for line in text.lines() {
            let num = |prefix: &str| {
                line.strip_prefix(prefix)
                    .and_then(|v| v.parse::<u64>().ok())
            };
            if let Some(v) = num("#EXT-X-TARGETDURATION:") {
                p.target = v;
            } else if let Some(v) = num("#EXT-X-MEDIA-SEQUENCE:") {
                p.media_sequence = v;
            } else if let Some(v) = num("#EXT-X-DISCONTINUITY-SEQUENCE:") {
                p.discontinuity_sequence = Some(v);
            } else if let Some(v) = line.strip_prefix("#EXT-X-SKIP:SKIPPED-SEGMENTS=") {
                p.skipped = v
                    .split(',')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("skip");
            } else if line == "#EXT-X-DISCONTINUITY" {
                disc = true;
            } else if line.starts_with("#EXT-X-PART:") {
                parts.push(uri(line).expect("part uri"));
            } else if line.starts_with("#EXT-X-PRELOAD-HINT:") {
                p.hint = uri(line);
            } else if line == "#EXT-X-ENDLIST" {
                p.ended = true;
            } else if !line.is_empty() && !line.starts_with('#') {
                let msn = p.media_sequence + p.skipped + p.segments.len() as u64;
                p.segments
                    .push((msn, line.to_owned(), std::mem::take(&mut disc), parts.len()));
                parts.clear();
            }
        }
        p.open_parts = parts;
        p
    }

    /// MSN of the last complete segment.
    pub fn last_msn(&self) -> u64 {
        self.segments
            .last()
            .map(|s| s.0)
            .expect("at least one segment")
    }

    pub fn has_msn(&self, msn: u64) -> bool {
        self.segments.iter().any(|s| s.0 == msn)
    }
}

/// GETs and parses a playlist (200 expected).
pub fn fetch(base: &str, path: &str) -> Playlist {
    let r = get(base, path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    Playlist::parse(&r.text())
}

/// Reads a playlist file if it exists and has at least `min` segments.
pub fn read_playlist(path: &PathBuf, min: usize) -> Option<Playlist> {
    let text = std::fs::read_to_string(path).ok()?;
    let p = Playlist::parse(&text);
    (p.segments.len() >= min).then_some(p)
}
