// SPDX-License-Identifier: MIT OR Apache-2.0
//! Behind a CDN, for real: Varnish and nginx (proxy_cache) in front of `hlsorigin serve`, each run
//! with exactly the configuration README "Behind a CDN" recommends (tests/cdn/).
//!
//! Through each proxy: a repeated segment is a cache hit and reaches the origin once (origin
//! `/metrics`); Range requests get 206 with the file's bytes, from one origin fetch; a VOD playlist
//! is cached, keyed with its query string (LL-HLS `_HLS_msn`/`_HLS_part`/`_HLS_skip`); a live playlist is never served staler than its `max-age` and its `Cache-Control`
//! passes through; a 404 keeps the short error lifetime (and a file created after it shows up);
//! hls.js in headless Chromium plays a segmented and a single-file (byte-range) stream through
//! the proxy. A missing proxy binary is a failure, never a skip (scripts/test.sh installs both).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::server::{play, serve};
use crate::common::{fixtures, out_dir, package};

const TEMPLATES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cdn");
/// Values the README shows the templates with.
const README_VARNISH: &[(&str, &str)] = &[("ORIGIN_HOST", "127.0.0.1"), ("ORIGIN_PORT", "8080")];
const README_NGINX: &[(&str, &str)] = &[
    ("CACHE_DIR", "/var/cache/nginx/hls"),
    ("LISTEN", "80"),
    ("ORIGIN", "127.0.0.1:8080"),
];
const IO_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn varnish_in_front_of_origin() {
    behind(ProxyKind::Varnish);
}

#[test]
fn nginx_in_front_of_origin() {
    behind(ProxyKind::Nginx);
}

