// SPDX-License-Identifier: MIT OR Apache-2.0
//! Built-in routes (index page, stream list, health, metrics), the access log and start-up
//! errors.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use origin::{OriginError, ServeConfig, Server};

use crate::common::*;

#[tokio::test]
async fn index_page_and_stream_list() {
    let fx = Fixture::new();
    let mut config = fx.config();
    config.hlsjs_url = "https://cdn.example/hls.js?v=1&x=\"2\"".into();
    let server = TestServer::start(config).await;

    let page = server.get("/", &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(
        html.contains(r#"data-hlsjs="https://cdn.example/hls.js?v=1&amp;x=&quot;2&quot;""#),
        "escaped hls.js URL"
    );
    assert!(html.contains("<video id=\"video\" controls muted playsinline>"));
    assert!(
        html.contains("application/vnd.apple.mpegurl"),
        "native HLS check"
    );
    assert!(html.contains("window.__player"), "test hooks");
    assert!(!html.contains("{{"), "unreplaced placeholder");
    let head = request(server.addr, "HEAD", "/", &[]).await;
    assert_eq!(
        head.header("content-length"),
        Some(page.body.len().to_string())
    );

    let list = server.get("/api/streams", &[]).await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.header("content-type").as_deref(),
        Some("application/json")
    );
    let json: serde_json::Value = serde_json::from_slice(&list.body).expect("JSON");
    assert_eq!(
        json["streams"],
        serde_json::json!(["deep/a/b/master.m3u8", "live.m3u8", "vod/master.m3u8"]),
        "every */master.m3u8 and top-level *.m3u8, no dot directories"
    );
    assert_eq!(json["seq"], 0);
    let rendition = serde_json::json!({
        "bandwidth": 1_280_000, "resolution": "1280x720", "codecs": "avc1.64001f,mp4a.40.2"
    });
    assert_eq!(
        json["entries"],
        serde_json::json!([
            // Its variant playlist is missing: renditions only.
            { "playlist": "deep/a/b/master.m3u8", "name": "deep/a/b", "renditions": [rendition],
              "viewers": 0 },
            { "playlist": "live.m3u8", "name": "live", "kind": "live", "state": "live",
              "duration": 18.0, "msn": 12, "part": 0, "renditions": [], "viewers": 0 },
            { "playlist": "vod/master.m3u8", "name": "vod", "kind": "vod", "state": "ended",
              "duration": 8.0, "renditions": [rendition], "viewers": 0 },
        ])
    );

    // A playlist that changes is read again (the details are kept per version).
    fx.write(
        "live.m3u8",
        format!("{LIVE_M3U8}#EXT-X-ENDLIST\n").as_bytes(),
    );
    let list = server.get("/api/streams", &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&list.body).expect("JSON");
    assert_eq!(json["entries"][1]["state"], "ended", "{json}");
}

/// The page loads the hls.js embedded in the binary by default; it is served with its licence,
/// as JavaScript, immutable (the version is in the path).
#[tokio::test]
async fn embedded_hlsjs_is_the_default_and_served_immutable() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    let html = server.get("/", &[]).await.text();
    let path = "/_hlsorigin/hls.js-1.7.4/hls.min.js";
    assert!(
        html.contains(&format!("data-hlsjs=\"{path}\"")),
        "default URL"
    );
    let js = server.get(path, &[]).await;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type").as_deref(),
        Some("application/javascript; charset=utf-8")
    );
    assert_eq!(
        js.header("cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let asset = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/hls.js/hls.min.js");
    assert_eq!(
        js.body,
        std::fs::read(asset).expect("asset"),
        "the file, unchanged"
    );
    let license = server.get("/_hlsorigin/hls.js-1.7.4/LICENSE", &[]).await;
    assert_eq!(license.status, 200);
    assert!(license.text().contains("Apache License"));
    let other = server.get("/_hlsorigin/hls.js-1.0.0/hls.min.js", &[]).await;
    assert_eq!(other.status, 404, "only the embedded version");
}

