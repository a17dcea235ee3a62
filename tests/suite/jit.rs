// SPDX-License-Identifier: MIT OR Apache-2.0
//! Just-in-time packaging (`serve ROOT`, `/PATH/FILE.mp4/master.m3u8`): the objects equal what
//! `hlsorigin package` writes for the same file and segment duration, byte for byte (names'
//! run id aside); ffmpeg decodes the stream through HTTP; same URL → same ETag; a touched file
//! gets new segment URLs; files that cannot be packaged answer 415/422 with the reason; hls.js
//! and Chromium's native HLS play the fMP4 and TS streams.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::server::{page_harness, play, serve};
use crate::common::{bin, fixtures, out_dir, package, probe, run};

/// One HTTP/1.1 exchange on a fresh connection: status, headers (lower-case names), body.
pub(super) struct Reply {
    pub(super) status: u16,
    headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Reply {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub(super) fn request(base: &str, method: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
    let host = base.strip_prefix("http://").expect("http base");
    let mut s = TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let reply = Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    assert!(
        reply.header("transfer-encoding").is_none(),
        "{path}: chunked replies are not expected here"
    );
    reply
}

/// Compares every object `package` wrote in `out` (run id `test`) with the same object served
/// just in time under `base` (version `version`): playlists as text (and m3u8-rs parses them),
/// everything else byte for byte; how many were compared.
pub(super) fn assert_objects_equal(
    server: &str,
    base: &str,
    out: &Path,
    version: &str,
    format: &str,
) -> usize {
    let mut compared = 0;
    for entry in std::fs::read_dir(out).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with('.') {
            continue;
        }
        let want = std::fs::read(out.join(&name)).unwrap();
        let jit_name = name.replace("_test_", &format!("_{version}_"));
        let got = get(server, &format!("{base}{jit_name}"));
        assert_eq!(got.status, 200, "{format}: {jit_name}");
        if name.ends_with(".m3u8") {
            let got = got.text().replace(&format!("_{version}_"), "_test_");
            crate::common::assert_text_eq(&name, &String::from_utf8(want).unwrap(), &got);
            let parsed = m3u8_rs::parse_playlist_res(got.as_bytes());
            assert!(parsed.is_ok(), "{format}: {name} parses: {parsed:?}");
        } else {
            assert!(got.body == want, "{format}: {name} differs from package's");
        }
        compared += 1;
    }
    compared
}

pub(super) fn get(base: &str, path: &str) -> Reply {
    request(base, "GET", path, &[])
}

/// A root holding `v/clip.mp4` (the 12 s playback fixture, 2 s GOPs).
pub(super) fn root(name: &str) -> (PathBuf, PathBuf) {
    let dir = out_dir(name);
    let file = dir.join("root/v/clip.mp4");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::copy(fixtures::playback(), &file).unwrap();
    (dir, file)
}

/// The version the JIT media playlist names its objects with (`stream_VERSION_000000.m4s`).
pub(super) fn version_of(playlist: &str) -> String {
    let line = playlist
        .lines()
        .find(|l| l.starts_with("stream_"))
        .unwrap_or_else(|| panic!("no segment in\n{playlist}"));
    line["stream_".len()..]
        .split('_')
        .next()
        .unwrap()
        .to_owned()
}

/// Every object `package --format FORMAT --segment-duration 4` writes equals the JIT object
/// of the same name (run id `test` ↔ the file's version), playlists parsed by m3u8-rs too.
#[test]
fn jit_equals_package() {
    let (dir, file) = root("jit_equals_package");
    let server = serve(&dir.join("root"), &["--jit-segment-duration", "4"]);
    for (format, prefix, ext) in [("fmp4", "", "m4s"), ("ts", "ts/", "ts")] {
        let out = dir.join(format!("pkg-{format}"));
        package(
            &file,
            &out,
            &["--format", format, "--segment-duration", "4", "--quiet"],
        );
        let base = format!("/v/clip.mp4/{prefix}");
        let media = get(&server.base, &format!("{base}stream.m3u8"));
        assert_eq!(media.status, 200, "{format}: media playlist");
        let version = version_of(&media.text());
        let compared = assert_objects_equal(&server.base, &base, &out, &version, format);
        assert!(compared >= 6, "{format}: {compared} objects compared");
        assert!(media.text().contains(&format!(".{ext}")), "{format}");
        // ffmpeg reads the whole stream through HTTP: no decode error, the whole duration.
        let url = format!("{}{base}master.m3u8", server.base);
        let errors = probe::decode_errors(Path::new(&url));
        assert!(
            errors.is_empty(),
            "{format}: ffmpeg decoding {url}: {errors}"
        );
        let secs = probe::media_duration(Path::new(&url));
        assert!((secs - 12.0).abs() < 0.2, "{format}: {secs} s through HTTP");
    }
}

/// Same URL → same bytes and ETag; segments immutable, Range and HEAD work; a touched file
/// gets a new version in its URLs and the old segment URLs are gone.
#[test]
fn jit_versions_and_caching() {
    let (dir, file) = root("jit_versions_and_caching");
    let server = serve(&dir.join("root"), &[]);
    let media = get(&server.base, "/v/clip.mp4/stream.m3u8").text();
    let version = version_of(&media);
    let seg = format!("/v/clip.mp4/stream_{version}_000001.m4s");
    let (a, b) = (get(&server.base, &seg), get(&server.base, &seg));
    assert_eq!(a.status, 200);
    assert!(a.body == b.body, "same bytes");
    assert_eq!(a.header("etag"), b.header("etag"));
    assert!(a.header("etag").is_some());
    let cc = a.header("cache-control").unwrap_or("");
    assert!(cc.contains("immutable"), "segment Cache-Control {cc}");
    let range = request(&server.base, "GET", &seg, &[("Range", "bytes=10-19")]);
    assert_eq!(range.status, 206);
    assert_eq!(range.body, a.body[10..20]);
    let head = request(&server.base, "HEAD", &seg, &[]);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(a.body.len().to_string().as_str())
    );
    let etag = a.header("etag").unwrap().to_owned();
    let again = request(&server.base, "GET", &seg, &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    let master = get(&server.base, "/v/clip.mp4/master.m3u8");
    assert!(master
        .header("cache-control")
        .unwrap_or("")
        .contains("max-age=60"));

    // Touch: a new mtime is a new version.
    let out = run(Command::new("touch")
        .args(["-d", "2001-02-03 04:05:06"])
        .arg(&file));
    assert!(out.status.success());
    // The origin confirms a VOD playlist at most once a second (as for files).
    std::thread::sleep(Duration::from_millis(1200));
    let media2 = get(&server.base, "/v/clip.mp4/stream.m3u8").text();
    let version2 = version_of(&media2);
    assert_ne!(version, version2, "touched file, new version");
    assert_eq!(
        get(&server.base, &seg).status,
        404,
        "old segment URL is gone"
    );
    let seg2 = format!("/v/clip.mp4/stream_{version2}_000001.m4s");
    let c = get(&server.base, &seg2);
    assert_eq!(c.status, 200);
    assert!(c.body == a.body, "same content, new name");
}

/// A file that is not MP4 → 415; a truncated MP4 → 422 with the line `package` prints.
#[test]
fn jit_refusals() {
    let (dir, file) = root("jit_refusals");
    let v = dir.join("root/v");
    std::fs::write(v.join("notes.mp4"), b"these are not video frames\n").unwrap();
    let bytes = std::fs::read(&file).unwrap();
    // The playback fixture has its moov first: cut inside the media data.
    std::fs::write(v.join("cut.mp4"), &bytes[..bytes.len() / 2]).unwrap();
    let server = serve(&dir.join("root"), &[]);

    let r = get(&server.base, "/v/notes.mp4/master.m3u8");
    assert_eq!(r.status, 415, "{}", r.text());
    assert!(
        r.text().contains("neither an MP4 nor an MPEG-TS"),
        "{}",
        r.text()
    );
    let cc = r.header("cache-control").unwrap_or("");
    assert!(cc.contains("max-age=1"), "short Cache-Control, got {cc}");

    let r = get(&server.base, "/v/cut.mp4/ts/master.m3u8");
    assert_eq!(r.status, 422, "{}", r.text());
    let o = run(Command::new(bin())
        .arg("package")
        .arg(v.join("cut.mp4"))
        .arg("-o")
        .arg(dir.join("cut-out")));
    assert!(!o.status.success(), "package refuses the truncated file");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let reason = r.text();
    let reason = reason.trim().split_once(": ").map_or("", |x| x.1);
    assert!(reason.contains("truncated"), "{reason}");
    assert!(
        stderr.contains(reason),
        "package says {stderr:?}, JIT says {reason:?}"
    );

    // A real file inside a directory named like a video is still served as it is.
    let d = dir.join("root/dir.mp4");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("master.m3u8"), "#EXTM3U\n").unwrap();
    let r = get(&server.base, "/dir.mp4/master.m3u8");
    assert_eq!((r.status, r.text().as_str()), (200, "#EXTM3U\n"));
}