/// The configurations in README are the ones tested here, byte for byte.
#[test]
fn readme_shows_the_tested_configs() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    for (file, vars) in [
        ("varnish.vcl", README_VARNISH),
        ("nginx-hls.conf", README_NGINX),
    ] {
        let shown = render(&template(file), vars);
        assert!(
            readme.contains(&shown),
            "README.md \"Behind a CDN\" must show tests/cdn/{file} rendered with {vars:?}:\n{shown}"
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProxyKind {
    Varnish,
    Nginx,
}

impl ProxyKind {
    fn name(self) -> &'static str {
        match self {
            ProxyKind::Varnish => "varnish",
            ProxyKind::Nginx => "nginx",
        }
    }
}

fn behind(kind: ProxyKind) {
    let name = kind.name();
    let root = out_dir(&format!("cdn-{name}-root"));
    std::fs::create_dir_all(&root).expect("create root");
    let input = fixtures::playback();
    let common = ["--format", "fmp4", "--segment-duration", "2", "--quiet"];
    package(&input, &root.join("fmp4"), &common);
    package(
        &input,
        &root.join("single"),
        &[&common[..], &["--single-file"]].concat(),
    );
    let origin = serve(&root, &[]);
    let proxy = Proxy::start(kind, &origin.base);
    let p = &proxy.base;
    let o = origin.base.as_str();
    eprintln!("cdn: {name} at {p} in front of {o}");

    let stream = root.join("fmp4");
    let segments = media_uris(&stream.join("stream.m3u8"));
    let [seg_a, seg_b, ..] = segments.as_slice() else {
        panic!("want at least 2 segments in fmp4/stream.m3u8, got {segments:?}");
    };

    // (1) A second GET of a segment is a hit, and the origin saw one request.
    let before = origin_requests(o, "segment");
    let path = format!("/fmp4/{seg_a}");
    let want = read(&stream.join(seg_a));
    let first = get(p, &path, &[]);
    let second = get(p, &path, &[]);
    for (i, r) in [&first, &second].into_iter().enumerate() {
        r.expect_status(200, &path);
        assert!(
            r.body == want,
            "GET {path} #{i} via {name}: body differs from the file"
        );
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "GET {path} via {name}: origin Cache-Control must pass through"
        );
    }
    first.expect_cache(false, kind, &path);
    second.expect_cache(true, kind, &path);
    assert_eq!(
        origin_requests(o, "segment") - before,
        1,
        "two GETs of {path} via {name} must reach the origin once"
    );

    // (2) Ranges: 206 + Content-Range + the file's bytes, on a miss and on a hit, one origin fetch.
    let before = origin_requests(o, "segment");
    let path = format!("/fmp4/{seg_b}");
    let want = read(&stream.join(seg_b));
    let len = want.len();
    assert!(len > 2000, "{seg_b} is only {len} bytes");
    let tail = len - 500;
    let cases = [
        ("bytes=100-1099", 100, 1099),
        ("bytes=-500", tail, len - 1),
        ("bytes=1000-", 1000, len - 1),
    ];
    for (i, (range, start, end)) in cases.into_iter().enumerate() {
        let r = get(p, &path, &[("Range", range)]);
        let what = format!("GET {path} Range: {range} via {name}");
        r.expect_status(206, &what);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {start}-{end}/{len}").as_str()),
            "{what}"
        );
        assert!(
            want.get(start..=end) == Some(r.body.as_slice()),
            "{what}: body ({} bytes) is not bytes {start}-{end} of the file",
            r.body.len()
        );
        r.expect_cache(i > 0, kind, &what);
    }
    assert_eq!(
        origin_requests(o, "segment") - before,
        1,
        "three Range requests for {path} via {name} must cost one origin fetch"
    );

    // (3) A VOD playlist (ENDLIST) is cached.
    let before = origin_requests(o, "playlist");
    let path = "/fmp4/stream.m3u8";
    let want = read(&stream.join("stream.m3u8"));
    assert!(String::from_utf8_lossy(&want).contains("#EXT-X-ENDLIST"));
    for hit in [false, true] {
        let r = get(p, path, &[]);
        r.expect_status(200, path);
        assert!(
            r.body == want,
            "GET {path} via {name}: body differs from the file"
        );
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=60"),
            "{path}"
        );
        r.expect_cache(hit, kind, path);
    }
    assert_eq!(
        origin_requests(o, "playlist") - before,
        1,
        "two GETs of {path} via {name} must reach the origin once"
    );

    // The cache key includes the query string: LL-HLS directives name different playlists
    // (with ENDLIST the origin ignores them and answers the whole playlist, RFC 8216bis 6.2.5.2).
    let before = origin_requests(o, "playlist");
    let mut cases = vec![
        ("?_HLS_msn=1", false),
        ("?_HLS_msn=2", false),
        ("?_HLS_msn=2&_HLS_part=0", false),
        ("?_HLS_msn=2&_HLS_skip=YES", false),
        ("?_HLS_msn=1", true),
        ("?_HLS_msn=2&_HLS_part=0", true),
    ];
    if kind == ProxyKind::Varnish {
        // The VCL sorts the query, so parameter order does not split the cache.
        cases.push(("?_HLS_part=0&_HLS_msn=2", true));
    }
    for (query, hit) in &cases {
        let url = format!("{path}{query}");
        let r = get(p, &url, &[]);
        r.expect_status(200, &url);
        assert!(
            r.body == want,
            "GET {url} via {name}: body differs from the file"
        );
        r.expect_cache(*hit, kind, &url);
    }
    let misses = cases.iter().filter(|(_, hit)| !hit).count() as u64;
    assert_eq!(
        origin_requests(o, "playlist") - before,
        misses,
        "{path} with LL-HLS queries via {name}: one origin request per distinct query"
    );

    // (4) A live playlist (TARGETDURATION 2, so max-age=1) is never served staler than its max-age,
    // and (5) a 404 keeps the short error lifetime: a file created after the 404 shows up.
    let live_dir = root.join("live");
    std::fs::create_dir_all(&live_dir).expect("create live dir");
    let live = "/live/live.m3u8";
    let late = "/live/late.m3u8";
    let missing = get(p, late, &[]);
    missing.expect_status(404, late);
    assert_eq!(
        missing.header("cache-control"),
        Some("public, max-age=1"),
        "GET {late} via {name}: a 404 must carry the origin's error Cache-Control"
    );
    let seg404 = "/fmp4/no_such_segment.m4s";
    let r = get(p, seg404, &[]);
    r.expect_status(404, seg404);
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=1"),
        "{seg404}"
    );
    for seq in 0..3u32 {
        let text = live_playlist(seq);
        write_atomic(&live_dir.join("live.m3u8"), &text);
        if seq == 0 {
            write_atomic(&live_dir.join("late.m3u8"), &text);
        } else {
            // The previous version was fetched (and cached) just before the rewrite; wait out
            // max-age (1 s) plus 1 s.
            std::thread::sleep(Duration::from_secs(2));
        }
        // Twice: the first may refill the cache, the second may be a hit; both must be current.
        for _ in 0..2 {
            let r = get(p, live, &[]);
            r.expect_status(200, live);
            assert_eq!(
                String::from_utf8_lossy(&r.body),
                text,
                "GET {live} via {name} after rewrite {seq} (+2 s) served stale content"
            );
            assert_eq!(
                r.header("cache-control"),
                Some("public, max-age=1"),
                "GET {live} via {name}: origin Cache-Control must pass through"
            );
            if let Some(age) = r.age() {
                assert!(age <= 1, "GET {live} via {name}: Age {age} > max-age 1");
            }
        }
        if seq == 1 {
            // Created with version 0, more than 2 s ago.
            let r = get(p, late, &[]);
            r.expect_status(200, &format!("{late} (404 cached too long?)"));
        }
    }

    // (6) hls.js plays through the proxy; the origin serves each segment at most once, and the
    // single file (played with byte ranges) once as a whole.
    let before = origin_requests(o, "segment");
    let before_init = origin_requests(o, "init");
    for stream in ["fmp4", "single"] {
        let url = format!("{p}/{stream}/master.m3u8");
        let report = play(&url, "hlsjs", 5, &[]);
        assert!(
            report["ok"] == true,
            "hls.js through {name} failed for {url}: {report}"
        );
    }
    let fetched = origin_requests(o, "segment") - before;
    assert!(
        fetched <= segments.len() as u64,
        "playback via {name} made {fetched} origin segment requests for {} segments",
        segments.len()
    );
    let fetched = origin_requests(o, "init") - before_init;
    assert!(
        fetched <= 2,
        "playback via {name} made {fetched} origin requests for fmp4/…init.mp4 and single/….mp4"
    );
}

