// SPDX-License-Identifier: MIT OR Apache-2.0
//! HTTP semantics of object responses.

use crate::common::*;

/// What a case expects of the body.
#[derive(Debug, Clone, Copy)]
enum Body {
    Any,
    Empty,
    Exact(&'static [u8]),
    /// `pattern` bytes `offset..offset + len`.
    Pattern(usize, usize),
}

/// One request and the expected status, headers (`None` = must be absent) and body.
struct Case {
    method: &'static str,
    path: &'static str,
    req: &'static [(&'static str, &'static str)],
    status: u16,
    headers: &'static [(&'static str, Option<&'static str>)],
    body: Body,
}

const fn case(
    method: &'static str,
    path: &'static str,
    req: &'static [(&'static str, &'static str)],
    status: u16,
    headers: &'static [(&'static str, Option<&'static str>)],
    body: Body,
) -> Case {
    Case {
        method,
        path,
        req,
        status,
        headers,
        body,
    }
}

const IMMUTABLE: Option<&str> = Some("public, max-age=31536000, immutable");
const ERR: Option<&str> = Some("public, max-age=1");

async fn run_cases(server: &TestServer, cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let res = request(server.addr, c.method, c.path, c.req).await;
        let mut problems = Vec::new();
        if res.status != c.status {
            problems.push(format!("status: want {} got {}", c.status, res.status));
        }
        for (name, want) in c.headers {
            let got = res.header(name);
            if got.as_deref() != *want {
                problems.push(format!("{name}: want {want:?} got {got:?}"));
            }
        }
        let body_ok = match c.body {
            Body::Any => true,
            Body::Empty => res.body.is_empty(),
            Body::Exact(b) => res.body == b,
            Body::Pattern(off, len) => {
                res.body == (off..off + len).map(pattern).collect::<Vec<_>>()
            }
        };
        if !body_ok {
            problems.push(format!(
                "body: want {:?}, got {} bytes {:?}",
                c.body,
                res.body.len(),
                res.text().get(..80)
            ));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} {} {:?}:\n    {}",
                c.method,
                c.path,
                c.req,
                problems.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn methods_mime_and_cache_control() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    const M3U8: Option<&str> = Some("application/vnd.apple.mpegurl");
    run_cases(
        &server,
        &[
            case(
                "GET",
                "/live.m3u8",
                &[],
                200,
                &[
                    ("content-type", M3U8),
                    ("cache-control", Some("public, max-age=3")),
                    ("vary", Some("Accept-Encoding")),
                    ("content-encoding", None),
                ],
                Body::Exact(LIVE_M3U8.as_bytes()),
            ),
            case(
                "GET",
                "/vod/v0.m3u8",
                &[],
                200,
                &[
                    ("content-type", M3U8),
                    ("cache-control", Some("public, max-age=60")),
                ],
                Body::Exact(VOD_M3U8.as_bytes()),
            ),
            case(
                "GET",
                "/vod/master.m3u8",
                &[],
                200,
                &[
                    ("content-type", M3U8),
                    ("cache-control", Some("public, max-age=60")),
                ],
                Body::Exact(MASTER_M3U8.as_bytes()),
            ),
            case(
                "GET",
                "/seg10.ts",
                &[],
                200,
                &[
                    ("content-type", Some("video/mp2t")),
                    ("cache-control", IMMUTABLE),
                    ("accept-ranges", Some("bytes")),
                    ("content-length", Some("1880")),
                    ("vary", None),
                ],
                Body::Pattern(0, 1880),
            ),
            case(
                "GET",
                "/vod/seg0.m4s",
                &[],
                200,
                &[
                    ("content-type", Some("video/iso.segment")),
                    ("cache-control", IMMUTABLE),
                ],
                Body::Pattern(0, 5000),
            ),
            case(
                "GET",
                "/vod/init.mp4",
                &[],
                200,
                &[
                    ("content-type", Some("video/mp4")),
                    ("cache-control", IMMUTABLE),
                ],
                Body::Pattern(0, 700),
            ),
            case(
                "GET",
                "/audio.m4a",
                &[],
                200,
                &[
                    ("content-type", Some("audio/mp4")),
                    ("cache-control", IMMUTABLE),
                ],
                Body::Pattern(0, 300),
            ),
            case(
                "GET",
                "/audio.aac",
                &[],
                200,
                &[
                    ("content-type", Some("audio/aac")),
                    ("cache-control", IMMUTABLE),
                ],
                Body::Pattern(0, 300),
            ),
            case(
                "GET",
                "/subs.vtt",
                &[],
                200,
                &[
                    ("content-type", Some("text/vtt")),
                    ("cache-control", IMMUTABLE),
                ],
                Body::Any,
            ),
            case(
                "GET",
                "/page.html",
                &[],
                200,
                &[
                    ("content-type", Some("text/html; charset=utf-8")),
                    ("cache-control", Some("public, max-age=60")),
                ],
                Body::Exact(b"<!doctype html><p>hi</p>"),
            ),
            case(
                "GET",
                "/app.js",
                &[],
                200,
                &[("content-type", Some("text/javascript; charset=utf-8"))],
                Body::Exact(b"console.log(1);"),
            ),
            case(
                "GET",
                "/style.css",
                &[],
                200,
                &[("content-type", Some("text/css; charset=utf-8"))],
                Body::Exact(b"p{}"),
            ),
            case(
                "GET",
                "/data.json",
                &[],
                200,
                &[("content-type", Some("application/json"))],
                Body::Exact(b"{}"),
            ),
            case(
                "GET",
                "/blob.bin",
                &[],
                200,
                &[("content-type", Some("application/octet-stream"))],
                Body::Exact(b"binary"),
            ),
            case(
                "GET",
                "/empty.ts",
                &[],
                200,
                &[("content-length", Some("0"))],
                Body::Empty,
            ),
            case(
                "GET",
                "/link-in.ts",
                &[],
                200,
                &[("content-type", Some("video/mp2t"))],
                Body::Pattern(0, 1880),
            ),
            case(
                "HEAD",
                "/seg10.ts",
                &[],
                200,
                &[
                    ("content-length", Some("1880")),
                    ("content-type", Some("video/mp2t")),
                    ("cache-control", IMMUTABLE),
                ],
                Body::Empty,
            ),
            case(
                "HEAD",
                "/live.m3u8",
                &[],
                200,
                &[
                    ("content-length", Some("146")),
                    ("cache-control", Some("public, max-age=3")),
                ],
                Body::Empty,
            ),
            case(
                "POST",
                "/seg10.ts",
                &[("content-length", "0")],
                405,
                &[
                    ("allow", Some("GET, HEAD, OPTIONS")),
                    ("cache-control", ERR),
                ],
                Body::Any,
            ),
            case(
                "PUT",
                "/live.m3u8",
                &[("content-length", "0")],
                405,
                &[("cache-control", ERR)],
                Body::Any,
            ),
            case(
                "GET",
                "/missing.ts",
                &[],
                404,
                &[
                    ("cache-control", ERR),
                    ("access-control-allow-origin", Some("*")),
                ],
                Body::Any,
            ),
            case(
                "GET",
                "/missing.m3u8",
                &[],
                404,
                &[("cache-control", ERR)],
                Body::Any,
            ),
        ],
    )
    .await;
    assert_eq!(LIVE_M3U8.len(), 146, "fixture length used in the HEAD case");
}

#[tokio::test]
async fn ranges() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    run_cases(
        &server,
        &[
            case(
                "GET",
                "/seg10.ts",
                &[("range", "bytes=0-9")],
                206,
                &[
                    ("content-range", Some("bytes 0-9/1880")),
                    ("content-length", Some("10")),
                    ("content-type", Some("video/mp2t")),
                ],
                Body::Pattern(0, 10),
            ),
            case(
                "GET",
                "/seg10.ts",
                &[("range", "bytes=1870-")],
                206,
                &[("content-range", Some("bytes 1870-1879/1880"))],
                Body::Pattern(1870, 10),
            ),
            case(
                "GET",
                "/seg10.ts",
                &[("range", "bytes=-5")],
                206,
                &[("content-range", Some("bytes 1875-1879/1880"))],
                Body::Pattern(1875, 5),
            ),
            case(
                "GET",
                "/seg10.ts",
                &[("range", "bytes=100-99999")],
                206,
                &[("content-range", Some("bytes 100-1879/1880"))],
                Body::Pattern(100, 1780),
            ),
            case(
                "HEAD",
                "/seg10.ts",
                &[("range", "bytes=0-9")],
                206,
                &[
                    ("content-range", Some("bytes 0-9/1880")),
                    ("content-length", Some("10")),
                ],
                Body::Empty,
            ),
            case(
                "GET",
                "/seg10.ts",
                &[("range", "bytes=1880-")],
                416,
                &[
                    ("content-range", Some("bytes */1880")),
                    ("cache-control", ERR),
                ],
                Body::Empty,
            ),
            case(
                "GET",
                "/seg10.ts",
                &[("range", "bytes=-0")],
                416,
                &[("content-range", Some("bytes */1880"))],
                Body::Empty,
            ),
            case(
                "GET",
                "/empty.ts",
                &[("range", "bytes=0-")],
                416,
                &[("content-range", Some("bytes */0"))],
                Body::Empty,
            ),
            // Syntactically invalid or unsupported: ignored, full 200.
            case(
                "GET",
                "/seg10.ts",
                &[("range", "bytes=5-1")],
                200,
                &[("content-range", None)],
                Body::Pattern(0, 1880),
            ),
            case(
                "GET",
                "/seg10.ts",
                &[("range", "bytes=abc")],
                200,
                &[("content-range", None)],
                Body::Pattern(0, 1880),
            ),
            case(
                "GET",
                "/seg10.ts",
                &[("range", "items=0-1")],
                200,
                &[("content-range", None)],
                Body::Pattern(0, 1880),
            ),
            // Multi-range: answered with the whole file (documented choice).
            case(
                "GET",
                "/seg10.ts",
                &[("range", "bytes=0-1,5-6")],
                200,
                &[("content-range", None)],
                Body::Pattern(0, 1880),
            ),
            // Across the server's 256 KiB read chunks.
            case(
                "GET",
                "/big.ts",
                &[("range", "bytes=262100-262499")],
                206,
                &[("content-range", Some("bytes 262100-262499/1048699"))],
                Body::Pattern(262_100, 400),
            ),
            case(
                "GET",
                "/big.ts",
                &[],
                200,
                &[("content-length", Some("1048699"))],
                Body::Pattern(0, BIG_LEN),
            ),
            // If-Range that does not match: the whole file.
            case(
                "GET",
                "/seg10.ts",
                &[("range", "bytes=0-9"), ("if-range", "\"stale\"")],
                200,
                &[("content-range", None)],
                Body::Pattern(0, 1880),
            ),
            case(
                "GET",
                "/seg10.ts",
                &[
                    ("range", "bytes=0-9"),
                    ("if-range", "Thu, 01 Jan 1970 00:00:00 GMT"),
                ],
                200,
                &[],
                Body::Pattern(0, 1880),
            ),
        ],
    )
    .await;
    assert_eq!(BIG_LEN, 1_048_699);
}

type ConditionalCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);

#[tokio::test]
async fn validators_and_conditionals() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    let first = server.get("/seg10.ts", &[]).await;
    let etag = first.header("etag").unwrap_or_default();
    let last_modified = first.header("last-modified").unwrap_or_default();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "strong ETag: {etag:?}"
    );
    assert!(
        httpdate::parse_http_date(&last_modified).is_ok(),
        "Last-Modified: {last_modified:?}"
    );
    assert_eq!(
        server.get("/seg10.ts", &[]).await.header("etag"),
        Some(etag.clone()),
        "stable ETag"
    );

    let weak = format!("W/{etag}");
    let list = format!("\"a\", {etag}");
    // (method, request headers, expected status)
    let cases: Vec<ConditionalCase> = vec![
        ("GET", vec![("if-none-match", etag.as_str())], 304),
        ("HEAD", vec![("if-none-match", etag.as_str())], 304),
        ("GET", vec![("if-none-match", weak.as_str())], 304),
        ("GET", vec![("if-none-match", list.as_str())], 304),
        ("GET", vec![("if-none-match", "*")], 304),
        ("GET", vec![("if-none-match", "\"other\"")], 200),
        (
            "GET",
            vec![("if-modified-since", last_modified.as_str())],
            304,
        ),
        (
            "GET",
            vec![("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT")],
            200,
        ),
        (
            "GET",
            vec![
                ("if-none-match", "\"other\""),
                ("if-modified-since", last_modified.as_str()),
            ],
            200,
        ),
        ("GET", vec![("if-match", etag.as_str())], 200),
        ("GET", vec![("if-match", "*")], 200),
        ("GET", vec![("if-match", "\"other\"")], 412),
        ("GET", vec![("if-match", weak.as_str())], 412),
        (
            "GET",
            vec![("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT")],
            412,
        ),
        (
            "GET",
            vec![("if-unmodified-since", last_modified.as_str())],
            200,
        ),
        (
            "GET",
            vec![("range", "bytes=0-9"), ("if-range", etag.as_str())],
            206,
        ),
        (
            "GET",
            vec![("range", "bytes=0-9"), ("if-range", last_modified.as_str())],
            206,
        ),
        (
            "GET",
            vec![("range", "bytes=0-9"), ("if-range", weak.as_str())],
            200,
        ),
    ];
    for (method, headers, want) in &cases {
        let res = request(server.addr, method, "/seg10.ts", headers).await;
        assert_eq!(res.status, *want, "{method} {headers:?}");
        match res.status {
            304 => {
                assert!(res.body.is_empty());
                assert_eq!(
                    res.header("etag"),
                    Some(etag.clone()),
                    "304 carries the ETag"
                );
                assert_eq!(
                    res.header("cache-control").as_deref(),
                    Some("public, max-age=31536000, immutable")
                );
            }
            412 => assert_eq!(
                res.header("cache-control").as_deref(),
                Some("public, max-age=1")
            ),
            _ => {}
        }
    }
}

