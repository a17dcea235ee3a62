// SPDX-License-Identifier: MIT OR Apache-2.0
//! `package --format fmp4 --encrypt cbcs` (ISO/IEC 23001-7 cbcs, METHOD=SAMPLE-AES): checked with
//! ffmpeg's CENC decryptor (every frame decodes as the clear packaging's), ffprobe (every packet
//! carries encryption info), m3u8-rs (the key tags) and Shaka Player in Chromium through EME and
//! the ClearKey CDM.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::server::{drm_harness, serve};
use crate::common::{fixtures, out_dir, package, probe, run};

const KEY: &str = "000102030405060708090a0b0c0d0e0f";

fn package_cbcs(name: &str, extra: &[&str]) -> PathBuf {
    let out = out_dir(name);
    let mut args = vec!["--format", "fmp4", "--segment-duration", "2", "--quiet"];
    args.extend_from_slice(extra);
    package(&fixtures::playback(), &out, &args);
    out
}

fn media(dir: &Path) -> m3u8_rs::MediaPlaylist {
    media_named(dir, "stream.m3u8")
}

fn media_named(dir: &Path, name: &str) -> m3u8_rs::MediaPlaylist {
    let text = std::fs::read(dir.join(name)).unwrap();
    m3u8_rs::parse_media_playlist_res(&text).unwrap()
}

/// Each segment's movie fragments (`moof` + `mdat`), cut at top-level boxes.
pub(super) fn fragments(segment: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut pos, mut start) = (0usize, None);
    while pos + 8 <= segment.len() {
        let size = u32::from_be_bytes(segment[pos..pos + 4].try_into().unwrap()) as usize;
        match &segment[pos + 4..pos + 8] {
            b"moof" => start = Some(pos),
            b"mdat" => out.push(&segment[start.take().unwrap()..pos + size]),
            _ => {}
        }
        pos += size.max(8);
    }
    out
}

/// ffmpeg's frame MD5s of every fragment of the rendition in `dir`, each fragment decoded on its
/// own behind the init segment (each starts with a keyframe). ffmpeg 5.1's mov demuxer loses
/// the CENC sample index across several fragments in one file without `sidx` (Shaka Packager's
/// output fails the same way), hence one file per fragment. Returns (md5s, stderr).
fn decoded(dir: &Path, key: Option<&str>) -> (Vec<String>, String) {
    decoded_playlist(dir, "stream.m3u8", key)
}

