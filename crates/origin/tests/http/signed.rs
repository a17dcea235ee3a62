// SPDX-License-Identifier: MIT OR Apache-2.0
//! Signed URLs over real connections: the gate (403 + `no-store` + reason, counted), the
//! token carried into playlists (gzip and identity, ETags per token), blocking reloads with a
//! token, `--signed-prefix`, rotation, address binding, the listings and `/metrics`.

use std::time::{SystemTime, UNIX_EPOCH};

use origin::signing::Signer;

use crate::common::{gunzip, metric, request, Fixture, TestServer};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(secret: &str, prefix: &str, expires: u64, ip: Option<&str>) -> String {
    let signer = Signer::new(&[secret]).unwrap();
    signer
        .sign(prefix, expires, ip.map(|i| i.parse().unwrap()))
        .unwrap()
}

async fn start(
    secrets: &[&str],
    prefixes: &[&str],
    metrics_token: Option<&str>,
) -> (Fixture, TestServer) {
    let f = Fixture::new();
    let mut config = f.config();
    config.sign_secrets = secrets.iter().map(|s| s.to_string()).collect();
    config.signed_prefixes = prefixes.iter().map(|s| s.to_string()).collect();
    config.metrics_token = metrics_token.map(Into::into);
    let server = TestServer::start(config).await;
    (f, server)
}

fn denied_metric(reason: &str) -> String {
    format!("hlsorigin_signed_url_denied_total{{reason=\"{reason}\"}}")
}

