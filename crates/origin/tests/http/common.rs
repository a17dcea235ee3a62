// SPDX-License-Identifier: MIT OR Apache-2.0
//! Test harness: a fixture directory, a server on 127.0.0.1:0, and a minimal HTTP/1.1 client
//! over a raw `TcpStream` (so hostile request lines reach the server byte for byte).
#![allow(dead_code)] // not every helper is used by every module

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use origin::{OriginError, ServeConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Bytes of the "large" segment: more than four read chunks plus a tail.
pub const BIG_LEN: usize = 1024 * 1024 + 123;
pub const SECRET: &str = "TOPSECRET-outside-root";

pub const LIVE_M3U8: &str =
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:10\n\
#EXTINF:6.000,\nseg10.ts\n#EXTINF:6.000,\nseg11.ts\n#EXTINF:6.000,\nseg12.ts\n";
pub const VOD_M3U8: &str =
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n\
#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.000,\nseg0.m4s\n#EXTINF:4.000,\nseg1.m4s\n#EXT-X-ENDLIST\n";
pub const MASTER_M3U8: &str =
    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1280000,CODECS=\"avc1.64001f,mp4a.40.2\",\
RESOLUTION=1280x720\nv0.m3u8\n";

/// The byte at offset `i` of every binary fixture.
pub fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(31) % 251) as u8
}

pub fn pattern_bytes(len: usize) -> Vec<u8> {
    (0..len).map(pattern).collect()
}

/// A temporary directory `…/origin-test-<pid>-<n>/` holding `root/` (served) and `secret.txt`
/// (outside the root), removed on drop.
pub struct Fixture {
    pub dir: PathBuf,
    pub root: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("origin-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("root");
        let f = Fixture { dir, root };
        f.write("live.m3u8", LIVE_M3U8.as_bytes());
        f.write("vod/master.m3u8", MASTER_M3U8.as_bytes());
        f.write("vod/v0.m3u8", VOD_M3U8.as_bytes());
        f.write("vod/init.mp4", &pattern_bytes(700));
        f.write("vod/seg0.m4s", &pattern_bytes(5000));
        f.write("seg10.ts", &pattern_bytes(1880));
        f.write("big.ts", &pattern_bytes(BIG_LEN));
        f.write("audio.m4a", &pattern_bytes(300));
        f.write("audio.aac", &pattern_bytes(300));
        f.write("subs.vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n");
        f.write("page.html", b"<!doctype html><p>hi</p>");
        f.write("app.js", b"console.log(1);");
        f.write("style.css", b"p{}");
        f.write("data.json", b"{}");
        f.write("blob.bin", b"binary");
        f.write("empty.ts", b"");
        f.write(".hidden", SECRET.as_bytes());
        f.write(".tmp123/seg.ts", SECRET.as_bytes());
        f.write("deep/a/b/master.m3u8", MASTER_M3U8.as_bytes());
        f.write("deep/.tmp/master.m3u8", MASTER_M3U8.as_bytes());
        f.mkdir("emptydir");
        std::fs::write(f.dir.join("secret.txt"), SECRET).expect("write secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            let _ = symlink(f.dir.join("secret.txt"), f.root.join("link-out.ts"));
            let _ = symlink("..", f.root.join("updir"));
            let _ = symlink("seg10.ts", f.root.join("link-in.ts"));
            let _ = symlink(".tmp123/seg.ts", f.root.join("link-hidden.ts"));
        }
        f
    }

    pub fn write(&self, rel: &str, data: &[u8]) {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create fixture dir");
        }
        std::fs::write(&path, data).expect("write fixture");
    }

    /// Replaces a file atomically (write + rename), as the packager does.
    pub fn replace(&self, rel: &str, data: &[u8]) {
        let tmp = self
            .root
            .join(format!(".replace-{}", rel.replace('/', "_")));
        std::fs::write(&tmp, data).expect("write fixture");
        std::fs::rename(&tmp, self.root.join(rel)).expect("rename fixture");
    }

    pub fn mkdir(&self, rel: &str) {
        std::fs::create_dir_all(self.root.join(rel)).expect("mkdir fixture");
    }

    pub fn config(&self) -> ServeConfig {
        ServeConfig {
            root: self.root.clone(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Default::default()
        }
    }
}

