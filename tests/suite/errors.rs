// SPDX-License-Identifier: MIT OR Apache-2.0
//! Bad input gets one clear line naming the file and what is wrong, a non-zero exit, never a panic,
//! and nothing in OUTDIR that looks valid.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{bin, fixtures, out_dir, run, work_dir};

fn bad_dir() -> PathBuf {
    let d = work_dir().join("bad");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn truncated(src: &Path, name: &str, keep: f64) -> PathBuf {
    let data = std::fs::read(src).unwrap();
    let p = bad_dir().join(name);
    std::fs::write(&p, &data[..(data.len() as f64 * keep) as usize]).unwrap();
    p
}

/// An H.264 MPEG-TS whose only IDR was cut off: SPS/PPS repeated on every frame (dump_extra), intra
/// refresh instead of IDRs, then the head of the file removed.
fn no_keyframe() -> PathBuf {
    let p = bad_dir().join("no_keyframe.ts");
    if p.exists() {
        return p;
    }
    let full = bad_dir().join("intra_refresh.ts");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30:duration=4",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-x264-params",
            "intra-refresh=1:keyint=30",
        ])
        .args(["-bsf:v", "dump_extra=freq=all", "-f", "mpegts"])
        .arg(&full)
        .status()
        .unwrap();
    assert!(st.success());
    let data = std::fs::read(&full).unwrap();
    // Drop the first half, packet aligned.
    let cut = (data.len() / 2) / 188 * 188;
    std::fs::write(&p, &data[cut..]).unwrap();
    p
}

fn unknown_codec() -> PathBuf {
    let p = bad_dir().join("mpeg4part2.mp4");
    if !p.exists() {
        let st = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x120:rate=30:duration=1",
            ])
            .args(["-c:v", "mpeg4", "-f", "mp4"])
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success());
    }
    p
}

fn expect_failure(case: &str, input: &Path, out: &Path, needles: &[&str]) {
    let o = run(Command::new(bin())
        .arg("package")
        .arg(input)
        .arg("-o")
        .arg(out)
        .arg("--quiet"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{case}: must fail, stderr: {stderr}");
    assert_eq!(
        o.status.code(),
        Some(1),
        "{case}: exit status 1 (not a panic's 101), stderr: {stderr}"
    );
    let errors: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{case}: one error line, got:\n{stderr}");
    let line = errors[0].to_lowercase();
    for n in needles {
        assert!(
            line.contains(&n.to_lowercase()),
            "{case}: message {line:?} should mention {n:?}"
        );
    }
    assert!(!out.exists(), "{case}: nothing written to OUTDIR");
    // This run's temp dir (`.OUTDIR.tmp-RUN`) is gone; other tests package into sibling
    // directories at the same time, so theirs may be there.
    let own = format!(
        ".{}.tmp-",
        out.file_name().unwrap_or_default().to_string_lossy()
    );
    if let Some(parent) = out.parent() {
        if let Ok(rd) = std::fs::read_dir(parent) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                assert!(!n.starts_with(&own), "{case}: temp dir {n} left behind");
            }
        }
    }
}

#[test]
fn bad_inputs_fail_with_one_clear_line() {
    let empty = bad_dir().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let random = bad_dir().join("random.mp4");
    let mut x: u32 = 0x1234_5678;
    let bytes: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(&random, bytes).unwrap();
    let faststart = fixtures::by_name("h264_aac.mp4");
    let moovlast = fixtures::by_name("h264_aac_moovlast.mov");
    let mid_mdat = truncated(&faststart, "truncated_mid_mdat.mp4", 0.6);
    let no_moov = truncated(&moovlast, "truncated_no_moov.mov", 0.6);
    let missing = bad_dir().join("does-not-exist.mp4");
    let cases: Vec<(&str, PathBuf, Vec<&str>)> = vec![
        ("empty", empty.clone(), vec!["empty.mp4", "empty"]),
        (
            "random bytes",
            random.clone(),
            vec!["random.mp4", "not a recognised container"],
        ),
        (
            "truncated mid-mdat",
            mid_mdat.clone(),
            vec![
                "truncated_mid_mdat.mp4",
                "beyond end of file",
                "track",
                "sample",
                "offset",
            ],
        ),
        (
            "truncated, no moov",
            no_moov.clone(),
            vec!["truncated_no_moov.mov", "moov"],
        ),
        (
            "unknown codec",
            unknown_codec(),
            vec!["mpeg4part2.mp4", "unsupported codec"],
        ),
        (
            "no keyframe",
            no_keyframe(),
            vec!["no_keyframe.ts", "keyframe"],
        ),
        (
            "unreadable path",
            missing.clone(),
            vec!["does-not-exist.mp4", "cannot open"],
        ),
    ];
    for (case, input, needles) in cases {
        let out = out_dir(&format!("bad-{}", case.replace([' ', ','], "_")));
        expect_failure(case, &input, &out, &needles);
    }
    // OUTDIR not writable: its parent is a regular file.
    let parent_file = bad_dir().join("a-file");
    std::fs::write(&parent_file, b"x").unwrap();
    expect_failure(
        "outdir not writable",
        &faststart,
        &parent_file.join("out"),
        &["cannot"],
    );
}

#[test]
fn truncated_mp4_packages_complete_part_when_allowed() {
    let faststart = fixtures::by_name("h264_aac.mp4");
    let input = truncated(&faststart, "truncated_allowed.mp4", 0.6);
    let out = out_dir("truncated-allowed");
    let o = run(Command::new(bin())
        .arg("package")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--allow-truncated", "--segment-duration", "1"]));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("truncat"),
        "warns about truncation: {stderr}"
    );
    let errors = crate::common::probe::decode_errors(&out.join("master.m3u8"));
    assert!(errors.is_empty(), "{errors}");
}

#[test]
fn summary_is_one_line_and_progress_is_silent_off_tty() {
    let input = fixtures::by_name("h264_aac.mp4");
    let out = out_dir("summary");
    let o = crate::common::package(&input, &out, &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 1, "one summary line: {stdout:?}");
    for n in ["segments", "avg", "peak", "wall"] {
        assert!(stdout.contains(n), "summary mentions {n}: {stdout}");
    }
    assert!(
        o.stderr.is_empty(),
        "no progress bar when stderr is not a terminal: {:?}",
        String::from_utf8_lossy(&o.stderr)
    );
}