#[tokio::test]
async fn gate_refuses_with_reason_and_counts() {
    let (_f, server) = start(&["k1"], &[], None).await;
    let later = now() + 600;
    let good = sign("k1", "/vod/", later, None);
    let expired = sign("k1", "/vod/", now() - 120, None);
    let other_path = sign("k1", "/deep/", later, None);
    let other_secret = sign("zz", "/vod/", later, None);
    let other_ip = sign("k1", "/vod/", later, Some("192.0.2.1"));
    let my_ip = sign("k1", "/vod/", later, Some("127.0.0.1"));
    // The signature's first character flipped (all six bits are data).
    let (head, sig) = good.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{head}.{flipped}{}", &sig[1..]);
    // (token, status, reason in the body, metric label)
    let cases: Vec<(Option<&str>, u16, &str, &str)> = vec![
        (Some(&good), 200, "", ""),
        (Some(&my_ip), 200, "", ""),
        (None, 403, "token missing", "missing"),
        (Some("garbage"), 403, "malformed", "malformed"),
        (Some(&expired), 403, "expired", "expired"),
        (Some(&other_path), 403, "wrong path", "wrong_path"),
        (Some(&other_secret), 403, "bad signature", "bad_signature"),
        (Some(&tampered), 403, "bad signature", "bad_signature"),
        (Some(&other_ip), 403, "bad signature", "bad_signature"),
    ];
    for (token, status, reason, label) in cases {
        for path in ["/vod/seg0.m4s", "/vod/v0.m3u8"] {
            let url = match token {
                Some(t) => format!("{path}?token={t}"),
                None => path.to_owned(),
            };
            let before = if label.is_empty() {
                0
            } else {
                metric(server.addr, &denied_metric(label)).await
            };
            let r = server.get(&url, &[]).await;
            assert_eq!(r.status, status, "{url}: {}", r.text());
            if status == 403 {
                assert_eq!(
                    r.header("cache-control").as_deref(),
                    Some("no-store"),
                    "{url}"
                );
                assert!(r.text().contains(reason), "{url}: {}", r.text());
                let after = metric(server.addr, &denied_metric(label)).await;
                assert_eq!(after, before + 1, "{url}: metric {label}");
            }
        }
    }
    // The page, health and the embedded player need no token.
    for path in ["/", "/healthz", "/favicon.ico"] {
        assert_eq!(server.get(path, &[]).await.status, 200, "{path}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn playlists_carry_the_token_and_keep_their_caching() {
    let (_f, server) = start(&["new", "old"], &[], None).await;
    let later = now() + 600;
    // Rotation: a URL signed with the old secret still plays.
    for secret in ["new", "old"] {
        let token = sign(secret, "/vod/", later, None);
        let r = server
            .get(&format!("/vod/master.m3u8?token={token}"), &[])
            .await;
        assert_eq!(r.status, 200, "{secret}");
        assert!(
            r.text().contains(&format!("\nv0.m3u8?token={token}\n")),
            "{}",
            r.text()
        );
        let plain = format!("/vod/v0.m3u8?token={token}");
        let r = server.get(&plain, &[]).await;
        let text = r.text();
        assert!(
            text.contains(&format!("URI=\"init.mp4?token={token}\"")),
            "{text}"
        );
        assert!(
            text.contains(&format!("\nseg0.m4s?token={token}\n")),
            "{text}"
        );
        let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        assert!(parsed.segments.iter().all(|s| s.uri.ends_with(&token)));
        // gzip: the same rewritten text; ETags differ by encoding and by token, and
        // revalidate.
        let gz = server.get(&plain, &[("Accept-Encoding", "gzip")]).await;
        assert_eq!(gz.header("content-encoding").as_deref(), Some("gzip"));
        assert_eq!(String::from_utf8(gunzip(&gz.body)).unwrap(), text);
        let (etag, gz_etag) = (r.header("etag").unwrap(), gz.header("etag").unwrap());
        assert_ne!(etag, gz_etag);
        let r304 = server.get(&plain, &[("If-None-Match", &etag)]).await;
        assert_eq!(r304.status, 304);
        assert_eq!(
            r.header("cache-control").as_deref(),
            Some("public, max-age=60")
        );
        // Segments of the playlist open with the token.
        let seg = server
            .get(&format!("/vod/seg0.m4s?token={token}"), &[])
            .await;
        assert_eq!(seg.status, 200);
    }
    let a = sign("new", "/vod/", later, None);
    let b = sign("new", "/vod/", later + 1, None);
    let ea = server
        .get(&format!("/vod/v0.m3u8?token={a}"), &[])
        .await
        .header("etag");
    let eb = server
        .get(&format!("/vod/v0.m3u8?token={b}"), &[])
        .await
        .header("etag");
    assert_ne!(ea, eb, "one ETag per token");
    // Blocking-reload directives next to the token: a VOD playlist answers at once.
    let r = server
        .get(
            &format!("/vod/v0.m3u8?_HLS_msn=1&token={a}&_HLS_part=0"),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(&format!("seg0.m4s?token={a}")));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn prefixes_listings_and_metrics_token() {
    let (f, server) = start(&["k"], &["/vod"], Some("m3tr1cs")).await;
    f.write("free/master.m3u8", crate::common::MASTER_M3U8.as_bytes());
    // Outside the protected prefix: public, served unchanged.
    let r = server.get("/free/master.m3u8", &[]).await;
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("token="));
    assert_eq!(server.get("/vod/master.m3u8", &[]).await.status, 403);
    // The listing hides protected streams from clients without a token for them.
    let list = |q: String| {
        let addr = server.addr;
        async move {
            request(addr, "GET", &format!("/api/streams{q}"), &[])
                .await
                .text()
        }
    };
    let anonymous = list(String::new()).await;
    assert!(anonymous.contains("free/master.m3u8"), "{anonymous}");
    assert!(!anonymous.contains("vod/master.m3u8"), "{anonymous}");
    let token = sign("k", "/vod/", now() + 60, None);
    let signed = list(format!("?token={token}")).await;
    assert!(
        signed.contains("vod/master.m3u8") && signed.contains("free/"),
        "{signed}"
    );
    let expired = list(format!("?token={}", sign("k", "/vod/", now() - 60, None))).await;
    assert!(!expired.contains("vod/master.m3u8"), "{expired}");
    // /metrics needs its token.
    let r = server.get("/metrics", &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let r = server
        .get("/metrics", &[("Authorization", "Bearer m3tr1cs")])
        .await;
    assert_eq!(r.status, 200);
    assert!(r
        .text()
        .contains("hlsorigin_signed_url_denied_total{reason=\"missing\"} 1"));
    assert_eq!(server.get("/metrics?token=m3tr1cs", &[]).await.status, 200);
    assert_eq!(server.get("/metrics?token=nope", &[]).await.status, 401);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_signing_configuration_is_refused() {
    let f = Fixture::new();
    let mut config = f.config();
    config.signed_prefixes = vec!["/vod".into()];
    assert!(
        origin::Server::bind(&config).await.is_err(),
        "prefix without a secret"
    );
    config.sign_secrets = vec!["k".into()];
    config.signed_prefixes = vec!["/a/../b".into()];
    assert!(origin::Server::bind(&config).await.is_err(), "bad prefix");
}

/// `/api/events` (long-poll; WebSocket and SSE share the filter) hides the events of
/// protected streams from clients without a token for them.
#[tokio::test]
async fn events_of_protected_streams_need_a_token() {
    use origin::events::{Payload, StreamKind};
    let f = Fixture::new();
    let mut config = f.config();
    config.sign_secrets = vec!["k".into()];
    config.signed_prefixes = vec!["/paid/".into()];
    let (server, events) = TestServer::start_with_events(config).await;
    for stream in ["free", "paid/a", "paid/b"] {
        let payload = Payload::StreamAdded {
            kind: StreamKind::Live,
            playlist: format!("{stream}/master.m3u8"),
        };
        events.publish(stream, "run1", payload);
    }
    let streams = |query: String| {
        let addr = server.addr;
        async move {
            let path = format!("/api/events?since=0&timeout=1{query}");
            let body = request(addr, "GET", &path, &[]).await.body;
            let items: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("json");
            items
                .iter()
                .map(|i| i["stream"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // (query, streams shown)
    let a = sign("k", "/paid/a/", now() + 60, None);
    let all = sign("k", "/", now() + 60, None);
    let old = sign("k", "/paid/", now() - 60, None);
    let cases = [
        (String::new(), vec!["free"]),
        (format!("&token={a}"), vec!["free", "paid/a"]),
        (format!("&token={all}"), vec!["free", "paid/a", "paid/b"]),
        (format!("&token={old}"), vec!["free"]),
        ("&token=junk".to_owned(), vec!["free"]),
    ];
    for (query, want) in cases {
        assert_eq!(streams(query.clone()).await, want, "{query}");
    }
    server.stop().await.unwrap();
}

/// Refusals answered with `no-store` keep it (the edge gives other errors the short
/// `cache_error` lifetime): a CDN must not serve one client's refusal to another.
#[tokio::test]
async fn refusals_keep_no_store() {
    let (_f, server) = start(&["k"], &[], Some("m")).await;
    for (path, status) in [
        ("/vod/seg0.m4s", 403),
        ("/api/events?since=x", 400),
        ("/metrics", 401),
        ("/nope/x.ts?token=junk", 403),
    ] {
        let r = server.get(path, &[]).await;
        assert_eq!(r.status, status, "{path}");
        assert_eq!(
            r.header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
    }
    // Other errors keep the configured error lifetime (a dotfile is never served: 404).
    let r = server.get("/.hidden", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("public, max-age=1")
    );
    server.stop().await.unwrap();
}
