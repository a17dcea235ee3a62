// SPDX-License-Identifier: MIT OR Apache-2.0
//! Just-in-time encryption (`serve --jit-encrypt cbcs,sample-aes|aes-128 --jit-key-secret S`):
//! every object equals what `hlsorigin package --encrypt cbcs|sample-aes|aes-128 --key K
//! --key-rotation N` writes, keys and AES-128's I-frame file (whole and by byte ranges)
//! included, K being HMAC-SHA256(S, the file's path) as openssl computes it; Shaka Player (EME
//! ClearKey) plays the cbcs fMP4, hls.js the SAMPLE-AES and AES-128 TS, and ffmpeg decodes the
//! AES-128 streams, fetching the keys from the origin; a format no method names is not served;
//! `--jit-key-uri` names the key server instead; bad settings stop `serve` with one line.

use std::process::{Command, Stdio};

use std::path::Path;

use super::jit::{assert_objects_equal, get, request, root, version_of};
use crate::common::server::{drm_harness, play, serve};
use crate::common::{bin, package, probe, run};

const SECRET: &str = "jit-test-secret-0123456789";

/// The master key of the stream at `path`: HMAC-SHA256(SECRET, path), first 16 bytes, hex
/// (openssl, not our code).
fn derived_key(path: &str) -> String {
    hmac_key(SECRET, path)
}

/// HMAC-SHA256(`secret`, `path`), first 16 bytes in hex (openssl).
pub(super) fn hmac_key(secret: &str, path: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    use std::io::Write as _;
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(path.as_bytes()).expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("openssl");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let hex = text.trim().rsplit(' ').next().expect("digest");
    assert_eq!(hex.len(), 64, "{text}");
    hex[..32].to_owned()
}

/// `serve` options: 4 s segments, `methods` encrypting, keys rotating every 2 segments.
fn serve_args(methods: &str) -> [&str; 8] {
    [
        "--jit-segment-duration",
        "4",
        "--jit-encrypt",
        methods,
        "--jit-key-secret",
        SECRET,
        "--jit-key-rotation",
        "2",
    ]
}

#[test]
fn jit_encrypted_equals_package() {
    let (dir, file) = root("jit_encrypted_equals_package");
    let samples = serve(&dir.join("root"), &serve_args("cbcs,sample-aes"));
    let whole = serve(&dir.join("root"), &serve_args("aes-128"));
    let key = derived_key("v/clip.mp4");
    for (server, format, method, prefix) in [
        (&samples, "fmp4", "cbcs", ""),
        (&samples, "ts", "sample-aes", "ts/"),
        (&whole, "fmp4", "aes-128", ""),
        (&whole, "ts", "aes-128", "ts/"),
    ] {
        let case = format!("{format} {method}");
        let out = dir.join(format!("pkg-{format}-{method}"));
        package(
            &file,
            &out,
            &[
                "--format",
                format,
                "--segment-duration",
                "4",
                "--quiet",
                "--encrypt",
                method,
                "--key",
                &key,
                "--key-rotation",
                "2",
            ],
        );
        let base = format!("/v/clip.mp4/{prefix}");
        let media = get(&server.base, &format!("{base}stream.m3u8"));
        assert_eq!(media.status, 200, "{case}: {}", media.text());
        let version = version_of(&media.text());
        // 3 playlists, 3 segments, key_0/key_1.bin; fMP4 init segments (cbcs: one per key
        // period); AES-128's I-frame file.
        let compared = assert_objects_equal(&server.base, &base, &out, &version, &case);
        let want = match (format, method) {
            ("fmp4", "cbcs") => 10,
            ("fmp4", _) => 10,
            ("ts", "aes-128") => 9,
            _ => 8,
        };
        assert_eq!(compared, want, "{case}: objects compared");
        assert!(out.join("key_1.bin").exists(), "{case}: two key periods");
        let master = get(&server.base, &format!("{base}master.m3u8")).text();
        let tag = match method {
            "aes-128" => "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"key_1.bin\"",
            _ => "#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"key_1.bin\"",
        };
        assert!(master.contains(tag), "{case}: {master}");
        // Keys the master does not list are not served.
        assert_eq!(get(&server.base, &format!("{base}key_2.bin")).status, 404);
        if method == "aes-128" {
            assert_iframe_ranges(&server.base, &base, &out, &version, format);
        }
    }
    // A clear origin gives the same URL another ETag (other bytes).
    let clear = serve(&dir.join("root"), &["--jit-segment-duration", "4"]);
    let etag = |base: &str| {
        get(base, "/v/clip.mp4/master.m3u8")
            .header("etag")
            .map(str::to_owned)
    };
    assert_ne!(etag(&samples.base), etag(&clear.base));
    assert_ne!(etag(&samples.base), etag(&whole.base));
}

