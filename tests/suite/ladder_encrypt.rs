// SPDX-License-Identifier: MIT OR Apache-2.0
//! An encrypted ladder (issue 11): two video variants + a second audio language, packaged with
//! `--encrypt aes-128` and `sample-aes` (TS) and `cbcs` (fMP4). Every rendition — audio too — is
//! encrypted with the same key, the master lists it once in EXT-X-SESSION-KEY; ffmpeg decrypts
//! every media playlist, hls.js (AES-128, SAMPLE-AES) and Shaka Player with EME ClearKey (cbcs)
//! play the master.

use std::path::Path;
use std::process::Command;

use m3u8_rs::MasterPlaylist;

use super::cbcs::{decoded_playlist, kid};
use super::ladder::{french, master, package_ladder, rendition};
use crate::common::server::{drm_harness, play, serve};
use crate::common::{out_dir, run};

const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Media playlists of the master: variants, their I-frame playlists and audio renditions.
fn playlists(m: &MasterPlaylist) -> Vec<String> {
    let mut uris: Vec<String> = m.variants.iter().map(|v| v.uri.clone()).collect();
    uris.extend(m.alternatives.iter().filter_map(|a| a.uri.clone()));
    uris.sort();
    uris.dedup();
    uris
}

/// Every media playlist carries METHOD `method` with the one key URI, and the master the same
/// key as its only EXT-X-SESSION-KEY.
fn check_keys(dir: &Path, method: &str) -> Vec<String> {
    let m = master(dir);
    assert_eq!(m.session_key.len(), 1, "{method}: {:?}", m.session_key);
    let session = &m.session_key[0].0;
    assert_eq!(format!("{}", session.method), method);
    let uris = playlists(&m);
    assert_eq!(uris.len(), 6, "{uris:?}: 2 variants + 2 I-frame + 2 audio");
    for uri in &uris {
        let text = std::fs::read(dir.join(uri)).unwrap();
        let pl = m3u8_rs::parse_media_playlist_res(&text).unwrap();
        let key = pl.segments[0]
            .key
            .as_ref()
            .unwrap_or_else(|| panic!("{uri}: no key"));
        assert_eq!(key, session, "{uri}");
        assert!(pl.segments.iter().skip(1).all(|s| s.key.is_none()), "{uri}");
    }
    assert!(dir.join("key_0.bin").exists());
    uris
}

/// ffmpeg decoding a media playlist through its HLS demuxer (keys allowed): the MD5 of each of
/// the first stream's frames, and what ffmpeg reported.
fn hls_frames(playlist: &Path) -> (Vec<String>, String) {
    let out = run(Command::new("ffmpeg")
        .args(["-v", "error", "-allowed_extensions", "ALL", "-i"])
        .arg(playlist)
        .args(["-map", "0:0", "-f", "framemd5", "-"]));
    let frames = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|m| m.trim().to_owned()))
        .collect();
    (frames, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn encrypted_ladders_decrypt_and_play() {
    let root = out_dir("ladder-encrypt");
    std::fs::create_dir_all(&root).unwrap();
    let inputs = [rendition("1280x720", "1500k"), rendition("640x360", "400k")];
    let fr = french();
    let audio = format!("{},lang=fr", fr.display());
    let clear = root.join("clear");
    package_ladder(
        &inputs,
        &clear,
        &["--audio", &audio, "--format", "ts", "--quiet"],
    );
    let cases = [
        ("aes-128", "ts", "AES-128"),
        ("sample-aes", "ts", "SAMPLE-AES"),
        ("cbcs", "fmp4", "SAMPLE-AES"),
    ];
    for (method, format, tag) in cases {
        let out = root.join(method);
        let args = [
            "--audio",
            &audio,
            "--format",
            format,
            "--encrypt",
            method,
            "--key",
            KEY,
            "--quiet",
        ];
        package_ladder(&inputs, &out, &args);
        let uris = check_keys(&out, tag);
        for uri in uris.iter().filter(|u| !u.contains("iframes")) {
            let video = uri.starts_with("video");
            if method == "cbcs" {
                // ffmpeg's CENC decryptor, fragment by fragment (see suite::cbcs).
                let (frames, errors) = decoded_playlist(&out, uri, Some(KEY));
                assert!(errors.is_empty(), "{method} {uri}: {errors}");
                if video {
                    let n = frames.iter().filter(|l| l.starts_with("0,")).count();
                    assert_eq!(n, 300, "{method} {uri}: 12 s at 25 fps");
                } else {
                    assert!(
                        frames.len() > 500,
                        "{method} {uri}: {} frames",
                        frames.len()
                    );
                }
                let (clear_view, _) = decoded_playlist(&out, uri, None);
                assert_ne!(
                    clear_view, frames,
                    "{method} {uri}: decodes without the key"
                );
            } else {
                // ffmpeg's HLS demuxer fetches key_0.bin and decrypts.
                let (frames, errors) = hls_frames(&out.join(uri));
                if video {
                    assert_eq!(frames.len(), 300, "{method} {uri}: 12 s at 25 fps");
                } else {
                    assert!(
                        frames.len() > 500,
                        "{method} {uri}: {} frames",
                        frames.len()
                    );
                }
                if method == "sample-aes" && video {
                    // ffmpeg's TS demuxer emits the last video frames after the playlist ended,
                    // when no key applies any more (see suite::encrypt): those may differ.
                    let (want, _) = hls_frames(&clear.join(uri));
                    let differ: Vec<usize> = (0..300).filter(|&i| frames[i] != want[i]).collect();
                    assert!(differ.iter().all(|&i| i + 4 >= 300), "{uri}: {differ:?}");
                } else {
                    assert!(errors.is_empty(), "{method} {uri}: {errors}");
                }
            }
        }
    }
    let server = serve(&root, &[]);
    let mut failures = Vec::new();
    for method in ["aes-128", "sample-aes"] {
        let report = play(
            &format!("{}/{method}/master.m3u8", server.base),
            "hlsjs",
            5,
            &[],
        );
        if report["ok"] != true {
            failures.push(format!("hls.js {method}: {report}"));
        }
    }
    let kid = kid(&root.join("cbcs"), "video_0.m3u8");
    let keys = format!("{kid}:{KEY}");
    let url = format!("{}/cbcs/master.m3u8", server.base);
    let report = drm_harness(&["--url", &url, "--keys", &keys, "--seconds", "5"]);
    if report["ok"] != true {
        failures.push(format!("Shaka cbcs: {report}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
