// SPDX-License-Identifier: MIT OR Apache-2.0
//! `--encrypt cbcs` beyond H.264/AAC: VP9 (VP codec ISOBMFF binding, "Common Encryption": each
//! frame's uncompressed header and the superframe index clear) and Opus (whole samples, as
//! audio under cbcs). ffmpeg's CENC decryptor must give frame for frame the clear packaging's
//! output; Shaka Player plays it in Chromium with ClearKey EME. AV1 is refused with the reason.

use std::path::PathBuf;
use std::process::Command;

use crate::common::server::{drm_harness, serve};
use crate::common::{bin, fixtures, out_dir, package, probe, run, work_dir};

use super::cbcs::{decoded_playlist, kid};

const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const ARGS: &[&str] = &["--format", "fmp4", "--segment-duration", "2", "--quiet"];

/// `input` packaged clear into `out/{name}-clear` and with cbcs into `out/{name}`.
fn clear_and_cbcs(input: &std::path::Path, name: &str) -> (PathBuf, PathBuf) {
    let clear = out_dir(&format!("{name}-clear"));
    package(input, &clear, ARGS);
    let enc = out_dir(name);
    let mut args = ARGS.to_vec();
    args.extend_from_slice(&["--encrypt", "cbcs", "--key", KEY]);
    package(input, &enc, &args);
    (clear, enc)
}

#[test]
fn cbcs_vp9_and_opus_decrypt_to_the_clear_frames() {
    let input = fixtures::by_name("vp9_opus.mp4");
    let (clear, enc) = clear_and_cbcs(&input, "cbcs-vp9");

    // The protected sample entries keep their codecs behind encv/enca: frma names vp09, Opus.
    let text = std::fs::read(enc.join("stream.m3u8")).unwrap();
    let pl = m3u8_rs::parse_media_playlist_res(&text).unwrap();
    let map = &pl.segments[0].map.as_ref().unwrap().uri;
    let init = std::fs::read(enc.join(map)).unwrap();
    let has = |b: &[u8]| init.windows(b.len()).any(|w| w == b);
    for tag in [&b"encv"[..], b"enca", b"frmavp09", b"frmaOpus", b"cbcs"] {
        assert!(
            has(tag),
            "init segment lacks {}",
            String::from_utf8_lossy(tag)
        );
    }
    assert_eq!(
        pl.segments[0].key.as_ref().unwrap().method.to_string(),
        "SAMPLE-AES"
    );

    // ffmpeg decrypts every fragment with the key: the same frames and audio as the clear
    // packaging; without the key they differ.
    let (want, clear_errors) = decoded_playlist(&clear, "stream.m3u8", None);
    assert!(clear_errors.is_empty(), "{clear_errors}");
    let (got, errors) = decoded_playlist(&enc, "stream.m3u8", Some(KEY));
    assert!(errors.is_empty(), "decrypting: {errors}");
    let video = want.iter().filter(|l| l.starts_with("0,")).count() as u64;
    assert_eq!(video, probe::video_frame_and_packet_counts(&input).0);
    assert!(want.iter().any(|l| l.starts_with("1,")), "no audio frames");
    assert_eq!(got.len(), want.len());
    assert!(got == want, "decrypted frames differ from the clear ones");
    let (none, _) = decoded_playlist(&enc, "stream.m3u8", None);
    assert_ne!(none, want);
    let video_of = |v: &[String]| -> Vec<String> {
        v.iter().filter(|l| l.starts_with("0,")).cloned().collect()
    };
    let audio_of = |v: &[String]| -> Vec<String> {
        v.iter().filter(|l| l.starts_with("1,")).cloned().collect()
    };
    let (other, _) = decoded_playlist(
        &enc,
        "stream.m3u8",
        Some("ffffffffffffffffffffffffffffffff"),
    );
    assert_ne!(
        video_of(&other),
        video_of(&want),
        "VP9 frames not encrypted"
    );
    assert_ne!(
        audio_of(&other),
        audio_of(&want),
        "Opus frames not encrypted"
    );
}

/// A 3 s VP9 encoded in two passes with alternate reference frames: libvpx then packs each
/// hidden altref frame with the next shown frame into a superframe (VP9 Annex B).
fn vp9_with_superframes() -> std::path::PathBuf {
    let dir = work_dir().join("media");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("vp9_superframes.mp4");
    if out.exists() {
        return out;
    }
    let log = dir.join("vp9_superframes_pass");
    for pass in ["1", "2"] {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=320x240:rate=30:duration=3")
            .args([
                "-c:v",
                "libvpx-vp9",
                "-b:v",
                "500k",
                "-pass",
                pass,
                "-passlogfile",
            ])
            .arg(&log)
            .args(["-deadline", "good", "-cpu-used", "4", "-auto-alt-ref", "1"])
            .args(["-lag-in-frames", "25", "-g", "30", "-pix_fmt", "yuv420p"]);
        if pass == "1" {
            cmd.args(["-f", "null", "-"]);
        } else {
            cmd.arg(dir.join("vp9_superframes.tmp.mp4"));
        }
        let o = run(&mut cmd);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    std::fs::rename(dir.join("vp9_superframes.tmp.mp4"), &out).unwrap();
    out
}

/// The VP9 samples of `input` as they are stored (encrypted ones too: without a key ffmpeg
/// copies them untouched), through ffmpeg's IVF muxer.
fn ivf_frames(input: &std::path::Path) -> Vec<Vec<u8>> {
    let ivf = input.with_extension("ivf");
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(input)
        .args(["-c", "copy", "-f", "ivf"])
        .arg(&ivf));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = std::fs::read(&ivf).unwrap();
    let (mut pos, mut frames) = (32usize, Vec::new());
    while pos + 12 <= d.len() {
        let size = u32::from_le_bytes(d[pos..pos + 4].try_into().unwrap()) as usize;
        frames.push(d[pos + 12..(pos + 12 + size).min(d.len())].to_vec());
        pos += 12 + size;
    }
    frames
}