/// A running proxy; stopped (SIGTERM, then SIGKILL) on drop.
pub(super) struct Proxy {
    child: Child,
    pub(super) base: String,
    log: PathBuf,
}

impl Proxy {
    fn start(kind: ProxyKind, origin_base: &str) -> Proxy {
        Self::start_in(kind, origin_base, &format!("cdn-{}-proxy", kind.name()))
    }

    /// [`Proxy::start`] with its files in the test output directory `dir_name`.
    pub(super) fn start_in(kind: ProxyKind, origin_base: &str, dir_name: &str) -> Proxy {
        let origin = origin_base
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("origin URL {origin_base} is not http://"));
        let (origin_host, origin_port) = origin
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("origin URL {origin_base} has no port"));
        let dir = out_dir(dir_name);
        std::fs::create_dir_all(dir.join("tmp")).expect("create proxy dir");
        let dir_s = dir.to_str().expect("UTF-8 test dir").to_owned();
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = dir.join("proxy.log");
        let mut cmd = match kind {
            ProxyKind::Varnish => {
                let vcl = dir.join("hls.vcl");
                write(
                    &vcl,
                    &render(
                        &template("varnish.vcl"),
                        &[("ORIGIN_HOST", origin_host), ("ORIGIN_PORT", origin_port)],
                    ),
                );
                let mut c = Command::new(tool("varnishd", "varnish"));
                // -j none: no privilege separation, so it runs the same as root (CI) or not.
                c.args([
                    "-F", "-j", "none", "-n", &dir_s, "-a", &listen, "-T", "none",
                ])
                .arg("-f")
                .arg(&vcl)
                .args(["-s", "malloc,64m"]);
                c
            }
            ProxyKind::Nginx => {
                write(
                    &dir.join("nginx.conf"),
                    &render(&template("nginx.conf"), &[("DIR", &dir_s)]),
                );
                write(
                    &dir.join("hls-cache.conf"),
                    &render(
                        &template("nginx-hls.conf"),
                        &[
                            ("CACHE_DIR", &format!("{dir_s}/cache")),
                            ("LISTEN", &listen),
                            ("ORIGIN", origin),
                        ],
                    ),
                );
                let mut c = Command::new(tool("nginx", "nginx"));
                c.arg("-p")
                    .arg(&dir)
                    .arg("-c")
                    .arg(dir.join("nginx.conf"))
                    .arg("-e")
                    .arg(dir.join("error.log"))
                    .args(["-g", "daemon off;"]);
                c
            }
        };
        let out = File::create(&log).expect("create proxy log");
        let err = out.try_clone().expect("clone proxy log handle");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut proxy = Proxy {
            child,
            base: format!("http://{listen}"),
            log,
        };
        proxy.wait_ready(kind);
        proxy
    }

    /// Waits until a request through the proxy reaches the origin (`/healthz`, `no-store`).
    fn wait_ready(&mut self, kind: ProxyKind) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) during startup:\n{}",
                    kind.name(),
                    self.log_text()
                );
            }
            if let Ok(r) = try_get(&self.base, "/healthz", &[]) {
                if r.status == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} at {} not answering /healthz with 200 within 60 s:\n{}",
                kind.name(),
                self.base,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_text(&self) -> String {
        let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
        if let Some(dir) = self.log.parent() {
            if let Ok(e) = std::fs::read_to_string(dir.join("error.log")) {
                text.push_str(&e);
            }
        }
        text
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SIGTERM lets nginx stop its workers (a SIGKILLed master would orphan them); the sh
        // builtin avoids depending on procps' kill(1).
        let pid = self.child.id().to_string();
        let _ = Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh", &pid])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The proxy's binary: on PATH or in /usr/sbin (not on a normal user's PATH). Missing is a failure.
fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found on PATH or in /usr/sbin: install the Debian package `{package}` \
                 (scripts/test.sh does); the CDN tests need a real caching proxy"
            )
        })
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    l.local_addr().expect("local addr").port()
}