/// hls.js and Chromium's native HLS play the JIT fMP4 and TS streams.
#[test]
fn jit_plays_in_chromium() {
    let (dir, _) = root("jit_plays_in_hlsjs");
    let server = serve(&dir.join("root"), &[]);
    let mut failures = vec![];
    for (prefix, mode) in [
        ("", "hlsjs"),
        ("ts/", "hlsjs"),
        ("", "native"),
        ("ts/", "native"),
    ] {
        let url = format!("{}/v/clip.mp4/{prefix}master.m3u8", server.base);
        let report = play(&url, mode, 6, &[]);
        if report["ok"] != true {
            failures.push(format!("{url} via {mode}: {report}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A library on the page at `/`: `/api/streams` lists its MP4 files as streams without
/// planning them (kind `vod`, no details yet); the page plays one with its embedded hls.js,
/// after which its entry has the details; a file dropped into the root appears on the open
/// page without a reload, and leaves it when deleted.
#[test]
fn jit_files_on_the_page() {
    let (dir, _) = root("jit_files_on_the_page");
    let server = serve(&dir.join("root"), &[]);
    let listing = || -> serde_json::Value {
        serde_json::from_slice(&get(&server.base, "/api/streams").body).expect("JSON")
    };
    let before = listing();
    assert_eq!(
        before["streams"],
        serde_json::json!(["v/clip.mp4/master.m3u8"])
    );
    let entry = &before["entries"][0];
    assert_eq!(
        (&entry["name"], &entry["kind"]),
        (&"v/clip.mp4".into(), &"vod".into())
    );
    assert!(
        entry.get("duration").is_none(),
        "planned by listing: {entry}"
    );

    let report = play(&format!("{}/?engine=hlsjs", server.base), "page", 6, &[]);
    assert_eq!(report["ok"], true, "page playback: {report}");
    // Played, the page fetched the details it had no way to know before (duration 0:12).
    let shown = report["entries"][0].as_str().unwrap_or("");
    assert!(shown.contains("0:12") && shown.contains("avc1"), "{report}");
    let after = listing();
    let entry = &after["entries"][0];
    let duration = entry["duration"].as_f64().unwrap_or(0.0);
    assert!(
        (duration - 12.0).abs() < 0.5,
        "details once played: {entry}"
    );
    let codecs = entry["renditions"][0]["codecs"].as_str().unwrap_or("");
    assert!(codecs.contains("avc1"), "{entry}");

    let root = dir.join("root");
    let report = page_harness(&[
        "--url",
        &format!("{}/", server.base),
        "--add-from",
        fixtures::playback().to_str().unwrap(),
        "--add-to",
        root.join("dropped.mp4").to_str().unwrap(),
        "--stream",
        "dropped.mp4",
    ]);
    assert_eq!(report["ok"], true, "page: {report}");
    let text = report["entryText"].as_str().unwrap_or("");
    assert!(
        text.contains("dropped.mp4/master.m3u8") && text.contains("vod"),
        "entry shows the playlist and its kind: {report}"
    );
}

/// The packager's codec matrix (`fixtures::valid`: H.264/HEVC/AV1/VP9 with AAC/AC-3/E-AC-3/
/// MP3/Opus, moov last, fragmented, audio or video only, irregular GOPs) served just in time:
/// every object equals `package`'s, byte for byte, in fMP4 and (where the codecs allow) TS,
/// and ffmpeg decodes each stream through HTTP without an error.
#[test]
fn jit_codec_matrix_equals_package() {
    let dir = out_dir("jit_codec_matrix");
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("m")).unwrap();
    let fixtures = fixtures::valid();
    for fx in &fixtures {
        std::fs::copy(fixtures::path(fx), root.join("m").join(fx.name)).unwrap();
    }
    let server = serve(&root, &["--jit-segment-duration", "2"]);
    let mut compared = 0;
    for fx in &fixtures {
        let formats: &[(&str, &str)] = if fx.ts_ok {
            &[("fmp4", ""), ("ts", "ts/")]
        } else {
            &[("fmp4", "")]
        };
        for (format, prefix) in formats {
            let case = format!("{} {format}", fx.name);
            let out = dir.join(format!("pkg-{}-{format}", fx.name));
            let args = ["--format", format, "--segment-duration", "2", "--quiet"];
            package(&root.join("m").join(fx.name), &out, &args);
            let base = format!("/m/{}/{prefix}", fx.name);
            let media = get(&server.base, &format!("{base}stream.m3u8"));
            assert_eq!(media.status, 200, "{case}: {}", media.text());
            let version = version_of(&media.text());
            let n = assert_objects_equal(&server.base, &base, &out, &version, &case);
            assert!(n >= 4, "{case}: {n} objects");
            let url = format!("{}{base}master.m3u8", server.base);
            let errors = probe::decode_errors(Path::new(&url));
            assert!(errors.is_empty(), "{case}: ffmpeg decoding {url}: {errors}");
            compared += 1;
        }
    }
    assert!(compared >= 20, "{compared} streams compared");

    // Encrypted (cbcs in fMP4, AES-128 in TS) with the key HMAC-SHA256(secret, path): equal to
    // `package --encrypt` where it packages, refused (422) where it refuses (MP3 with cbcs).
    let secret = "matrix-secret-0123456789";
    let enc = serve(
        &root,
        &[
            "--jit-segment-duration",
            "2",
            "--jit-encrypt",
            "cbcs,aes-128",
            "--jit-key-secret",
            secret,
        ],
    );
    let (mut encrypted, mut refused) = (0, 0);
    for fx in &fixtures {
        let key = super::jit_encrypt::hmac_key(secret, &format!("m/{}", fx.name));
        let formats: &[(&str, &str, &str)] = if fx.ts_ok {
            &[("fmp4", "cbcs", ""), ("ts", "aes-128", "ts/")]
        } else {
            &[("fmp4", "cbcs", "")]
        };
        for (format, method, prefix) in formats {
            let case = format!("{} {format} {method}", fx.name);
            let out = dir.join(format!("enc-{}-{format}", fx.name));
            let packaged = run(Command::new(bin())
                .arg("package")
                .arg(root.join("m").join(fx.name))
                .arg("-o")
                .arg(&out)
                .args([
                    "--run-id",
                    "test",
                    "--format",
                    format,
                    "--segment-duration",
                    "2",
                ])
                .args(["--quiet", "--encrypt", method, "--key", &key]));
            let base = format!("/m/{}/{prefix}", fx.name);
            let media = get(&enc.base, &format!("{base}stream.m3u8"));
            if !packaged.status.success() {
                assert_eq!(media.status, 422, "{case}: package refused, JIT must too");
                refused += 1;
                continue;
            }
            assert_eq!(media.status, 200, "{case}: {}", media.text());
            let version = version_of(&media.text());
            assert_objects_equal(&enc.base, &base, &out, &version, &case);
            encrypted += 1;
        }
    }
    assert!(
        encrypted >= 18 && refused >= 1,
        "{encrypted} encrypted, {refused} refused"
    );
}
