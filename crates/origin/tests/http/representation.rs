// SPDX-License-Identifier: MIT OR Apache-2.0
//! Representations: byte ranges, validators and conditional requests, gzip-encoded playlists.

use crate::cases::*;
use crate::common::*;

#[tokio::test]
async fn ranges() {
    let fx = Fixture::new();
    const WHOLE: Body = Body::Pattern(0, 1880);
    // GET /seg10.ts (1,880 bytes) with `Range`: (range, status, Content-Range, body).
    #[rustfmt::skip]
    let seg10: &[(&str, u16, Option<&str>, Body)] = &[
        ("bytes=0-9",       206, Some("bytes 0-9/1880"),       Body::Pattern(0, 10)),
        ("bytes=1870-",     206, Some("bytes 1870-1879/1880"), Body::Pattern(1870, 10)),
        ("bytes=-5",        206, Some("bytes 1875-1879/1880"), Body::Pattern(1875, 5)),
        ("bytes=100-99999", 206, Some("bytes 100-1879/1880"),  Body::Pattern(100, 1780)),
        ("bytes=1880-",     416, Some("bytes */1880"),         Body::Empty),
        ("bytes=-0",        416, Some("bytes */1880"),         Body::Empty),
        // Syntactically invalid or unsupported: ignored, full 200.
        ("bytes=5-1",       200, None,                         WHOLE),
        ("bytes=abc",       200, None,                         WHOLE),
        ("items=0-1",       200, None,                         WHOLE),
        // Multi-range: answered with the whole file (documented choice).
        ("bytes=0-1,5-6",   200, None,                         WHOLE),
    ];
    let mut cases: Vec<Case> = seg10
        .iter()
        .map(|&(range, status, content_range, body)| Case {
            method: "GET",
            path: "/seg10.ts",
            req: vec![("range", range)],
            status,
            headers: vec![("content-range", content_range)],
            body,
        })
        .collect();
    cases.extend([
        case(
            "GET",
            "/seg10.ts",
            &[("range", "bytes=0-9")],
            206,
            &[
                ("content-length", Some("10")),
                ("content-type", Some("video/mp2t")),
            ],
            Body::Pattern(0, 10),
        ),
        case(
            "GET",
            "/seg10.ts",
            &[("range", "bytes=1880-")],
            416,
            &[("cache-control", ERR)],
            Body::Empty,
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
            "/empty.ts",
            &[("range", "bytes=0-")],
            416,
            &[("content-range", Some("bytes */0"))],
            Body::Empty,
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
        get(
            "/big.ts",
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
            WHOLE,
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
            WHOLE,
        ),
    ]);
    // Segments from the hot-object cache (filled by the first request), and from the file.
    for hot_cache_mib in [256, 0] {
        let mut config = fx.config();
        config.hot_cache_mib = hot_cache_mib;
        let server = TestServer::start(config).await;
        run_cases(&server, &cases).await;
    }
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
    for (if_none_match, want) in [(&gz_etag, 304), (&plain_etag, 200)] {
        let res = server
            .get(
                "/live.m3u8",
                &[
                    ("accept-encoding", "gzip"),
                    ("if-none-match", if_none_match),
                ],
            )
            .await;
        assert_eq!(res.status, want, "If-None-Match: {if_none_match}");
        assert_eq!(res.header("vary").as_deref(), Some("Accept-Encoding"));
    }

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
