// SPDX-License-Identifier: MIT OR Apache-2.0
//! The hot-object cache: segments served from memory are the file's bytes, never a replaced
//! file's old bytes; ranges are slices; the byte bound evicts; 0 disables it.

use std::time::{Duration, SystemTime};

use crate::common::*;

const HITS: &str = "hlsorigin_hot_cache_hits_total";
const MISSES: &str = "hlsorigin_hot_cache_misses_total";
const BYTES: &str = "hlsorigin_hot_cache_bytes";

async fn counts(server: &TestServer) -> (u64, u64) {
    (
        metric(server.addr, HITS).await,
        metric(server.addr, MISSES).await,
    )
}

#[tokio::test]
async fn cached_segments_are_the_files_bytes() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    // HEAD and 304 answers send no bytes and read nothing into the cache.
    let etag = server
        .get("/big.ts", &[("range", "bytes=0-0")])
        .await
        .header("etag");
    let etag = etag.unwrap_or_default();
    assert_eq!(
        counts(&server).await,
        (0, 1),
        "the range request filled the cache"
    );
    let head = request(server.addr, "HEAD", "/vod/seg0.m4s", &[]).await;
    assert_eq!(head.status, 200);
    let nm = server.get("/big.ts", &[("if-none-match", &etag)]).await;
    assert_eq!(nm.status, 304);
    assert_eq!(counts(&server).await, (0, 1));

    // (path, range, status, body offset, body length): every answer the file's bytes.
    let cases: &[(&str, Option<&str>, u16, usize, usize)] = &[
        ("/big.ts", None, 200, 0, BIG_LEN),
        ("/big.ts", Some("bytes=262100-262499"), 206, 262_100, 400),
        ("/big.ts", Some("bytes=-10"), 206, BIG_LEN - 10, 10),
        (
            "/big.ts",
            Some("bytes=1048600-"),
            206,
            1_048_600,
            BIG_LEN - 1_048_600,
        ),
        ("/vod/init.mp4", None, 200, 0, 700),
        ("/vod/init.mp4", None, 200, 0, 700),
        ("/link-in.ts", Some("bytes=1-2"), 206, 1, 2),
    ];
    for &(path, range, status, offset, len) in cases {
        let headers: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
        let res = server.get(path, &headers).await;
        assert_eq!(res.status, status, "{path} {range:?}");
        assert_eq!(
            res.body,
            pattern_bytes(offset + len)[offset..],
            "{path} {range:?}"
        );
        assert_eq!(res.header("content-length"), Some(len.to_string()));
    }
    // big.ts hit 4 times; init.mp4 and link-in.ts read once each, init.mp4 hit once.
    assert_eq!(counts(&server).await, (5, 3));
    assert_eq!(
        metric(server.addr, BYTES).await,
        (BIG_LEN + 700 + 1880) as u64
    );
}

#[tokio::test]
async fn replaced_files_are_never_served_stale() {
    let fx = Fixture::new();
    let server = TestServer::start(fx.config()).await;
    let get = |path: &'static str| {
        let addr = server.addr;
        async move { request(addr, "GET", path, &[]).await.body }
    };
    assert_eq!(get("/seg10.ts").await, pattern_bytes(1880));
    // Renamed over (new inode), same length.
    let v2 = vec![b'2'; 1880];
    fx.replace("seg10.ts", &v2);
    assert_eq!(get("/seg10.ts").await, v2);
    // Rewritten in place (same inode): same length and a new modification time, then another
    // length and the same modification time.
    let file = fx.root.join("seg10.ts");
    let later = SystemTime::now() + Duration::from_secs(10);
    let rewrite = |data: &[u8]| {
        std::fs::write(&file, data).expect("rewrite");
        let f = std::fs::File::options().write(true).open(&file);
        f.and_then(|f| f.set_modified(later)).expect("set mtime");
    };
    let v3 = vec![b'3'; 1880];
    rewrite(&v3);
    assert_eq!(get("/seg10.ts").await, v3);
    let v4 = vec![b'4'; 1000];
    rewrite(&v4);
    assert_eq!(get("/seg10.ts").await, v4);
    // Each version was read once, then served from memory.
    assert_eq!(get("/seg10.ts").await, v4);
    assert_eq!(counts(&server).await, (1, 4));
    // Removed: 404, not the cached copy.
    std::fs::remove_file(&file).expect("remove");
    assert_eq!(
        request(server.addr, "GET", "/seg10.ts", &[]).await.status,
        404
    );
}

#[tokio::test]
async fn the_byte_bound_evicts_and_zero_disables() {
    let fx = Fixture::new();
    // 1 MiB: objects up to 256 KiB are cached; five of 240 KiB do not fit together.
    const LEN: usize = 240 * 1024;
    for n in 0..5 {
        fx.write(&format!("b{n}.ts"), &pattern_bytes(LEN));
    }
    let mut config = fx.config();
    config.hot_cache_mib = 1;
    let server = TestServer::start(config).await;
    assert_eq!(server.get("/big.ts", &[]).await.body.len(), BIG_LEN);
    assert_eq!(counts(&server).await, (0, 0), "over a quarter of the bound");
    for n in 0..5 {
        let res = server.get(&format!("/b{n}.ts"), &[]).await;
        assert_eq!(res.body, pattern_bytes(LEN));
    }
    let held = metric(server.addr, BYTES).await;
    assert_eq!(held, 4 * LEN as u64, "b0 evicted to make room for b4");
    assert_eq!(counts(&server).await, (0, 5));
    // The newest four are hits; b0 is read again and evicts b4, now the least recently used.
    for n in [4, 3, 2, 1, 0] {
        server.get(&format!("/b{n}.ts"), &[]).await;
    }
    assert_eq!(counts(&server).await, (4, 6));
    server.get("/b1.ts", &[]).await;
    assert_eq!(counts(&server).await, (5, 6), "b1 is still cached");
    server.get("/b4.ts", &[]).await;
    assert_eq!(counts(&server).await, (5, 7), "b4 was evicted by b0");

    let mut config = fx.config();
    config.hot_cache_mib = 0;
    let off = TestServer::start(config).await;
    for _ in 0..2 {
        let res = off.get("/b0.ts", &[("range", "bytes=10-19")]).await;
        assert_eq!(res.body, pattern_bytes(20)[10..]);
        assert_eq!(off.get("/big.ts", &[]).await.body, pattern_bytes(BIG_LEN));
    }
    assert_eq!(counts(&off).await, (0, 0));
    assert_eq!(metric(off.addr, BYTES).await, 0);
}
