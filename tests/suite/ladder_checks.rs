// SPDX-License-Identifier: MIT OR Apache-2.0
//! Issue 11 requirements the other ladder tests did not prove: inputs of different durations
//! are reported with the figures (and still packaged, each variant video-only beside its audio
//! group), and SAMPLE-AES covers AC-3 (Apple's MPEG-2 Stream Encryption Format 2.2.3, 2.3) —
//! checked with ffmpeg and ffprobe, never our own demuxer.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::ladder::{package_ladder, rendition};
use crate::common::{out_dir, probe, run, work_dir};

const KEY: &str = "00112233445566778899aabbccddeeff";

/// `ffmpeg -c copy` of `src`'s first `secs` seconds (cut on a keyframe: GOP 2 s).
fn cut(src: &Path, secs: u32, name: &str) -> PathBuf {
    let out = work_dir().join("media").join(name);
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(src)
        .args(["-t", &secs.to_string(), "-c", "copy"])
        .arg(&out));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// 12 s of stereo AC-3, audio only (an `--audio` file).
fn ac3_audio() -> PathBuf {
    let out = work_dir().join("media").join("checks_ac3.mp4");
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("sine=frequency=660:sample_rate=48000:duration=12")
        .args(["-c:a", "ac3", "-b:a", "192k", "-ac", "2"])
        .arg(&out));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// A 12 s and an 8 s input: a warning naming both files and both durations; both variants
