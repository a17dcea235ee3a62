// SPDX-License-Identifier: MIT OR Apache-2.0
//! Signed URLs end to end (README "Signed URLs"): URLs made by `hlsorigin sign` play in hls.js
//! (headless Chromium) for fMP4 with EXT-X-MAP, TS, a single file played with byte ranges, and
//! LL-HLS live with blocking reloads and parts — every request carrying the token the origin
//! wrote into the playlists; expired, tampered, other-prefix and other-address tokens get 403;
//! a URL signed with the previous secret still plays (rotation); and through Varnish with the
//! token in the cache key.

use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use origin::signing::Signer;

use super::cdn::{Proxy, ProxyKind};
use super::live::harness::{get, wait_for, Live, BROWSER};
use crate::common::server::{play, serve};
use crate::common::{bin, fixtures, out_dir, package};

/// `hlsorigin sign PATH ARGS…`: its one line of output.
pub(super) fn sign_cli(path: &str, args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("sign")
        .arg(path)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("run hlsorigin sign");
    assert!(
        out.status.success(),
        "hlsorigin sign {path} {args:?} failed"
    );
    let line = String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned();
    assert!(line.starts_with(&format!("{path}?token=")), "{line}");
    line
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(secret: &str, prefix: &str, expires: u64, ip: Option<&str>) -> String {
    Signer::new(&[secret])
        .unwrap()
        .sign(prefix, expires, ip.map(|i| i.parse().unwrap()))
        .unwrap()
}

fn play_hlsjs(url: &str) {
    let _browser = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let report = play(url, "hlsjs", 6, &["--start-timeout", "40"]);
    assert_eq!(report["ok"], true, "hls.js playback of {url}: {report}");
}

/// A counter of the origin's `/metrics` (0 when absent).
fn metric(base: &str, line_prefix: &str) -> u64 {
    let text = get(base, "/metrics").text();
    text.lines()
        .filter(|l| l.starts_with(line_prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn denied_total(base: &str) -> u64 {
    metric(base, "hlsorigin_signed_url_denied_total")
}

#[test]
fn signed_vod_plays_in_hlsjs_and_bad_tokens_are_refused() {
    let input = fixtures::playback();
    let root = out_dir("signed-vod");
    std::fs::create_dir_all(&root).unwrap();
    for (name, extra) in [
        ("fmp4", None),
        ("ts", None),
        ("single", Some("--single-file")),
    ] {
        let format = if name == "ts" { "ts" } else { "fmp4" };
        let mut args = vec!["--format", format, "--segment-duration", "2", "--quiet"];
        args.extend(extra);
        package(&input, &root.join(name), &args);
    }
    // Rotation: "new" signs, "old" still verifies.
    let server = serve(&root, &["--sign-secret", "new", "--sign-secret", "old"]);
    let base = &server.base;
    for (name, secret) in [("fmp4", "new"), ("ts", "old"), ("single", "new")] {
        let path = sign_cli(
            &format!("/{name}/master.m3u8"),
            &["--expires", "2h", "--sign-secret", secret],
        );
        // The multivariant and media playlists name every URI with the token (checked with
        // the independent parser).
        let master = get(base, &path);
        assert_eq!(master.status, 200, "{path}: {}", master.text());
        let token = path.rsplit_once("token=").unwrap().1.to_owned();
        let m = m3u8_rs::parse_master_playlist_res(&master.body).expect("master parses");
        let variant = &m.variants[0].uri;
        assert!(variant.ends_with(&format!("?token={token}")), "{variant}");
        let media = get(base, &format!("/{name}/{variant}"));
        let p = m3u8_rs::parse_media_playlist_res(&media.body).expect("media parses");
        for s in &p.segments {
            assert!(
                s.uri.ends_with(&format!("?token={token}")),
                "{name}: {}",
                s.uri
            );
            if let Some(map) = &s.map {
                assert!(
                    map.uri.ends_with(&format!("?token={token}")),
                    "{name}: {}",
                    map.uri
                );
            }
        }
        if name == "single" {
            assert!(
                p.segments.iter().all(|s| s.byte_range.is_some()),
                "byte ranges"
            );
        }
        let before = denied_total(base);
        play_hlsjs(&format!("{base}{path}"));
        assert_eq!(
            denied_total(base),
            before,
            "{name}: a request hls.js made was refused"
        );
    }
    // The page at `/` given a token lists the streams it opens and plays them with it.
    let page = sign_cli("/", &["--expires", "10m", "--sign-secret", "new"]);
    let report = {
        let _browser = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
        play(
            &format!("{base}{page}"),
            "page",
            5,
            &["--start-timeout", "40"],
        )
    };
    assert_eq!(report["ok"], true, "the page with ?token=: {report}");
    assert_eq!(
        report["streams"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
    // Refusals: 403, no-store, the reason.
    let later = now() + 3600;
    let good = token("new", "/fmp4/", later, None);
    // The signature's first character flipped (all six bits are data).
    let (head, sig) = good.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{head}.{flipped}{}", &sig[1..]);
    let cases = [
        ("/fmp4/master.m3u8".to_owned(), "token missing"),
        (
            format!(
                "/fmp4/master.m3u8?token={}",
                token("new", "/fmp4/", now() - 3600, None)
            ),
            "expired",
        ),
        (
            format!("/fmp4/master.m3u8?token={tampered}"),
            "bad signature",
        ),
        (format!("/ts/master.m3u8?token={good}"), "wrong path"),
        (
            format!(
                "/fmp4/master.m3u8?token={}",
                token("new", "/fmp4/", later, Some("192.0.2.9"))
            ),
            "bad signature",
        ),
        (
            format!(
                "/fmp4/master.m3u8?token={}",
                token("unknown", "/fmp4/", later, None)
            ),
            "bad signature",
        ),
    ];
    for (path, reason) in &cases {
        let r = get(base, path);
        assert_eq!(r.status, 403, "{path}");
        assert_eq!(
            r.header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
        assert!(r.text().contains(reason), "{path}: {}", r.text());
    }
    // Bound to the address the origin sees (the test connects from 127.0.0.1).
    let mine = sign_cli(
        "/fmp4/master.m3u8",
        &[
            "--expires",
            "90s",
            "--ip",
            "127.0.0.1",
            "--sign-secret",
            "new",
        ],
    );
    assert_eq!(get(base, &mine).status, 200, "{mine}");
}

#[test]
fn signed_ll_hls_live_plays_in_hlsjs_with_blocking_reloads() {
    let root = out_dir("signed-ll");
    let (live, _enc) = Live::ll_hls_over_udp(&root, "ll", &["--sign-secret", "k"]);
    let base = live.base().to_owned();
    let t = token("k", "/ll/", now() + 600, None);
    let playlist = format!("/ll/stream.m3u8?token={t}");
    let first = wait_for("two LL-HLS segments", 60, || {
        let r = get(&base, &playlist);
        (r.status == 200 && r.text().matches("#EXTINF").count() >= 2).then(|| r.text())
    });
    assert_eq!(get(&base, "/ll/stream.m3u8").status, 403, "no token");
    // A blocking reload with the token next to the directives: held, then answered with
    // parts, preload hint and segments all carrying the token.
    let msn = first
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap();
    let segments = first.matches("#EXTINF").count() as u64;
    let next = msn + segments;
    let r = get(
        &base,
        &format!("/ll/stream.m3u8?_HLS_msn={next}&_HLS_part=0&token={t}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let parts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("#EXT-X-PART:"))
        .collect();
    assert!(!parts.is_empty(), "{text}");
    for line in parts.iter().copied().chain(
        text.lines()
            .filter(|l| l.starts_with("#EXT-X-PRELOAD-HINT") || l.starts_with("#EXT-X-MAP")),
    ) {
        assert!(line.contains(&format!("?token={t}\"")), "{line}");
    }
    for uri in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(uri.ends_with(&format!("?token={t}")), "{uri}");
        assert_eq!(get(&base, &format!("/ll/{uri}")).status, 200, "{uri}");
    }
    let before = denied_total(&base);
    play_hlsjs(&format!("{base}/ll/master.m3u8?token={t}"));
    assert_eq!(
        denied_total(&base),
        before,
        "a request hls.js made was refused"
    );
}

#[test]
fn signed_urls_through_varnish_with_the_token_in_the_cache_key() {
    let input = fixtures::playback();
    let root = out_dir("signed-cdn-root");
    std::fs::create_dir_all(&root).unwrap();
    package(
        &input,
        &root.join("fmp4"),
        &["--format", "fmp4", "--segment-duration", "2", "--quiet"],
    );
    let origin = serve(&root, &["--sign-secret", "k"]);
    let proxy = Proxy::start_in(ProxyKind::Varnish, &origin.base, "signed-cdn-proxy");
    let (p, o) = (proxy.base.as_str(), origin.base.as_str());
    let a = token("k", "/fmp4/", now() + 600, None);
    let b = token("k", "/fmp4/", now() + 601, None);
    let media = get(p, &format!("/fmp4/stream.m3u8?token={a}"));
    assert_eq!(media.status, 200);
    let seg = media
        .text()
        .lines()
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap()
        .to_owned();
    assert!(seg.ends_with(&format!("?token={a}")), "{seg}");
    // Same signed URL twice: one origin request; another token: another cache object.
    let before = metric(o, "hlsorigin_http_requests_total{kind=\"segment\"");
    let first = get(p, &format!("/fmp4/{seg}"));
    let second = get(p, &format!("/fmp4/{seg}"));
    let other = get(p, &format!("/fmp4/{}", seg.replace(&a, &b)));
    assert_eq!((first.status, second.status, other.status), (200, 200, 200));
    assert_eq!(first.body, second.body);
    assert_eq!(first.body, other.body);
    let cache = |r: &super::live::harness::Resp| r.header("x-cache").unwrap_or_default();
    assert_eq!(
        (cache(&first), cache(&second), cache(&other)),
        ("MISS".into(), "HIT".into(), "MISS".into())
    );
    assert_eq!(
        metric(o, "hlsorigin_http_requests_total{kind=\"segment\"") - before,
        2
    );
    // Refusals are never stored: each reaches the origin.
    let denied = denied_total(o);
    let unsigned = format!("/fmp4/{}", seg.split('?').next().unwrap());
    for _ in 0..2 {
        let r = get(p, &unsigned);
        assert_eq!(r.status, 403);
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    }
    assert_eq!(denied_total(o) - denied, 2, "403s must not be cached");
    play_hlsjs(&format!("{p}/fmp4/master.m3u8?token={a}"));
}
