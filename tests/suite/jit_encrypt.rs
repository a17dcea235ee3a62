// SPDX-License-Identifier: MIT OR Apache-2.0
//! Just-in-time encryption (`serve --jit-encrypt cbcs,sample-aes --jit-key-secret S`): every
//! object equals what `hlsorigin package --encrypt cbcs|sample-aes --key K --key-rotation N`
//! writes, keys included, K being HMAC-SHA256(S, the file's path) as openssl computes it;
//! Shaka Player (EME ClearKey) plays the cbcs fMP4 and hls.js the SAMPLE-AES TS, fetching the
//! keys from the origin; a format no method names is not served; `--jit-key-uri` names the
//! key server instead; bad settings stop `serve` with one line.

use std::process::{Command, Stdio};

use super::jit::{assert_objects_equal, get, root, version_of};
use crate::common::server::{drm_harness, play, serve};
use crate::common::{bin, package, run};

const SECRET: &str = "jit-test-secret-0123456789";

/// The master key of the stream at `path`: HMAC-SHA256(SECRET, path), first 16 bytes, hex
/// (openssl, not our code).
fn derived_key(path: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", SECRET])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(path.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.trim().rsplit(' ').next().unwrap();
    assert_eq!(hex.len(), 64, "{text}");
    hex[..32].to_owned()
}

const SERVE_ARGS: [&str; 8] = [
    "--jit-segment-duration",
    "4",
    "--jit-encrypt",
    "cbcs,sample-aes",
    "--jit-key-secret",
    SECRET,
    "--jit-key-rotation",
    "2",
];

#[test]
fn jit_encrypted_equals_package() {
    let (dir, file) = root("jit_encrypted_equals_package");
    let server = serve(&dir.join("root"), &SERVE_ARGS);
    let key = derived_key("v/clip.mp4");
    for (format, method, prefix) in [("fmp4", "cbcs", ""), ("ts", "sample-aes", "ts/")] {
        let out = dir.join(format!("pkg-{format}"));
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
        assert_eq!(media.status, 200, "{format}: {}", media.text());
        let version = version_of(&media.text());
        // 3 playlists, 3 segments, key_0/key_1.bin, and (fMP4) an init segment per key period.
        let compared = assert_objects_equal(&server.base, &base, &out, &version, format);
        let want = if format == "fmp4" { 10 } else { 8 };
        assert_eq!(compared, want, "{format}: objects compared");
        assert!(out.join("key_1.bin").exists(), "{format}: two key periods");
        let master = get(&server.base, &format!("{base}master.m3u8")).text();
        assert!(
            master.contains("#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"key_1.bin\""),
            "{format}: {master}"
        );
        // Keys the master does not list are not served.
        assert_eq!(get(&server.base, &format!("{base}key_2.bin")).status, 404);
    }
    // A clear origin gives the same URL another ETag (other bytes).
    let clear = serve(&dir.join("root"), &["--jit-segment-duration", "4"]);
    let etag = |base: &str| {
        get(base, "/v/clip.mp4/master.m3u8")
            .header("etag")
            .map(str::to_owned)
    };
    assert_ne!(etag(&server.base), etag(&clear.base));
}

#[test]
fn jit_encrypted_plays_in_shaka_and_hlsjs() {
    let (dir, _) = root("jit_encrypted_plays");
    let server = serve(&dir.join("root"), &SERVE_ARGS);
    // cbcs: Shaka fetches each period's identity key from EXT-X-KEY and gives it to
    // Chromium's ClearKey CDM; it plays across the key change at 8 s.
    let url = format!("{}/v/clip.mp4/master.m3u8", server.base);
    let report = drm_harness(&["--url", &url, "--seconds", "10"]);
    assert_eq!(report["ok"], true, "Shaka, cbcs: {report}");
    // SAMPLE-AES in MPEG-TS: hls.js decrypts with the keys it fetches.
    let url = format!("{}/v/clip.mp4/ts/master.m3u8", server.base);
    let report = play(&url, "hlsjs", 10, &[]);
    assert_eq!(report["ok"], true, "hls.js, SAMPLE-AES: {report}");
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
            &["--jit-encrypt", "aes-128", "--jit-key-secret", SECRET][..],
            "cbcs",
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