/// are packaged, decode, and hold video only (the audio is its own group).
#[test]
fn inputs_of_different_durations_are_warned_with_the_figures() {
    let long = rendition("640x360", "400k");
    let short = cut(&long, 8, "checks_8s.mp4");
    let out = out_dir("checks-durations");
    let o = package_ladder(&[long.clone(), short.clone()], &out, &["--format", "ts"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("checks_8s.mp4: lasts"))
        .unwrap_or_else(|| panic!("no duration warning: {stderr}"));
    assert!(
        line.contains("lasts 8.000 s")
            && line.contains(&format!("{} lasts 12.000 s", long.display())),
        "{line}"
    );
    for (uri, secs) in [("video_0.m3u8", 12.0), ("video_1.m3u8", 8.0)] {
        let path = out.join(uri);
        let errors = probe::decode_errors(&path);
        assert!(errors.is_empty(), "{uri}: {errors}");
        let d = probe::media_duration(&path);
        assert!((d - secs).abs() < 0.5, "{uri}: lasts {d} s, want {secs}");
        let kinds: Vec<String> = probe::streams(&path).into_iter().map(|s| s.kind).collect();
        assert_eq!(kinds, ["video"], "{uri}: video-only beside the audio group");
    }
    let kinds: Vec<String> = probe::streams(&out.join("audio_0.m3u8"))
        .into_iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(kinds, ["audio"]);
    // A ladder whose inputs last the same: no such warning.
    let out = out_dir("checks-durations-same");
    let o = package_ladder(&[long.clone(), long], &out, &["--format", "ts"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains(" lasts "), "{stderr}");
}

fn durations(dir: &Path, uri: &str) -> Vec<f32> {
    super::ladder::media_playlist(&dir.join(uri))
        .segments
        .iter()
        .map(|s| s.duration)
        .collect()
}

/// Peak bits/s over the segments of a media playlist (sizes on disk, m3u8-rs's EXTINF).
fn peak_rate(dir: &Path, uri: &str) -> f64 {
    super::ladder::media_playlist(&dir.join(uri))
        .segments
        .iter()
        .map(|s| {
            let bytes = std::fs::metadata(dir.join(&s.uri)).expect("segment").len();
            bytes as f64 * 8.0 / f64::from(s.duration)
        })
        .fold(0.0, f64::max)
}

/// Apple 8.15 / RFC 8216bis 4.4.6.2: with one audio group per codec, each listing of a variant
/// counts the largest rendition of *its* group (AAC and AC-3 differ).
fn check_bandwidth_per_group(out: &Path) {
    let m = super::ladder::master(out);
    let variants: Vec<_> = m.variants.iter().filter(|v| !v.is_i_frame).collect();
    assert_eq!(variants.len(), 2);
    for v in variants {
        let group = v.audio.as_deref().expect("AUDIO");
        let audio_peak = m
            .alternatives
            .iter()
            .filter(|a| a.group_id == group)
            .map(|a| peak_rate(out, a.uri.as_deref().expect("URI")))
            .fold(0.0, f64::max);
        let want = peak_rate(out, &v.uri) + audio_peak;
        let got = v.bandwidth as f64;
        assert!(
            got >= want * 0.999 && got <= want * 1.01,
            "{group}: BANDWIDTH {got}, video + the group's largest audio {want}"
        );
    }
}

/// `ffmpeg -f framemd5` of the audio of `playlist` (decrypting through the HLS demuxer):
/// (checksums, decoder messages).
fn audio_md5s(playlist: &Path) -> (Vec<String>, String) {
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-allowed_extensions", "ALL", "-i"])
        .arg(playlist)
        .args(["-map", "0:a", "-f", "framemd5", "-"]));
    let sums = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|m| m.trim().to_owned()))
        .collect();
    (sums, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// SAMPLE-AES with an AC-3 rendition: the PMT signals it (stream type 0xC1, `ac3d`, the `zac3`
/// audio setup), ffmpeg decrypts it to the clear output's frames, and a raw segment does not
/// decode cleanly without the key.
#[test]
fn sample_aes_ac3_decodes_as_the_clear_audio() {
    let video = [rendition("640x360", "400k")];
    let audio = format!("{},lang=de", ac3_audio().display());
    let root = out_dir("checks-sample-aes-ac3");
    let (clear, enc) = (root.join("clear"), root.join("enc"));
    let o = package_ladder(&video, &clear, &["--format", "ts", "--audio", &audio]);
    // ffmpeg's AC-3 sample entry carries a `btrt` box (ISO/IEC 14496-12 8.5.2.2): normal,
    // nothing to warn about.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("WARN"), "{stderr}");
    check_bandwidth_per_group(&clear);
    // The audio starts 21-32 ms before the video (AAC priming, AC-3's edit list): those frames
    // open the first segment, not a segment of their own; the cuts are the video's.
    let video_cuts = durations(&clear, "video_0.m3u8");
    for uri in ["audio_0.m3u8", "audio_1.m3u8"] {
        let audio = durations(&clear, uri);
        assert_eq!(
            audio.len(),
            video_cuts.len(),
            "{uri}: {audio:?} vs video {video_cuts:?}"
        );
        assert!(audio.iter().all(|d| *d > 1.0), "{uri}: {audio:?}");
    }
    let args = [
        "--format",
        "ts",
        "--audio",
        &audio,
        "--encrypt",
        "sample-aes",
        "--key",
        KEY,
    ];
    package_ladder(&video, &enc, &args);
    // audio_0 is the inputs' AAC, audio_1 the AC-3 file (see suite::ladder::one_group_per_audio_codec).
    let pl = super::ladder::media_playlist(&enc.join("audio_1.m3u8"));
    let key = pl.segments[0].key.as_ref().expect("EXT-X-KEY");
    assert_eq!(format!("{}", key.method), "SAMPLE-AES");
    let seg0 = std::fs::read(enc.join(&pl.segments[0].uri)).expect("segment");
    let pmt = &seg0[188..376];
    assert!(pmt.windows(4).any(|w| w == b"ac3d"), "PMT lacks ac3d");
    assert!(pmt.windows(4).any(|w| w == b"apad"), "PMT lacks apad");
    assert!(pmt.windows(4).any(|w| w == b"zac3"), "PMT lacks zac3");
    assert!(
        pmt.windows(2).any(|w| w == [0xC1, 0xE1]),
        "AC-3 SAMPLE-AES stream type 0xC1 on PID 0x1xx"
    );
    let (got, errors) = audio_md5s(&enc.join("audio_1.m3u8"));
    let (want, _) = audio_md5s(&clear.join("audio_1.m3u8"));
    assert_eq!(got.len(), want.len(), "{errors}");
    assert!(got.len() > 300, "{} AC-3 frames", got.len());
    // ffmpeg's TS demuxer emits the playlist's last PES after the playlist has ended, when no
    // key applies to it any more (as for video in suite::encrypt): only that frame may differ.
    // (The same frame decrypts right when a later segment follows it.)
    let differ: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    assert!(
        differ.iter().all(|&i| i + 1 == got.len()),
        "frames decoded differently: {differ:?} of {}: {errors}",
        got.len()
    );
    let raw = enc.join(&pl.segments[1].uri);
    assert!(
        !probe::decode_errors(&raw).is_empty(),
        "a SAMPLE-AES AC-3 segment decodes without its key"
    );
}