/// AES-128's I-frame file answers byte ranges (each I-frame entry the playlist names, and
/// ranges across entries and segments) with package's bytes.
fn assert_iframe_ranges(server: &str, base: &str, out: &Path, version: &str, format: &str) {
    let ext = if format == "ts" { "ts" } else { "m4s" };
    let want = std::fs::read(out.join(format!("stream_test_iframes.{ext}"))).unwrap();
    let path = format!("{base}stream_{version}_iframes.{ext}");
    let playlist = std::fs::read(out.join("stream_iframes.m3u8")).unwrap();
    let Ok((_, m3u8_rs::Playlist::MediaPlaylist(p))) = m3u8_rs::parse_playlist(&playlist) else {
        panic!("{format}: I-frame playlist");
    };
    let mut ranges: Vec<(u64, u64)> = p
        .segments
        .iter()
        .filter_map(|s| s.byte_range.as_ref())
        .map(|r| (r.offset.unwrap_or(0), r.length))
        .collect();
    assert!(
        ranges.len() >= 3,
        "{format}: {} I-frame entries",
        ranges.len()
    );
    let len = want.len() as u64;
    // Across two entries, the middle, the end.
    ranges.extend([(ranges[0].1 - 8, 24), (len / 2 - 5, 10), (len - 50, 50)]);
    for (offset, length) in ranges {
        let header = format!("bytes={offset}-{}", offset + length - 1);
        let r = request(server, "GET", &path, &[("Range", &header)]);
        assert_eq!(r.status, 206, "{format}: {header}");
        let (a, b) = (offset as usize, (offset + length) as usize);
        assert!(
            r.body == want[a..b],
            "{format}: {header} differs from package's"
        );
    }
}

#[test]
fn jit_encrypted_plays_in_shaka_and_hlsjs() {
    let (dir, _) = root("jit_encrypted_plays");
    let server = serve(&dir.join("root"), &serve_args("cbcs,sample-aes"));
    // cbcs: Shaka fetches each period's identity key from EXT-X-KEY and gives it to
    // Chromium's ClearKey CDM; it plays across the key change at 8 s.
    let url = format!("{}/v/clip.mp4/master.m3u8", server.base);
    let report = drm_harness(&["--url", &url, "--seconds", "10"]);
    assert_eq!(report["ok"], true, "Shaka, cbcs: {report}");
    // SAMPLE-AES in MPEG-TS: hls.js decrypts with the keys it fetches.
    let url = format!("{}/v/clip.mp4/ts/master.m3u8", server.base);
    let report = play(&url, "hlsjs", 10, &[]);
    assert_eq!(report["ok"], true, "hls.js, SAMPLE-AES: {report}");
    // AES-128: hls.js plays both formats; ffmpeg decodes the whole stream through HTTP.
    let whole = serve(&dir.join("root"), &serve_args("aes-128"));
    for prefix in ["", "ts/"] {
        let url = format!("{}/v/clip.mp4/{prefix}master.m3u8", whole.base);
        let report = play(&url, "hlsjs", 10, &[]);
        assert_eq!(report["ok"], true, "hls.js, AES-128 {prefix}: {report}");
        let errors = probe::decode_errors(Path::new(&url));
        assert!(errors.is_empty(), "ffmpeg decoding {url}: {errors}");
        let secs = probe::media_duration(Path::new(&url));
        assert!((secs - 12.0).abs() < 0.2, "{url}: {secs} s through HTTP");
    }
}

