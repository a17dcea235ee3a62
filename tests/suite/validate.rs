// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin validate` (issue 14) through the real binary: our own VOD outputs and ffmpeg's
//! `-f hls` output validate clean, from a directory and over HTTP; deliberately broken copies
//! (a segment deleted, replaced by random bytes, truncated; TARGETDURATION too small; CODECS
//! naming the wrong codec; timestamps going back without DISCONTINUITY) each produce the
//! specific finding (level + section) and exit status 1.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::fixtures;
use crate::common::server::serve;
use crate::common::{bin, out_dir, package, run};

/// What one run of `hlsorigin validate --json` said.
pub struct Outcome {
    pub code: Option<i32>,
    pub findings: Vec<serde_json::Value>,
    /// Playlists read and segments fetched, as the report counts them.
    pub playlists: u64,
    pub segments: u64,
    pub text: String,
}

impl Outcome {
    /// Whether a finding of `level` ("MUST"/"SHOULD") cites `section`.
    pub fn has(&self, level: &str, section: &str) -> bool {
        self.findings
            .iter()
            .any(|f| f["level"] == level && f["section"] == section)
    }

    pub fn musts(&self) -> Vec<&serde_json::Value> {
        self.findings
            .iter()
            .filter(|f| f["level"] == "MUST")
            .collect()
    }
}

/// Runs `hlsorigin validate TARGET --json ARGS…`.
pub fn validate(target: &str, args: &[&str]) -> Outcome {
    let o = run(Command::new(bin())
        .args(["validate", target, "--json"])
        .args(args)
        .env("RUST_LOG", "error"));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let report: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "validate {target} printed no JSON report ({e}): {text}\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    Outcome {
        code: o.status.code(),
        findings,
        playlists: report["playlists"].as_u64().unwrap_or(0),
        segments: report["segments"].as_u64().unwrap_or(0),
        text,
    }
}