#[tokio::test]
async fn playlists_gzip_and_versions() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    let gz = server
        .get("/live.m3u8", &[("accept-encoding", "gzip, deflate, br")])
        .await;
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(gz.header("vary").as_deref(), Some("Accept-Encoding"));
    assert_eq!(gz.header("content-length"), Some(gz.body.len().to_string()));
    assert_eq!(gunzip(&gz.body), LIVE_M3U8.as_bytes());
    let gz_etag = gz.header("etag").unwrap_or_default();

    let head = request(
        server.addr,
        "HEAD",
        "/live.m3u8",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(
        head.header("content-length"),
        Some(gz.body.len().to_string()),
        "HEAD length = GET length"
    );
    assert_eq!(head.header("content-encoding").as_deref(), Some("gzip"));
    assert!(head.body.is_empty());

    let plain = server.get("/live.m3u8", &[]).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary").as_deref(), Some("Accept-Encoding"));
    assert_eq!(plain.body, LIVE_M3U8.as_bytes());
    let plain_etag = plain.header("etag").unwrap_or_default();
    assert_ne!(gz_etag, plain_etag, "each encoding has its own strong ETag");

    let refused = server
        .get("/live.m3u8", &[("accept-encoding", "gzip;q=0, identity")])
        .await;
    assert_eq!(refused.header("content-encoding"), None);

    // A Range request gets the identity encoding.
    let ranged = server
        .get(
            "/live.m3u8",
            &[("accept-encoding", "gzip"), ("range", "bytes=0-6")],
        )
        .await;
    assert_eq!(
        (ranged.status, ranged.body.as_slice()),
        (206, b"#EXTM3U".as_slice())
    );
    assert_eq!(ranged.header("content-encoding"), None);

    // Conditionals compare against the selected representation.
    let nm = server
        .get(
            "/live.m3u8",
            &[
                ("accept-encoding", "gzip"),
                ("if-none-match", gz_etag.as_str()),
            ],
        )
        .await;
    assert_eq!(nm.status, 304);
    assert_eq!(nm.header("vary").as_deref(), Some("Accept-Encoding"));
    let other = server
        .get(
            "/live.m3u8",
            &[
                ("accept-encoding", "gzip"),
                ("if-none-match", plain_etag.as_str()),
            ],
        )
        .await;
    assert_eq!(other.status, 200);

    // Segments are never compressed.
    let seg = server
        .get("/seg10.ts", &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(seg.header("content-encoding"), None);
    assert_eq!(seg.body, pattern_bytes(1880));

    // The packager renames a new version over the playlist: new bytes, new ETag, ENDLIST
    // switches the lifetime to the VOD one.
    let updated = format!("{LIVE_M3U8}#EXTINF:6.000,\nseg13.ts\n#EXT-X-ENDLIST\n");
    fx.replace("live.m3u8", updated.as_bytes());
    let fresh = server
        .get("/live.m3u8", &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(gunzip(&fresh.body), updated.as_bytes());
    assert_ne!(fresh.header("etag"), Some(gz_etag.clone()));
    assert_eq!(
        fresh.header("cache-control").as_deref(),
        Some("public, max-age=60")
    );
    let stale = server
        .get(
            "/live.m3u8",
            &[
                ("accept-encoding", "gzip"),
                ("if-none-match", gz_etag.as_str()),
            ],
        )
        .await;
    assert_eq!(stale.status, 200);
}

#[tokio::test]
async fn live_playlist_lifetimes() {
    let fx = Fixture::new();
    fx.write(
        "td5.m3u8",
        b"#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:5,\na.ts\n",
    );
    fx.write("notd.m3u8", b"#EXTM3U\n#EXTINF:5,\na.ts\n");
    let server = TestServer::start(fx.config()).await;
    run_cases(
        &server,
        &[
            case(
                "GET",
                "/live.m3u8",
                &[],
                200,
                &[("cache-control", Some("public, max-age=3"))],
                Body::Any,
            ),
            case(
                "GET",
                "/td5.m3u8",
                &[],
                200,
                &[("cache-control", Some("public, max-age=2"))],
                Body::Any,
            ),
            case(
                "GET",
                "/notd.m3u8",
                &[],
                200,
                &[("cache-control", Some("public, max-age=1"))],
                Body::Any,
            ),
        ],
    )
    .await;
    let mut config = fx.config();
    config.cache_live_playlist_max_age = Some(1);
    config.cache_vod_playlist = "public, max-age=5".into();
    config.cache_segment = "public, max-age=99".into();
    config.cache_error = "no-store".into();
    let custom = TestServer::start(config).await;
    run_cases(
        &custom,
        &[
            case(
                "GET",
                "/live.m3u8",
                &[],
                200,
                &[("cache-control", Some("public, max-age=1"))],
                Body::Any,
            ),
            case(
                "GET",
                "/vod/v0.m3u8",
                &[],
                200,
                &[("cache-control", Some("public, max-age=5"))],
                Body::Any,
            ),
            case(
                "GET",
                "/seg10.ts",
                &[],
                200,
                &[("cache-control", Some("public, max-age=99"))],
                Body::Any,
            ),
            case(
                "GET",
                "/nope.ts",
                &[],
                404,
                &[("cache-control", Some("no-store"))],
                Body::Any,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn blocking_reload_directives_go_through_the_hook() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    run_cases(
        &server,
        &[
            case(
                "GET",
                "/live.m3u8?_HLS_msn=12",
                &[],
                200,
                &[],
                Body::Exact(LIVE_M3U8.as_bytes()),
            ),
            case(
                "GET",
                "/live.m3u8?_HLS_msn=12&_HLS_part=0",
                &[],
                200,
                &[],
                Body::Exact(LIVE_M3U8.as_bytes()),
            ),
            case(
                "GET",
                "/live.m3u8?_HLS_part=1",
                &[],
                400,
                &[("cache-control", ERR)],
                Body::Any,
            ),
            case("GET", "/live.m3u8?_HLS_msn=abc", &[], 400, &[], Body::Any),
            case(
                "GET",
                "/live.m3u8?_HLS_skip=maybe",
                &[],
                400,
                &[],
                Body::Any,
            ),
            case(
                "GET",
                "/live.m3u8?cachebust=1",
                &[],
                200,
                &[],
                Body::Exact(LIVE_M3U8.as_bytes()),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn cors() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    const EXPOSE: Option<&str> = Some("Content-Length, Content-Range, ETag, Age, Date");
    let preflight: &[(&str, &str)] = &[
        ("origin", "https://player.example"),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "range"),
    ];
    run_cases(
        &server,
        &[
            case(
                "GET",
                "/seg10.ts",
                &[("origin", "https://player.example")],
                200,
                &[
                    ("access-control-allow-origin", Some("*")),
                    ("access-control-expose-headers", EXPOSE),
                ],
                Body::Any,
            ),
            case(
                "GET",
                "/missing.ts",
                &[("origin", "https://player.example")],
                404,
                &[("access-control-allow-origin", Some("*"))],
                Body::Any,
            ),
            case(
                "OPTIONS",
                "/seg10.ts",
                preflight,
                204,
                &[
                    ("access-control-allow-origin", Some("*")),
                    ("access-control-allow-methods", Some("GET, HEAD, OPTIONS")),
                    (
                        "access-control-allow-headers",
                        Some("Range, If-Range, If-None-Match, If-Modified-Since, If-Match"),
                    ),
                    ("access-control-max-age", Some("86400")),
                ],
                Body::Empty,
            ),
            case(
                "OPTIONS",
                "/live.m3u8",
                preflight,
                204,
                &[("access-control-allow-methods", Some("GET, HEAD, OPTIONS"))],
                Body::Empty,
            ),
            case(
                "OPTIONS",
                "/",
                preflight,
                204,
                &[("access-control-allow-methods", Some("GET, HEAD, OPTIONS"))],
                Body::Empty,
            ),
            case(
                "OPTIONS",
                "/seg10.ts",
                &[],
                204,
                &[
                    ("allow", Some("GET, HEAD, OPTIONS")),
                    ("access-control-allow-methods", None),
                ],
                Body::Empty,
            ),
        ],
    )
    .await;
    let mut config = fx.config();
    config.cors_origin = "https://player.example".into();
    let custom = TestServer::start(config).await;
    let res = custom
        .get("/seg10.ts", &[("origin", "https://player.example")])
        .await;
    assert_eq!(
        res.header("access-control-allow-origin").as_deref(),
        Some("https://player.example")
    );
}

#[tokio::test]
async fn never_serves_outside_root_or_hidden_files() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    let hostile = [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/vod/../../secret.txt",
        "/vod/%2e%2e/%2e%2e/secret.txt",
        "/secret.txt%00.ts",
        "/seg10.ts%00",
        "//secret.txt",
        "/%2f..%2fsecret.txt",
        "/link-out.ts",
        "/updir/secret.txt",
        "/.hidden",
        "/%2ehidden",
        "/.tmp123/seg.ts",
        "/%2etmp123/seg.ts",
        "/link-hidden.ts",
        "/deep/.tmp/master.m3u8",
        "/emptydir",
        "/emptydir/",
        "/vod/",
        "/vod",
        "/etc/passwd",
        "/seg10.ts/x",
    ];
    let mut failures = Vec::new();
    for path in hostile {
        let res = request(server.addr, "GET", path, &[]).await;
        if !(res.status == 400 || res.status == 404)
            || res.text().contains(SECRET)
            || res.text().contains("root:")
        {
            failures.push(format!("{path}: {} {:?}", res.status, res.text()));
        }
    }
    // Absolute-form request target (RFC 9112 3.2.2).
    let mut conn = Conn::open(server.addr).await;
    conn.send_raw(b"GET http://test/../secret.txt HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    match conn.read_response("GET").await {
        Some(res) if res.status == 400 || res.status == 404 => {}
        other => failures.push(format!("absolute-form: {other:?}")),
    }
    assert!(
        failures.is_empty(),
        "served or mis-answered:\n{}",
        failures.join("\n")
    );
}
