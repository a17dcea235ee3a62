// SPDX-License-Identifier: MIT OR Apache-2.0
//! Methods, content types, cache lifetimes, the blocking-reload hook, CORS and path safety.

use crate::cases::*;
use crate::common::*;

#[tokio::test]
async fn methods_mime_and_cache_control() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    const M3U8: &str = "application/vnd.apple.mpegurl";
    const TEXT: &str = "text/plain; charset=utf-8";
    const LIVE: Option<&str> = Some("public, max-age=3");
    const VOD: Option<&str> = Some("public, max-age=60");
    // Plain GETs: (path, status, Content-Type, Cache-Control, body).
    #[rustfmt::skip]
    let gets: &[(&'static str, u16, &'static str, Option<&'static str>, Body)] = &[
        ("/live.m3u8",        200, M3U8,                            LIVE,      Body::Exact(LIVE_M3U8.as_bytes())),
        ("/vod/v0.m3u8",      200, M3U8,                            VOD,       Body::Exact(VOD_M3U8.as_bytes())),
        ("/vod/master.m3u8",  200, M3U8,                            VOD,       Body::Exact(MASTER_M3U8.as_bytes())),
        ("/seg10.ts",         200, "video/mp2t",                    IMMUTABLE, Body::Pattern(0, 1880)),
        ("/vod/seg0.m4s",     200, "video/iso.segment",             IMMUTABLE, Body::Pattern(0, 5000)),
        ("/vod/init.mp4",     200, "video/mp4",                     IMMUTABLE, Body::Pattern(0, 700)),
        ("/audio.m4a",        200, "audio/mp4",                     IMMUTABLE, Body::Pattern(0, 300)),
        ("/audio.aac",        200, "audio/aac",                     IMMUTABLE, Body::Pattern(0, 300)),
        ("/subs.vtt",         200, "text/vtt",                      IMMUTABLE, Body::Any),
        ("/page.html",        200, "text/html; charset=utf-8",      OTHER,     Body::Exact(b"<!doctype html><p>hi</p>")),
        ("/app.js",           200, "text/javascript; charset=utf-8", OTHER,    Body::Exact(b"console.log(1);")),
        ("/style.css",        200, "text/css; charset=utf-8",       OTHER,     Body::Exact(b"p{}")),
        ("/data.json",        200, "application/json",              OTHER,     Body::Exact(b"{}")),
        ("/blob.bin",         200, "application/octet-stream",      OTHER,     Body::Exact(b"binary")),
        ("/empty.ts",         200, "video/mp2t",                    IMMUTABLE, Body::Empty),
        ("/link-in.ts",       200, "video/mp2t",                    IMMUTABLE, Body::Pattern(0, 1880)),
        ("/missing.ts",       404, TEXT,                            ERR,       Body::Any),
        ("/missing.m3u8",     404, TEXT,                            ERR,       Body::Any),
    ];
    let mut cases: Vec<Case> = gets
        .iter()
        .map(|&(path, status, content_type, cache_control, body)| {
            get(
                path,
                status,
                &[
                    ("content-type", Some(content_type)),
                    ("cache-control", cache_control),
                ],
                body,
            )
        })
        .collect();
    cases.extend([
        get(
            "/live.m3u8",
            200,
            &[
                ("vary", Some("Accept-Encoding")),
                ("content-encoding", None),
            ],
            Body::Any,
        ),
        get(
            "/seg10.ts",
            200,
            &[
                ("accept-ranges", Some("bytes")),
                ("content-length", Some("1880")),
                ("vary", None),
            ],
            Body::Any,
        ),
        get(
            "/empty.ts",
            200,
            &[("content-length", Some("0"))],
            Body::Empty,
        ),
        get(
            "/missing.ts",
            404,
            &[("access-control-allow-origin", Some("*"))],
            Body::Any,
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
            &[("content-length", Some("146")), ("cache-control", LIVE)],
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
    ]);
    run_cases(&server, &cases).await;
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
    let mut config = fx.config();
    config.cache_live_playlist_max_age = Some(1);
    config.cache_vod_playlist = "public, max-age=5".into();
    config.cache_segment = "public, max-age=99".into();
    config.cache_error = "no-store".into();
    // (configuration, path, status, Cache-Control).
    #[rustfmt::skip]
    let table = [
        (fx.config(), &[
            ("/live.m3u8", 200, "public, max-age=3"),
            ("/td5.m3u8", 200, "public, max-age=2"),
            ("/notd.m3u8", 200, "public, max-age=1"),
        ][..]),
        (config, &[
            ("/live.m3u8", 200, "public, max-age=1"),
            ("/vod/v0.m3u8", 200, "public, max-age=5"),
            ("/seg10.ts", 200, "public, max-age=99"),
            ("/nope.ts", 404, "no-store"),
        ][..]),
    ];
    for (config, rows) in table {
        let server = TestServer::start(config).await;
        let cases: Vec<Case> = rows
            .iter()
            .map(|&(path, status, cc)| get(path, status, &[("cache-control", Some(cc))], Body::Any))
            .collect();
        run_cases(&server, &cases).await;
    }
}

#[tokio::test]
async fn blocking_reload_directives_go_through_the_hook() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    let live = Body::Exact(LIVE_M3U8.as_bytes());
    // The file source has no live state: valid directives are answered at once, bad ones 400.
    #[rustfmt::skip]
    let table: [(&'static str, u16, Expect, Body); 6] = [
        ("/live.m3u8?_HLS_msn=12",            200, &[],                      live),
        ("/live.m3u8?_HLS_msn=12&_HLS_part=0", 200, &[],                     live),
        ("/live.m3u8?_HLS_part=1",            400, &[("cache-control", ERR)], Body::Any),
        ("/live.m3u8?_HLS_msn=abc",           400, &[],                      Body::Any),
        ("/live.m3u8?_HLS_skip=maybe",        400, &[],                      Body::Any),
        ("/live.m3u8?cachebust=1",            200, &[],                      live),
    ];
    let cases: Vec<Case> = table
        .into_iter()
        .map(|(path, status, headers, body)| get(path, status, headers, body))
        .collect();
    run_cases(&server, &cases).await;
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