fn assert_clean(what: &str, o: &Outcome) {
    assert!(
        o.musts().is_empty() && o.code == Some(0),
        "{what}: expected no MUST finding and exit 0, got exit {:?}: {:#?}",
        o.code,
        o.musts()
    );
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Every fixture, packaged as fMP4 and (where the codecs allow) TS, validates clean; so do
/// single-file outputs.
#[test]
fn own_vod_outputs_validate_clean() {
    let mut failed = Vec::new();
    for fx in fixtures::valid() {
        let input = fixtures::path(&fx);
        let mut runs = vec![("fmp4", vec!["--format", "fmp4"])];
        if fx.ts_ok {
            runs.push(("ts", vec!["--format", "ts"]));
        }
        if fx.name == "h264_aac.mp4" {
            runs.push(("fmp4_single", vec!["--format", "fmp4", "--single-file"]));
            runs.push(("ts_single", vec!["--format", "ts", "--single-file"]));
        }
        for (tag, args) in runs {
            let out = out_dir(&format!("validate_clean_{}_{tag}", fx.name));
            let mut a = vec!["--quiet", "--segment-duration", "2"];
            a.extend(args);
            package(&input, &out, &a);
            let o = validate(path_str(&out), &[]);
            if o.code != Some(0) || !o.findings.is_empty() {
                failed.push(format!(
                    "{} {tag}: exit {:?}, {:#?}",
                    fx.name, o.code, o.findings
                ));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "outputs with findings:\n{}",
        failed.join("\n")
    );
}

/// ffmpeg's own HLS muxer (an independent producer): `input` stream-copied into
/// `out/index.m3u8`, 2 s VOD segments, with `extra` muxer options.
fn ffmpeg_hls(input: &std::path::Path, out: &std::path::Path, extra: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(input)
        .args(["-c", "copy", "-f", "hls", "-hls_time", "2"])
        .args(["-hls_playlist_type", "vod"])
        .args(extra)
        .arg(out.join("index.m3u8"))
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg -f hls {extra:?}");
}

/// An independent producer: ffmpeg's own HLS muxer, TS and fMP4.
#[test]
fn ffmpeg_hls_output_validates_clean() {
    let input = fixtures::by_name("h264_aac.mp4");
    for (tag, extra) in [("ts", vec![]), ("fmp4", vec!["-hls_segment_type", "fmp4"])] {
        let out = out_dir(&format!("validate_ffmpeg_{tag}"));
        std::fs::create_dir_all(&out).expect("out dir");
        ffmpeg_hls(&input, &out, &extra);
        let o = validate(path_str(&out), &[]);
        assert_clean(&format!("ffmpeg -f hls {tag}"), &o);
        assert!(o.segments >= 3, "every segment read: {}", o.text);
    }
}

/// AES-128 (RFC 8216bis 4.4.4.4) from ffmpeg: decrypted and validated clean with the right
/// key; a wrong key fails the decryption, a 15-byte key file breaks RFC 8216bis 5.1.
#[test]
fn aes_128_segments_are_decrypted_and_checked() {
    let out = out_dir("validate_aes128");
    std::fs::create_dir_all(&out).expect("out dir");
    let key = out.join("k.key");
    std::fs::write(&key, [0x11u8; 16]).expect("key");
    let info = out.join("keyinfo");
    std::fs::write(&info, format!("k.key\n{}\n", key.display())).expect("key info");
    let info_arg = info.to_str().expect("UTF-8 path");
    ffmpeg_hls(
        &fixtures::by_name("h264_aac.mp4"),
        &out,
        &["-hls_key_info_file", info_arg],
    );
    std::fs::remove_file(&info).expect("remove key info");
    let text = std::fs::read_to_string(out.join("index.m3u8")).expect("playlist");
    assert!(text.contains("METHOD=AES-128"), "{text}");
    let o = validate(path_str(&out), &[]);
    assert_clean("AES-128 with its key", &o);
    assert!(
        o.segments == 3,
        "every segment decrypted and demuxed: {}",
        o.text
    );
    for (bytes, section) in [
        (vec![0x22u8; 16], "RFC 8216bis 4.4.4.4"),
        (vec![0x11u8; 15], "RFC 8216bis 5.1"),
    ] {
        std::fs::write(&key, bytes).expect("key");
        let o = validate(path_str(&out), &[]);
        assert!(
            o.has("MUST", section) && o.code == Some(1),
            "{section}: {:#?}",
            o.findings
        );
    }
}

/// A packaged copy of the 5 s H.264 + AAC fixture in `format`, to break.
fn packaged(tag: &str, format: &str) -> PathBuf {
    let out = out_dir(&format!("validate_broken_{tag}"));
    package(
        &fixtures::by_name("h264_aac.mp4"),
        &out,
        &["--quiet", "--format", format, "--segment-duration", "2"],
    );
    out
}

/// The second media segment of a packaged output, and its name.
fn second_segment(dir: &Path) -> (PathBuf, String) {
    let text = std::fs::read_to_string(dir.join("stream.m3u8")).expect("stream.m3u8");
    let pl = m3u8_rs::parse_media_playlist_res(text.as_bytes()).expect("media playlist");
    let name = pl.segments[1].uri.clone();
    (dir.join(&name), name)
}

/// Cuts the second media segment to `keep(length)` bytes.
fn truncate_second_segment(dir: &Path, keep: fn(u64) -> u64) {
    let (p, _) = second_segment(dir);
    let len = std::fs::metadata(&p).expect("segment").len();
    std::fs::File::options()
        .write(true)
        .open(&p)
        .and_then(|f| f.set_len(keep(len)))
        .expect("truncate");
}

fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).expect("read playlist");
    let new = f(text.clone());
    assert_ne!(new, text, "the edit of {} changed nothing", path.display());
    std::fs::write(path, new).expect("write playlist");
}

/// Each deliberate breakage produces its own finding and exit status 1.
#[test]
fn broken_streams_produce_their_findings() {
    type Break = fn(&Path);
    let cases: Vec<(&str, &str, Break, &str, &str)> = vec![
        (
            "missing_segment",
            "fmp4",
            |d| {
                std::fs::remove_file(second_segment(d).0).expect("delete segment");
            },
            "MUST",
            "RFC 8216bis 6.2.1",
        ),
        (
            "random_bytes_ts",
            "ts",
            |d| {
                let (p, _) = second_segment(d);
                let len = std::fs::metadata(&p).expect("segment").len() as usize;
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
                let noise: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x >> 24) as u8 | 1
                    })
                    .collect();
                std::fs::write(&p, noise).expect("write noise");
            },
            "MUST",
            "RFC 8216bis 3.1",
        ),
        (
            "truncated_ts",
            "ts",
            |d| truncate_second_segment(d, |len| len / 2 + 1),
            "MUST",
            "RFC 8216bis 3.1.1",
        ),
        (
            "truncated_fmp4",
            "fmp4",
            |d| truncate_second_segment(d, |len| len / 2),
            "MUST",
            "RFC 8216bis 3.1.2",
        ),
        (
            "target_too_small",
            "ts",
            |d| {
                edit(&d.join("stream.m3u8"), |t| {
                    t.replace("#EXT-X-TARGETDURATION:2", "#EXT-X-TARGETDURATION:1")
                });
            },
            "MUST",
            "RFC 8216bis 4.4.3.1",
        ),
        (
            "wrong_codecs",
            "fmp4",
            |d| {
                edit(&d.join("master.m3u8"), |t| {
                    t.replacen("avc1.", "hvc1.1.6.L93.90,x.", 1)
                        .replace(",x.64000d", "")
                });
            },
            "MUST",
            "RFC 8216bis 4.4.6.2",
        ),
        (
            "iframe_range_off_keyframe",
            "ts",
            |d| {
                // The first mid-segment I-frame's range moved 40 packets into a GOP.
                edit(&d.join("stream_iframes.m3u8"), |t| {
                    let mut moved = false;
                    t.lines()
                        .map(|l| {
                            let range = l
                                .strip_prefix("#EXT-X-BYTERANGE:")
                                .and_then(|r| r.split_once('@'));
                            match range {
                                Some((len, off)) if off != "0" && !moved => {
                                    moved = true;
                                    format!("#EXT-X-BYTERANGE:{len}@{}\n", 188 * 40)
                                }
                                _ => format!("{l}\n"),
                            }
                        })
                        .collect()
                });
            },
            "MUST",
            "RFC 8216bis 4.4.3.6",
        ),
        (
            "timestamps_back",
            "ts",
            |d| {
                // The first segment listed again at the end: its timestamps go back 4 s.
                let (_, second) = second_segment(d);
                let first = second.replace("_00002.", "_00001.");
                edit(&d.join("stream.m3u8"), |t| {
                    t.replace(
                        "#EXT-X-ENDLIST",
                        &format!("#EXTINF:2.000,\n{first}\n#EXT-X-ENDLIST"),
                    )
                });
            },
            "MUST",
            "RFC 8216bis 4.4.4.3",
        ),
    ];
    for (tag, format, breakage, level, section) in cases {
        let dir = packaged(tag, format);
        let before = validate(path_str(&dir), &[]);
        assert_clean(&format!("{tag} before the breakage"), &before);
        breakage(&dir);
        let o = validate(path_str(&dir), &[]);
        assert!(
            o.has(level, section) && o.code == Some(1),
            "{tag}: expected a {level} finding of {section} and exit 1, got exit {:?}: {:#?}",
            o.code,
            o.findings
        );
    }
}

