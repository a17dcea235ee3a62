// SPDX-License-Identifier: MIT OR Apache-2.0
//! LL-HLS through object storage with several origins, for real: ffmpeg → `hlsorigin live
//! --root s3://… --ll-hls --listen` into SeaweedFS, origins `serve s3://… --follow
//! http://PACKAGER` (and one without `--follow`, which polls).
//!
//! - A blocking reload for the next part (`_HLS_msn`/`_HLS_part`, RFC 8216bis 6.2.5.2) on
//!   each origin returns with that part listed, and the part is fetchable from that origin;
//!   the origin without `--follow`, and one following an unreachable packager, do the same
//!   by polling. hls.js plays LL-HLS through one
//!   following origin.
//! - SeaweedFS stopped for 5 s while live, two following origins behind Varnish, hls.js
//!   playing through Varnish: through the CDN answers are 200 or 503 while storage is down
//!   (a 404 only where SeaweedFS itself, warming up, says 404), ingest goes on (the stream is further along afterwards than
//!   before by about the outage), the stored playlist never lists a missing object as
//!   playable (it is a gap, or listed once stored), and playback goes on.
//!
//! Generous timeouts, assertions on progress, never on exact timing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::seaweed::{
    header, hlsorigin, request, s3_request, serve_on, serve_with, varnish, Origin, Seaweed, BUCKET,
};
use crate::common::server::play;
use crate::suite::live::harness::{encoder, Proc, BROWSER};

/// `hlsorigin live --input - --ll-hls --listen 127.0.0.1:0 --root s3://BUCKET/PREFIX`, fed by
/// an ffmpeg encoder for `seconds`; its origin's `http://ADDR`.
struct Packager {
    _encoder: Proc,
    _live: Proc,
    base: String,
}

/// `seconds` is generous: on a loaded machine the steps before the player can take minutes,
/// and the stream must still be live then (the encoder is killed with the packager).
fn packager(weed: &Seaweed, prefix: &str, name: &str, seconds: u32) -> Packager {
    let mut enc = encoder("-", &[], Some(seconds), Stdio::piped());
    let ts = enc.0.stdout.take().expect("encoder stdout");
    let mut child: Child = hlsorigin(weed)
        .args(["live", "--input", "-", "--name", name, "--root"])
        .arg(format!("s3://{BUCKET}/{prefix}"))
        .args([
            "--segment-duration",
            "1",
            "--ll-hls",
            "--part-duration",
            "0.25",
        ])
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::from(ts))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn hlsorigin live");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("hlsorigin live printed its address")
            .expect("read");
        if let Some(rest) = line.strip_prefix("serving ") {
            let url = rest.split_whitespace().find(|w| w.starts_with("http://"));
            break url.expect("URL").trim_end_matches('/').to_owned();
        }
    };
    // Keep reading so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Packager {
        _encoder: enc,
        _live: Proc(child),
        base,
    }
}

/// Segments and parts of a playlist (m3u8-rs has no EXT-X-PART / EXT-X-GAP): the hint
/// (msn, part index), and every listed object URI with whether it is a gap.
struct Listing {
    hint: Option<(u64, u64)>,
    objects: Vec<(String, bool)>,
}

fn listing(text: &str) -> Listing {
    // The independent parser accepts it as a media playlist.
    assert!(
        m3u8_rs::parse_media_playlist_res(text.as_bytes()).is_ok(),
        "not a media playlist: {text}"
    );
    let uri = |l: &str| {
        l.split_once("URI=\"")
            .and_then(|(_, r)| r.split_once('"'))
            .map(|(u, _)| u.to_owned())
    };
    // `NAME_RUN_MSN.PART.m4s`
    let msn_part = |u: &str| -> Option<(u64, u64)> {
        let stem = u.strip_suffix(".m4s")?;
        let (head, part) = stem.rsplit_once('.')?;
        let msn = head.rsplit_once('_')?.1;
        Some((msn.parse().ok()?, part.parse().ok()?))
    };
    let mut out = Listing {
        hint: None,
        objects: Vec::new(),
    };
    let mut gap = false;
    for l in text.lines().map(str::trim) {
        if l == "#EXT-X-GAP" {
            gap = true;
        } else if l.starts_with("#EXT-X-PART:") {
            out.objects
                .push((uri(l).expect("part URI"), l.contains("GAP=YES")));
        } else if l.starts_with("#EXT-X-PRELOAD-HINT:") {
            out.hint = uri(l).as_deref().and_then(msn_part);
        } else if !l.is_empty() && !l.starts_with('#') {
            out.objects.push((l.to_owned(), gap));
            gap = false;
        }
    }
    out
}