fn template(name: &str) -> String {
    std::fs::read_to_string(Path::new(TEMPLATES).join(name))
        .unwrap_or_else(|e| panic!("read tests/cdn/{name}: {e}"))
}

/// Replaces every `{{KEY}}`; all placeholders must be given.
fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    assert!(
        !out.contains("{{"),
        "unreplaced placeholder in a template:\n{out}"
    );
    out
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Playlist updates are atomic (RFC 8216bis 6.2.1): write a sibling, then rename.
fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("m3u8.tmp");
    write(&tmp, text);
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename onto {}: {e}", path.display()));
}

fn live_playlist(seq: u32) -> String {
    let mut text = format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{seq}\n"
    );
    for i in seq..seq + 3 {
        text.push_str(&format!("#EXTINF:2.000,\nseg{i}.m4s\n"));
    }
    text
}

/// URI lines of a media playlist.
fn media_uris(playlist: &Path) -> Vec<String> {
    String::from_utf8_lossy(&read(playlist))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Requests the origin counted for one route kind, over all statuses (origin `/metrics`).
fn origin_requests(origin_base: &str, kind: &str) -> u64 {
    let r = get(origin_base, "/metrics", &[]);
    r.expect_status(200, "origin /metrics");
    let prefix = format!("hlsorigin_http_requests_total{{kind=\"{kind}\",");
    String::from_utf8_lossy(&r.body)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("bad metrics line {l:?}"))
        })
        .sum()
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn age(&self) -> Option<u64> {
        self.header("age").map(|a| {
            a.parse()
                .unwrap_or_else(|_| panic!("Age header {a:?} is not a number"))
        })
    }

    fn expect_status(&self, want: u16, what: &str) {
        assert_eq!(
            self.status, want,
            "{what}: status {} (headers {:?})",
            self.status, self.headers
        );
    }

    /// Hit or miss per the proxy's `X-Cache` (set by both configs); Varnish must also send `Age`.
    fn expect_cache(&self, hit: bool, kind: ProxyKind, what: &str) {
        let want = if hit { "HIT" } else { "MISS" };
        assert_eq!(
            self.header("x-cache"),
            Some(want),
            "{what} via {}: headers {:?}",
            kind.name(),
            self.headers
        );
        if kind == ProxyKind::Varnish {
            assert!(self.age().is_some(), "{what}: Varnish sent no Age header");
            // X-Varnish carries the request id, plus the id that stored the object on a hit.
            let ids = self.header("x-varnish").map_or(0, |v| v.split(' ').count());
            assert_eq!(ids, if hit { 2 } else { 1 }, "{what}: X-Varnish ids");
        }
    }
}

fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    try_get(base, path, headers).unwrap_or_else(|e| panic!("GET {base}{path}: {e}"))
}

/// One HTTP/1.1 GET on a fresh connection (`Connection: close`); chunked bodies decoded.
fn try_get(base: &str, path: &str, headers: &[(&str, &str)]) -> Result<Response, String> {
    let host = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("{base} is not http://"))?;
    let mut stream = TcpStream::connect(host).map_err(|e| format!("connect {host}: {e}"))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| e.to_string())?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read: {e}"))?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|e| format!("head: {e}"))?;
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut res = Response {
        status,
        headers,
        body: Vec::new(),
    };
    res.body = if res
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        dechunk(body)?
    } else if let Some(len) = res.header("content-length") {
        let len: usize = len.parse().map_err(|_| format!("Content-Length {len:?}"))?;
        body.get(..len)
            .ok_or_else(|| format!("body {} bytes < Content-Length {len}", body.len()))?
            .to_vec()
    } else {
        body.to_vec()
    };
    Ok(res)
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line")?;
        let line = std::str::from_utf8(&data[..eol]).map_err(|e| e.to_string())?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("chunk size {line:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("truncated chunk")?);
        data = data.get(size + 2..).ok_or("truncated chunk end")?;
    }
}