/// A timestamp jump that a DISCONTINUITY announces is no finding of 4.4.4.3.
#[test]
fn announced_discontinuity_is_accepted() {
    let dir = packaged("announced_discontinuity", "ts");
    let (_, second) = second_segment(&dir);
    let first = second.replace("_00002.", "_00001.");
    edit(&dir.join("stream.m3u8"), |t| {
        t.replace(
            "#EXT-X-ENDLIST",
            &format!("#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n{first}\n#EXT-X-ENDLIST"),
        )
    });
    let o = validate(path_str(&dir), &[]);
    assert!(!o.has("MUST", "RFC 8216bis 4.4.4.3"), "{:#?}", o.findings);
}

/// Over HTTP from `hlsorigin serve`: clean, then a deleted segment is a 404 finding.
#[test]
fn validates_over_http() {
    let root = out_dir("validate_http");
    let stream = root.join("s");
    package(
        &fixtures::by_name("h264_aac.mp4"),
        &stream,
        &[
            "--quiet",
            "--format",
            "fmp4",
            "--single-file",
            "--segment-duration",
            "2",
        ],
    );
    let ts = root.join("t");
    package(
        &fixtures::by_name("h264_aac.mp4"),
        &ts,
        &["--quiet", "--format", "ts", "--segment-duration", "2"],
    );
    let server = serve(&root, &[]);
    let o = validate(&format!("{}/s/master.m3u8", server.base), &[]);
    assert_clean("single-file fMP4 over HTTP (byte ranges)", &o);
    let o = validate(&format!("{}/t/master.m3u8", server.base), &[]);
    assert_clean("TS over HTTP", &o);
    std::fs::remove_file(second_segment(&ts).0).expect("delete segment");
    let o = validate(&format!("{}/t/master.m3u8", server.base), &[]);
    assert!(
        o.code == Some(1)
            && o.findings
                .iter()
                .any(|f| f["section"] == "RFC 8216bis 6.2.1"
                    && f["message"].as_str().is_some_and(|m| m.contains("404"))),
        "{:#?}",
        o.findings
    );
}

/// One line per finding without --json, and the exit status follows the MUST findings.
#[test]
fn text_output_one_line_per_finding() {
    let dir = packaged("text_output", "ts");
    edit(&dir.join("stream.m3u8"), |t| {
        t.replace("#EXT-X-TARGETDURATION:2", "#EXT-X-TARGETDURATION:1")
    });
    let o = run(Command::new(bin())
        .arg("validate")
        .arg(&dir)
        .env("RUST_LOG", "error"));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("MUST ")).collect();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(!lines.is_empty(), "{out}");
    for l in lines {
        assert!(
            l.starts_with("MUST [RFC 8216bis 4.4.3.1] ") && l.contains("stream.m3u8:"),
            "{l}"
        );
    }
}

/// A target that is not there: one error line on stderr, exit 1, nothing on stdout.
#[test]
fn unreadable_target_is_one_error_line() {
    let missing = out_dir("validate_missing").join("nothing.m3u8");
    let o = run(Command::new(bin()).arg("validate").arg(&missing));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot read ") && err.contains("nothing.m3u8"),
        "{err}"
    );
}