fn get(origin: &Origin, path: &str) -> (u16, String) {
    let (status, _, body) = origin.get(path);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Waits until `origin` serves the live playlist at `path` with a preload hint.
fn wait_live(origin: &Origin, path: &str) -> Listing {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, text) = get(origin, path);
        if status == 200 {
            let l = listing(&text);
            if l.hint.is_some() {
                return l;
            }
        }
        assert!(Instant::now() < deadline, "{path}: {status} {text}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A blocking reload for the hinted (next) part on `origin`: it returns with that part listed
/// and the part is served by the same origin.
fn blocking_reload_for_next_part(origin: &Origin, path: &str) {
    let (msn, part) = wait_live(origin, path).hint.expect("hint");
    let began = Instant::now();
    let (status, text) = get(origin, &format!("{path}?_HLS_msn={msn}&_HLS_part={part}"));
    let waited = began.elapsed();
    assert_eq!(status, 200, "blocking reload {msn}.{part}: {text}");
    let l = listing(&text);
    let want = format!("_{msn:06}.{part}.m4s");
    let (uri, gap) = l
        .objects
        .iter()
        .find(|(u, _)| u.ends_with(&want))
        .unwrap_or_else(|| panic!("part {msn}.{part} listed after the blocking reload:\n{text}"));
    assert!(!gap, "{uri} is a gap");
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let (status, _, body) = origin.get(&format!("{dir}/{uri}"));
    assert_eq!(status, 200, "{uri} listed, so the origin serves it");
    assert!(!body.is_empty());
    // Held (no answer before the part existed), released well within the hold limit.
    assert!(waited < Duration::from_secs(6), "{waited:?}");
}

#[test]
fn ll_hls_through_storage_with_following_origins() {
    let weed = Seaweed::start("ll");
    let pk = packager(&weed, "ll", "cam", 300);
    let url = format!("s3://{BUCKET}/ll");
    let follow = ["--follow", pk.base.as_str()];
    let origins = [
        serve_with(&weed, &url, &follow),
        serve_with(&weed, &url, &follow),
    ];
    let polling = serve_with(&weed, &url, &[]);
    // `--follow` a packager that is not there (a port just freed): it falls back to polling.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let unreachable = serve_with(&weed, &url, &["--follow", &format!("http://{nobody}")]);
    for round in 0..3 {
        for (i, o) in origins.iter().chain([&polling, &unreachable]).enumerate() {
            blocking_reload_for_next_part(o, "/cam/stream.m3u8");
            eprintln!("round {round}: origin {i} released on the next part");
        }
    }
    // The same part on both following origins: both release with it listed.
    let (msn, part) = wait_live(&origins[0], "/cam/stream.m3u8")
        .hint
        .expect("hint");
    let query = format!("/cam/stream.m3u8?_HLS_msn={msn}&_HLS_part={part}");
    let both: Vec<(u16, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = origins.iter().map(|o| s.spawn(|| get(o, &query))).collect();
        hs.into_iter().map(|h| h.join().expect("join")).collect()
    });
    for (status, text) in both {
        assert_eq!(status, 200);
        assert!(text.contains(&format!("_{msn:06}.{part}.m4s")), "{text}");
    }
    // Playlists of the followed stream come with their own short max-age.
    let (_, head, _) = origins[0].get("/cam/stream.m3u8");
    let cc = header(&head, "cache-control").unwrap_or_default();
    assert!(
        cc.contains("max-age=") && !cc.contains("immutable"),
        "{head}"
    );
    // The origins read playlists with conditional GETs.
    let (_, _, metrics) = origins[0].get("/metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    let not_modified = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hlsorigin_storage_not_modified_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("not-modified count");
    assert!(not_modified > 0, "{metrics}");
    // hls.js, low-latency mode, through one following origin.
    let _browser = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let url = format!("{}/cam/master.m3u8", origins[1].base);
    let report = play(&url, "hlsjs", 10, &["--start-timeout", "40"]);
    assert_eq!(
        report["ok"], true,
        "hls.js through a following origin: {report}"
    );
    eprintln!("hls.js latency through storage: {}", report["latency"]);
}

/// Every object `text` lists as playable is served (200) at `addr` (an origin, or Varnish in
/// front of the origins); a gap need not be.
fn listed_objects_are_there(addr: &str, text: &str) -> (usize, usize) {
    let (statuses, gaps) = listed_statuses(addr, text);
    for (uri, status) in &statuses {
        assert_eq!(
            *status, 200,
            "{uri} is listed as playable, so it must be stored (via {addr}):\n{text}"
        );
    }
    (statuses.len() + gaps, gaps)
}

/// The status at `addr` of each object `text` lists as playable; how many gaps it lists.
fn listed_statuses(addr: &str, text: &str) -> (Vec<(String, u16)>, usize) {
    let l = listing(text);
    let gaps = l.objects.iter().filter(|(_, gap)| *gap).count();
    let statuses = l
        .objects
        .iter()
        .filter(|(_, gap)| !gap)
        .map(|(uri, _)| {
            let (status, _, _) = request(addr, "GET", &format!("/cam/{uri}"), &[]).expect("GET");
            (uri.clone(), status)
        })
        .collect();
    (statuses, gaps)
}

/// GET `path` at `addr` (Varnish): status and body.
fn get_at(addr: &str, path: &str) -> (u16, String) {
    let (status, _, body) = request(addr, "GET", path, &[]).expect("GET");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The media sequence number of the hinted part (how far the stored stream is).
fn progress(text: &str) -> Option<u64> {
    listing(text).hint.map(|(msn, _)| msn)
}

#[test]
fn storage_stopped_while_live_then_recovers() {
    let mut weed = Seaweed::start("ll-outage");
    let pk = packager(&weed, "out", "cam", 300);
    let url = format!("s3://{BUCKET}/out");
    let follow = ["--follow", pk.base.as_str()];
    let origin = serve_with(&weed, &url, &follow);
    let other = serve_with(&weed, &url, &follow);
    let cdn = varnish(&[&origin, &other]);
    let at = cdn.base.trim_start_matches("http://").to_owned();
    let path = "/cam/stream.m3u8";
    let before = wait_live(&origin, path).hint.expect("hint").0;
    // Some progress first.
    let deadline = Instant::now() + Duration::from_secs(60);
    let before = loop {
        let (_, text) = get_at(&at, path);
        let now = progress(&text).unwrap_or(before);
        if now >= before + 2 {
            listed_objects_are_there(&at, &text);
            break now;
        }
        assert!(Instant::now() < deadline, "no progress before the outage");
        std::thread::sleep(Duration::from_millis(300));
    };
    // hls.js plays through Varnish across the outage: it must go on afterwards.
    // The outage starts 8 s after the player got the browser (in a parallel run another test
    // may hold it for a while; hls.js must have loaded the manifest before storage stops).
    let (started, has_browser) = std::sync::mpsc::channel();
    let player = {
        let url = format!("{}/cam/master.m3u8", cdn.base);
        std::thread::spawn(move || {
            let _browser = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
            let _ = started.send(());
            play(&url, "hlsjs", 40, &["--start-timeout", "40"])
        })
    };
    let _ = has_browser.recv_timeout(Duration::from_secs(180));
    std::thread::sleep(Duration::from_secs(8));
    weed.stop();
    let stopped = Instant::now();
    // While storage is down (and until it is back), through the CDN: the playlist and its
    // newest object listed as playable are 200 (held in an origin) or 503, never 404 (which
    // Varnish would keep as "gone").
    let down = Arc::new(AtomicBool::new(true));
    let prober = {
        let (at, down) = (at.clone(), Arc::clone(&down));
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            while down.load(Ordering::SeqCst) {
                let (status, text) = get_at(&at, path);
                answers.push((path.to_owned(), status, stopped.elapsed()));
                if status == 200 {
                    // A gap need not be stored (EXT-X-GAP: clients do not fetch it).
                    let objects = listing(&text).objects;
                    if let Some((uri, _)) = objects.iter().rev().find(|(_, gap)| !gap) {
                        let newest = format!("/cam/{uri}");
                        let status = get_at(&at, &newest).0;
                        answers.push((newest.clone(), status, stopped.elapsed()));
                    }
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            answers
        })
    };
    std::thread::sleep(Duration::from_secs(5));
    weed.run();
    let back = stopped.elapsed();
    down.store(false, Ordering::SeqCst);
    let answers = prober.join().expect("prober");
    // SeaweedFS warming up answers 404 for stored objects for a moment: the origins answer
    // 503 for an object their playlist lists, so nothing but 200 and 503 comes through.
    let bad: Vec<_> = answers
        .iter()
        .filter(|a| ![200, 503].contains(&a.1))
        .collect();
    assert!(
        bad.is_empty(),
        "while storage was down (back after {back:?}): {bad:?}\n{answers:?}"
    );
    let unavailable = answers.iter().filter(|(_, s, _)| *s == 503).count();
    eprintln!(
        "SeaweedFS back after {:?}; {} answers through Varnish meanwhile, {unavailable} of them \
         503",
        stopped.elapsed(),
        answers.len()
    );
    // Recovery: the stored playlist advances again, past where ingest went meanwhile, and
    // at every step what it lists as playable is served through the CDN (no 404 kept).
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen_gaps = 0;
    let mut last = before;
    loop {
        let (status, text) = get_at(&at, path);
        if status == 200 {
            // While storage warms up (SeaweedFS answers 500 for a while) an object may be
            // 503; never 404. Done when all are served and the stream went on.
            let (statuses, gaps) = listed_statuses(&at, &text);
            let missing: Vec<_> = statuses.iter().filter(|(_, s)| *s != 200).collect();
            // SeaweedFS warming up answers 404 for stored objects. An origin answers 503 for
            // one that a playlist of its directory lists (read again on such a 404: it may
            // hold an older version than the player); only an origin that serves no playlist
            // of the directory (not the case here: both follow the stream) would pass a 404
            // on (README "Scaling out"). A 404 is excused only while storage itself answers
            // 404 for that key; the loop ends only when all are 200.
            let s3_port = weed
                .endpoint()
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok());
            let storage_says_404 = |uri: &str| {
                let key = format!("/{BUCKET}/out/cam/{uri}");
                s3_request("GET", s3_port.unwrap_or(0), &key) == 404
            };
            let wrong: Vec<_> = missing
                .iter()
                .filter(|(uri, s)| *s != 503 && !(*s == 404 && storage_says_404(uri)))
                .collect();
            assert!(
                wrong.is_empty(),
                "listed as playable, so 200 or (storage recovering) 503: {wrong:?}\n{text}"
            );
            seen_gaps = seen_gaps.max(gaps);
            last = progress(&text).unwrap_or(last);
            // Ingest went on during the outage: 1 s segments, 5 s down.
            if last >= before + 8 && missing.is_empty() {
                break;
            }
        } else {
            assert_eq!(status, 503, "storage recovering: 503, never {status}");
        }
        assert!(
            Instant::now() < deadline,
            "no recovery: msn {last} after {before}; last answer {status}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let report = player.join().expect("player");
    assert_eq!(
        report["ok"], true,
        "hls.js through Varnish across a 5 s storage outage: {report}"
    );
    // The packager counted what it could not store (and retried).
    let (_, _, metrics) = request(
        pk.base.trim_start_matches("http://"),
        "GET",
        "/metrics",
        &[],
    )
    .expect("packager metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    let count = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics:\n{metrics}"))
    };
    let (gaps, retries) = (
        count("hlsorigin_live_upload_gaps_total"),
        count("hlsorigin_live_upload_retries_total"),
    );
    // Down 5 s (and its restart time), longer than the uploader's 3 s deadline: some
    // segments and parts were given up, listed as gaps, and counted.
    assert!(gaps > 0, "an outage of 5 s leaves gaps: {metrics}");
    eprintln!("outage: {gaps} objects given up (gaps), {retries} retries, {seen_gaps} gaps seen listed; msn {before} → {last}");
}

#[test]
fn ll_hls_through_varnish_survives_an_origin_restart() {
    let weed = Seaweed::start("ll-cdn");
    let pk = packager(&weed, "cdn", "cam", 300);
    let url = format!("s3://{BUCKET}/cdn");
    let follow = ["--follow", pk.base.as_str()];
    let mut first = Some(serve_with(&weed, &url, &follow));
    let second = serve_with(&weed, &url, &follow);
    let first_addr = first.as_ref().map(|o| o.addr().to_owned()).expect("origin");
    let cdn = varnish(&[first.as_ref().expect("origin"), &second]);
    wait_live(&second, "/cam/stream.m3u8");
    let url_cdn = format!("{}/cam/master.m3u8", cdn.base);
    let player = std::thread::spawn(move || {
        let _browser = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
        play(&url_cdn, "hlsjs", 24, &["--start-timeout", "40"])
    });
    // Kill one origin while hls.js plays through Varnish, start it again on the same port.
    std::thread::sleep(Duration::from_secs(12));
    drop(first.take());
    std::thread::sleep(Duration::from_secs(5));
    let restarted = serve_on(&weed, &url, &first_addr, &follow);
    // It serves at once: no state to rebuild but what storage holds.
    blocking_reload_for_next_part(&restarted, "/cam/stream.m3u8");
    let report = player.join().expect("player");
    assert_eq!(
        report["ok"], true,
        "hls.js through Varnish, one origin restarted: {report}"
    );
    eprintln!(
        "hls.js latency through Varnish and storage: {}",
        report["latency"]
    );
}

/// RFC 8216bis 6.2.6 through storage: a client's first request to a following origin is the
/// preload-hinted part (it read the playlist elsewhere: the packager, another origin behind
/// the CDN). The origin holds it until the part is stored and serves it — never 404.
#[test]
fn hinted_part_as_first_request_to_a_following_origin() {
    let weed = Seaweed::start("ll-hint");
    let pk = packager(&weed, "hint", "cam", 300);
    let url = format!("s3://{BUCKET}/hint");
    let packager_addr = pk.base.trim_start_matches("http://");
    let hinted = || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, _, body) =
                request(packager_addr, "GET", "/cam/stream.m3u8", &[]).expect("packager");
            let text = String::from_utf8_lossy(&body);
            let hint = text
                .lines()
                .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:"))
                .and_then(|l| l.split_once("URI=\"")?.1.split_once('"'))
                .map(|(u, _)| u.to_owned());
            if let (200, Some(hint)) = (status, hint) {
                return hint;
            }
            assert!(
                Instant::now() < deadline,
                "no live playlist: {status} {text}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    for round in 0..3 {
        // A fresh origin each round: nothing followed yet.
        let origin = serve_with(&weed, &url, &["--follow", pk.base.as_str()]);
        let hint = hinted();
        let began = Instant::now();
        let (status, _, body) = origin.get(&format!("/cam/{hint}"));
        assert_eq!(status, 200, "round {round}: hinted part {hint}");
        assert!(!body.is_empty());
        // ffprobe-independent check: an fMP4 part starts with a box of a known type.
        assert!(
            body.len() > 8 && [&b"styp"[..], b"moof"].contains(&&body[4..8]),
            "{hint}: not a CMAF part"
        );
        eprintln!("round {round}: {hint} served after {:?}", began.elapsed());
    }
}