/// [`decoded`] for the media playlist `name` in `dir`.
pub(super) fn decoded_playlist(dir: &Path, name: &str, key: Option<&str>) -> (Vec<String>, String) {
    let pl = media_named(dir, name);
    let init = std::fs::read(dir.join(&pl.segments[0].map.as_ref().unwrap().uri)).unwrap();
    let file = dir.join(format!("probe-{name}.mp4"));
    let (mut md5s, mut errors) = (Vec::new(), String::new());
    for seg in &pl.segments {
        let bytes = std::fs::read(dir.join(&seg.uri)).unwrap();
        for frag in fragments(&bytes) {
            std::fs::write(&file, [&init[..], frag].concat()).unwrap();
            let mut cmd = Command::new("ffmpeg");
            cmd.args(["-v", "error"]);
            if let Some(k) = key {
                cmd.args(["-decryption_key", k]);
            }
            let out = run(cmd.arg("-i").arg(&file).args(["-f", "framemd5", "-"]));
            errors.push_str(&String::from_utf8_lossy(&out.stderr));
            md5s.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
    }
    (md5s, errors)
}

/// The 16-byte key ID the init segment's `tenc` announces, in hex.
pub(super) fn kid(dir: &Path, playlist: &str) -> String {
    let pl = media_named(dir, playlist);
    let init = std::fs::read(dir.join(&pl.segments[0].map.as_ref().unwrap().uri)).unwrap();
    let at = init.windows(4).position(|w| w == b"tenc").expect("tenc");
    // tenc: fullbox header (4), reserved, pattern, isProtected, IV size, then the KID.
    init[at + 12..at + 28]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn cbcs_decrypts_with_ffmpeg_to_the_clear_frames() {
    let clear = package_cbcs("cbcs-clear", &[]);
    let enc = package_cbcs("cbcs", &["--encrypt", "cbcs", "--key", KEY]);

    // RFC 8216bis 4.4.4.4: SAMPLE-AES with KEYFORMAT identity, after EXT-X-MAP (the init
    // segment stays clear).
    let text = std::fs::read_to_string(enc.join("stream.m3u8")).unwrap();
    let (map, key) = (
        text.find("#EXT-X-MAP").unwrap(),
        text.find("#EXT-X-KEY").unwrap(),
    );
    assert!(map < key, "{text}");
    let pl = media(&enc);
    let k = pl.segments[0].key.as_ref().unwrap();
    assert_eq!(format!("{}", k.method), "SAMPLE-AES");
    assert_eq!(k.keyformat.as_deref(), Some("identity"));
    assert_eq!(k.uri.as_deref(), Some("key_0.bin"));
    assert!(pl.segments.len() >= 5);
    // RFC 8216bis 4.4.6.5: the master preloads the same key (m3u8-rs reads it back).
    let master = std::fs::read(enc.join("master.m3u8")).unwrap();
    let master = m3u8_rs::parse_master_playlist_res(&master).unwrap();
    assert_eq!(master.session_key.len(), 1);
    assert_eq!(&master.session_key[0].0, k);

    // ffprobe: the streams keep their codecs (avc1/mp4a behind encv/enca), every packet of the
    // first segment carries ffmpeg's "Encryption info".
    let init = pl.segments[0].map.as_ref().unwrap().uri.clone();
    let first = [
        std::fs::read(enc.join(&init)).unwrap(),
        std::fs::read(enc.join(&pl.segments[0].uri)).unwrap(),
    ]
    .concat();
    let file = enc.join("first.mp4");
    std::fs::write(&file, &first).unwrap();
    let names: Vec<String> = probe::streams(&file)
        .iter()
        .map(|s| s.codec.clone())
        .collect();
    assert_eq!(names, ["h264", "aac"]);
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-show_packets", "-of", "json"])
        .arg(&file));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packets = json["packets"].as_array().unwrap();
    assert!(packets.len() > 50);
    for p in packets {
        let tagged = p["side_data_list"]
            .as_array()
            .is_some_and(|l| l.iter().any(|s| s["side_data_type"] == "Encryption info"));
        assert!(tagged, "packet without encryption info: {p}");
    }

    // ffmpeg decrypts every fragment with the key: frame for frame the clear output.
    let (want, clear_errors) = decoded(&clear, None);
    assert!(clear_errors.is_empty(), "{clear_errors}");
    let (got, errors) = decoded(&enc, Some(KEY));
    assert!(errors.is_empty(), "decrypting: {errors}");
    let video = want.iter().filter(|l| l.starts_with("0,")).count() as u64;
    assert_eq!(
        video,
        probe::video_frame_and_packet_counts(&fixtures::playback()).0
    );
    assert_eq!(got.len(), want.len());
    assert!(got == want, "decrypted frames differ from the clear ones");

    // Without the key (or with another) the frames are not the clear ones.
    let (other, _) = decoded(&enc, Some("ffffffffffffffffffffffffffffffff"));
    assert_ne!(other, want);
    let (none, _) = decoded(&enc, None);
    assert_ne!(none, want);
}

#[test]
fn shaka_player_plays_cbcs_with_clearkey_eme() {
    let root = out_dir("cbcs-shaka");
    std::fs::create_dir_all(&root).unwrap();
    let args = |key_uri: &'static str| {
        [
            "--format",
            "fmp4",
            "--segment-duration",
            "2",
            "--quiet",
            "--encrypt",
            "cbcs",
            "--key",
            KEY,
            "--key-uri",
            key_uri,
        ]
    };
    let input = fixtures::playback();
    // Shaka fetches the identity key from EXT-X-KEY's URI and gives it to Chromium's ClearKey
    // CDM (EME): `good` names the right key, `wrong` a file holding another one.
    package(&input, &root.join("good"), &args("key_0.bin"));
    std::fs::write(root.join("good/key_0.bin"), hex16(KEY)).unwrap();
    package(&input, &root.join("wrong"), &args("other.bin"));
    std::fs::write(root.join("wrong/other.bin"), [0x5Au8; 16]).unwrap();
    let kid = kid(&root.join("good"), "stream.m3u8");
    let server = serve(&root, &[]);
    let url = |name: &str| format!("{}/{name}/master.m3u8", server.base);
    let keys = format!("{kid}:{KEY}");
    let good = url("good");
    for extra in [&[][..], &["--keys", &keys][..]] {
        let mut a = vec!["--url", &good, "--seconds", "5"];
        a.extend_from_slice(extra);
        let report = drm_harness(&a);
        assert_eq!(report["ok"], true, "with the key {extra:?}: {report}");
        assert!(report["frames"].as_u64().unwrap_or(0) > 50, "{report}");
    }
    let wrong = url("wrong");
    let args = ["--url", &wrong, "--seconds", "3", "--expect", "failure"];
    let report = drm_harness(&args);
    assert_eq!(
        report["ok"], true,
        "with a wrong key it must not play: {report}"
    );
}

fn hex16(s: &str) -> Vec<u8> {
    (0..16)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}