#[test]
fn jit_encryption_settings() {
    let (dir, _) = root("jit_encryption_settings");
    // Only cbcs: the MPEG-TS output of a protected origin is not served in the clear.
    let uri = "https://keys.example/{path}/{n}";
    let server = serve(
        &dir.join("root"),
        &[
            "--jit-encrypt",
            "cbcs",
            "--jit-key-secret",
            SECRET,
            "--jit-key-uri",
            uri,
        ],
    );
    let ts = get(&server.base, "/v/clip.mp4/ts/master.m3u8");
    assert_eq!(ts.status, 404, "{}", ts.text());
    assert!(ts.text().contains("--jit-encrypt"), "{}", ts.text());
    let media = get(&server.base, "/v/clip.mp4/stream.m3u8").text();
    assert!(
        media.contains("URI=\"https://keys.example/v/clip.mp4/0\""),
        "{media}"
    );
    // With a key server named, the origin serves no key.
    assert_eq!(get(&server.base, "/v/clip.mp4/key_0.bin").status, 404);

    // Unusable settings: one line naming the option, non-zero exit.
    let root = dir.join("root");
    for (args, says) in [
        (&["--jit-encrypt", "cbcs"][..], "jit_key_secret"),
        (
            &["--jit-encrypt", "cenc", "--jit-key-secret", SECRET][..],
            "aes-128",
        ),
        (
            &["--jit-encrypt", "cbcs", "--jit-key-secret", "short"][..],
            "16",
        ),
        (&["--jit-key-secret", SECRET][..], "jit_encrypt"),
    ] {
        let o = run(Command::new(bin())
            .arg("serve")
            .arg(&root)
            .args(["--listen", "127.0.0.1:0"])
            .args(args));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} must fail");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// Signed URLs protect the keys of encrypted JIT output: the token on the master is carried
/// into every key URI (EXT-X-SESSION-KEY, EXT-X-KEY) and playlist; a key without it is 403;
/// hls.js plays the signed AES-128 stream.
#[test]
fn jit_keys_behind_signed_urls() {
    let (dir, _) = root("jit_keys_behind_signed_urls");
    let mut args = serve_args("aes-128").to_vec();
    args.extend(["--sign-secret", "sign-secret-1"]);
    let server = serve(&dir.join("root"), &args);
    let signed = super::signed::sign_cli(
        "/v/clip.mp4/ts/master.m3u8",
        &["--expires", "1h", "--sign-secret", "sign-secret-1"],
    );
    let token = signed.split_once("?token=").expect("token").1;
    let master = get(&server.base, &signed);
    assert_eq!(master.status, 200, "{}", master.text());
    let text = master.text();
    assert!(
        text.contains(&format!("URI=\"key_0.bin?token={token}\"")),
        "{text}"
    );
    let media = get(
        &server.base,
        &format!("/v/clip.mp4/ts/stream.m3u8?token={token}"),
    );
    assert!(
        media
            .text()
            .contains(&format!("URI=\"key_0.bin?token={token}\"")),
        "{}",
        media.text()
    );
    let bare = get(&server.base, "/v/clip.mp4/ts/key_0.bin");
    assert_eq!(bare.status, 403, "{}", bare.text());
    let key = get(
        &server.base,
        &format!("/v/clip.mp4/ts/key_0.bin?token={token}"),
    );
    assert_eq!(key.status, 200);
    assert_eq!(key.body.len(), 16);
    let url = format!("{}{signed}", server.base);
    let report = play(&url, "hlsjs", 8, &[]);
    assert_eq!(report["ok"], true, "hls.js, signed AES-128: {report}");
}