#[tokio::test]
async fn healthz_and_metrics() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    let health = server.get("/healthz", &[]).await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));
    assert_eq!(health.header("cache-control").as_deref(), Some("no-store"));

    assert_eq!(server.get("/seg10.ts", &[]).await.status, 200);
    assert_eq!(server.get("/vod/init.mp4", &[]).await.status, 200);
    assert_eq!(server.get("/live.m3u8", &[]).await.status, 200);
    assert_eq!(server.get("/nope.m4s", &[]).await.status, 404);
    assert_eq!(
        server
            .get("/seg10.ts", &[("range", "bytes=0-99")])
            .await
            .status,
        206
    );

    let metrics = server.get("/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    let text = metrics.text();
    for want in [
        "hlsorigin_http_requests_total{kind=\"segment\",status=\"200\"} 1\n",
        "hlsorigin_http_requests_total{kind=\"segment\",status=\"206\"} 1\n",
        "hlsorigin_http_requests_total{kind=\"segment\",status=\"404\"} 1\n",
        "hlsorigin_http_requests_total{kind=\"init\",status=\"200\"} 1\n",
        "hlsorigin_http_requests_total{kind=\"playlist\",status=\"200\"} 1\n",
        "hlsorigin_http_requests_total{kind=\"other\",status=\"200\"} 1\n",
        "hlsorigin_http_response_bytes_total{kind=\"init\"} 700\n",
        "hlsorigin_http_request_duration_seconds_count{kind=\"segment\"} 3\n",
        "# TYPE hlsorigin_http_request_duration_seconds histogram\n",
        "hlsorigin_connections_total 7\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let value = |prefix: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // 1880 + 100 + the 404 body.
    let seg_bytes = value("hlsorigin_http_response_bytes_total{kind=\"segment\"} ");
    assert!(seg_bytes > 1980, "segment bytes {seg_bytes}");
    // At least the connection asking; earlier ones may not be reaped yet.
    let open = value("hlsorigin_open_connections ");
    assert!((1..=7).contains(&open), "open connections {open}");
}

/// Log lines written by the global subscriber of this test binary.
fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || LogWriter(Arc::clone(&sink)))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    }))
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buf) = self.0.lock() {
            buf.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn access_log_line_per_request() {
    let buf = log_buffer();
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    assert_eq!(server.get("/access-log-probe.ts", &[]).await.status, 404);
    assert_eq!(
        server
            .get("/seg10.ts?probe=access-log", &[("range", "bytes=0-9")])
            .await
            .status,
        206
    );
    let text = buf
        .lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let line = |needle: &str| text.lines().find(|l| l.contains(needle)).map(str::to_owned);
    let miss =
        line("uri=/access-log-probe.ts").unwrap_or_else(|| panic!("no access log line in\n{text}"));
    for want in [
        "origin::access",
        "method=GET",
        "status=404",
        "bytes=",
        "ms=",
    ] {
        assert!(miss.contains(want), "{want:?} missing in {miss:?}");
    }
    let hit = line("uri=/seg10.ts?probe=access-log")
        .unwrap_or_else(|| panic!("no access log line in\n{text}"));
    assert!(
        hit.contains("status=206") && hit.contains("bytes=10"),
        "{hit:?}"
    );
}

#[tokio::test]
async fn startup_errors_are_reported() {
    let fx = Fixture::new();
    let missing = ServeConfig {
        root: fx.dir.join("no-such-dir"),
        ..fx.config()
    };
    assert!(matches!(
        Server::bind(&missing).await,
        Err(OriginError::Root { .. })
    ));

    let bad_header = ServeConfig {
        cache_segment: "bad\nvalue".into(),
        ..fx.config()
    };
    assert!(matches!(
        Server::bind(&bad_header).await,
        Err(OriginError::Config(_))
    ));

    let no_conns = ServeConfig {
        max_connections: 0,
        ..fx.config()
    };
    assert!(matches!(
        Server::bind(&no_conns).await,
        Err(OriginError::Config(_))
    ));

    let first = TestServer::start(fx.config()).await;
    let taken = ServeConfig {
        listen: first.addr,
        ..fx.config()
    };
    assert!(matches!(
        Server::bind(&taken).await,
        Err(OriginError::Bind { .. })
    ));

    let missing_cert = ServeConfig {
        tls_cert: Some(fx.dir.join("cert.pem")),
        tls_key: Some(fx.dir.join("key.pem")),
        ..fx.config()
    };
    assert!(matches!(
        Server::bind(&missing_cert).await,
        Err(OriginError::Tls(_))
    ));
}
