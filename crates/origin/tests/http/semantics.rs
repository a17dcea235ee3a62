// SPDX-License-Identifier: MIT OR Apache-2.0
//! Methods, content types, cache lifetimes, the blocking-reload hook, CORS and path safety.

use crate::cases::*;
use crate::common::*;

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