/// A running server; dropping it without [`TestServer::stop`] just aborts it.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), OriginError>>>,
}

impl TestServer {
    pub async fn start(config: ServeConfig) -> Self {
        Self::start_with_events(config).await.0
    }

    /// [`TestServer::start`], with the server's event hub.
    pub async fn start_with_events(config: ServeConfig) -> (Self, origin::events::Events) {
        let server = match Server::bind(&config).await {
            Ok(s) => s,
            Err(e) => panic!("bind: {e}"),
        };
        let events = server.events().clone();
        let addr = server.local_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        let server = TestServer {
            addr,
            stop: Some(tx),
            task: Some(task),
        };
        (server, events)
    }

    /// Signals shutdown without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(mut self) -> Result<(), OriginError> {
        self.signal_stop();
        match self.task.take() {
            Some(task) => match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => panic!("server task: {e}"),
                Err(_) => panic!("server did not stop within 10 s"),
            },
            None => Ok(()),
        }
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, "GET", path, headers).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of a header (case-insensitive name); several fields are joined with ", ".
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 connection.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => panic!("connect {addr}: {e}"),
        };
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends `raw` bytes as they are.
    pub async fn send_raw(&mut self, raw: &[u8]) {
        if let Err(e) = self.stream.write_all(raw).await {
            panic!("write: {e}");
        }
    }

    pub async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.send_raw(req.as_bytes()).await;
    }

    async fn fill(&mut self) -> bool {
        self.buf.reserve(64 * 1024);
        matches!(self.stream.read_buf(&mut self.buf).await, Ok(n) if n > 0)
    }

    /// Reads the response head only.
    pub async fn read_head(&mut self) -> Option<Response> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                let mut lines = head.split("\r\n");
                let status_line = lines.next()?;
                let status = status_line.split(' ').nth(1)?.parse().ok()?;
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                return Some(Response {
                    status,
                    headers,
                    body: Vec::new(),
                });
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Reads exactly `n` body bytes.
    pub async fn read_body_bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    /// Reads one complete response to a request made with `method`.
    pub async fn read_response(&mut self, method: &str) -> Option<Response> {
        let mut res = self.read_head().await?;
        let no_body =
            method == "HEAD" || res.status == 304 || res.status == 204 || res.status < 200;
        if no_body {
            return Some(res);
        }
        if let Some(len) = res.header("content-length") {
            res.body = self.read_body_bytes(len.parse().ok()?).await?;
        } else if res
            .header("transfer-encoding")
            .is_some_and(|t| t.contains("chunked"))
        {
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        break i;
                    }
                    if !self.fill().await {
                        return None;
                    }
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                self.buf.drain(..line_end + 2);
                let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
                let chunk = self.read_body_bytes(size + 2).await?;
                if size == 0 {
                    break;
                }
                res.body.extend_from_slice(&chunk[..size]);
            }
        } else {
            while self.fill().await {}
            res.body = std::mem::take(&mut self.buf);
        }
        Some(res)
    }

    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        self.send(method, path, headers).await;
        match self.read_response(method).await {
            Some(r) => r,
            None => panic!("{method} {path}: connection closed without a response"),
        }
    }

    /// Whether the server closes the connection (EOF or reset) within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut chunk = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut conn = Conn::open(addr).await;
    conn.request(method, path, headers).await
}

/// The value of an unlabelled metric on the server's `/metrics` page.
pub async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let text = request(addr, "GET", "/metrics", &[]).await.text();
    let value = text.lines().find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        (n == name).then(|| v.parse().ok())?
    });
    match value {
        Some(v) => v,
        None => panic!("no metric {name} in\n{text}"),
    }
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut dec = flate2::read::GzDecoder::new(data);
    dec.read_to_end(&mut out).unwrap_or_default();
    out
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}