/// The frames of VP9 sample `data` as (start, len), and the superframe index's length
/// (VP9 Annex B), parsed here independently of the packager.
fn split_superframe(data: &[u8]) -> (Vec<(usize, usize)>, usize) {
    let marker = *data.last().unwrap();
    if marker & 0xE0 != 0xC0 {
        return (vec![(0, data.len())], 0);
    }
    let (n, bytes) = (
        usize::from(marker & 7) + 1,
        usize::from((marker >> 3) & 3) + 1,
    );
    let index = 2 + n * bytes;
    let sizes = data[data.len() - index + 1..data.len() - 1].chunks(bytes);
    let mut at = 0;
    let frames = sizes
        .map(|c| {
            let len = c.iter().rev().fold(0usize, |a, &b| a << 8 | usize::from(b));
            at += len;
            (at - len, len)
        })
        .collect();
    (frames, index)
}

#[test]
fn cbcs_vp9_superframes_decrypt_to_the_clear_frames() {
    let input = vp9_with_superframes();
    let is_super = |f: &Vec<u8>| f.last().is_some_and(|b| b & 0xE0 == 0xC0);
    assert!(
        ivf_frames(&input).iter().any(is_super),
        "no superframe to test"
    );
    let (clear, enc) = clear_and_cbcs(&input, "cbcs-vp9sf");
    let (want, clear_errors) = decoded_playlist(&clear, "stream.m3u8", None);
    assert!(clear_errors.is_empty(), "{clear_errors}");
    assert_eq!(
        want.len() as u64,
        probe::video_frame_and_packet_counts(&input).0
    );
    let (got, errors) = decoded_playlist(&enc, "stream.m3u8", Some(KEY));
    assert!(errors.is_empty(), "decrypting: {errors}");
    assert!(got == want, "decrypted frames differ from the clear ones");
    let (none, _) = decoded_playlist(&enc, "stream.m3u8", None);
    assert_ne!(none, want);

    // The layout (VP codec ISOBMFF binding, "Common Encryption"): in the stored samples of the
    // first fragment, every frame's uncompressed header (within its first 64 bytes) and every
    // superframe index are as in the clear packaging, and every frame long enough for a
    // protected block differs from it.
    let first = |dir: &std::path::Path| {
        let pl = std::fs::read(dir.join("stream.m3u8")).unwrap();
        let pl = m3u8_rs::parse_media_playlist_res(&pl).unwrap();
        let init = std::fs::read(dir.join(&pl.segments[0].map.as_ref().unwrap().uri)).unwrap();
        let seg = std::fs::read(dir.join(&pl.segments[0].uri)).unwrap();
        let file = dir.join("first-fragment.mp4");
        std::fs::write(&file, [&init[..], super::cbcs::fragments(&seg)[0]].concat()).unwrap();
        ivf_frames(&file)
    };
    let (plain, cipher) = (first(&clear), first(&enc));
    assert_eq!(plain.len(), cipher.len());
    assert!(
        plain.iter().any(is_super),
        "no superframe in the first fragment"
    );
    for (i, (p, c)) in plain.iter().zip(&cipher).enumerate() {
        assert_eq!(p.len(), c.len(), "sample {i}");
        let (frames, index) = split_superframe(p);
        assert_eq!(
            p[p.len() - index..],
            c[c.len() - index..],
            "sample {i}: index"
        );
        for (start, len) in frames {
            let head = start..start + len.min(64);
            assert_eq!(
                p[head.clone()],
                c[head],
                "sample {i}: header of frame at {start}"
            );
            if len >= 80 {
                assert_ne!(
                    p[start..start + len],
                    c[start..start + len],
                    "sample {i}: clear"
                );
            }
        }
    }
}

#[test]
fn cbcs_refuses_av1_with_the_reason() {
    let input = fixtures::by_name("av1_opus.mp4");
    let out = out_dir("cbcs-av1");
    let o = run(Command::new(bin())
        .arg("package")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(ARGS)
        .args(["--encrypt", "cbcs", "--key", KEY]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "AV1 under cbcs must be refused: {stderr}"
    );
    assert!(
        stderr.contains("AV1") && stderr.contains("aes-128"),
        "{stderr}"
    );
    assert!(!out.join("master.m3u8").exists());
}

#[test]
fn shaka_player_plays_cbcs_vp9_opus_with_clearkey_eme() {
    let root = out_dir("cbcs-vp9-shaka");
    let mut args = ARGS.to_vec();
    args.extend_from_slice(&["--encrypt", "cbcs", "--key", KEY]);
    package(
        &fixtures::by_name("vp9_opus.mp4"),
        &root.join("good"),
        &args,
    );
    let kid = kid(&root.join("good"), "stream.m3u8");
    let server = serve(&root, &[]);
    let url = format!("{}/good/master.m3u8", server.base);
    let keys = format!("{kid}:{KEY}");
    let report = drm_harness(&["--url", &url, "--seconds", "3", "--keys", &keys]);
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["frames"].as_u64().unwrap_or(0) > 30, "{report}");
    // With another key for the same key ID the CDM's output does not decode: EME really
    // decrypted above.
    let wrong = format!("{kid}:ffffffffffffffffffffffffffffffff");
    let args = [
        "--url",
        &url,
        "--seconds",
        "3",
        "--keys",
        &wrong,
        "--expect",
        "failure",
    ];
    let report = drm_harness(&args);
    assert_eq!(
        report["ok"], true,
        "with a wrong key it must not play: {report}"
    );
}
