// SPDX-License-Identifier: MIT OR Apache-2.0
//! Golden playlists: the exact text we write for known inputs, compared with a readable diff.
//! Measured numbers that depend on the encoder build (BANDWIDTH, byte ranges) are masked as `N`.
//! Regenerate after an intended change with `HLSORIGIN_BLESS=1 cargo test golden`.

use std::path::PathBuf;

use crate::common::{assert_text_eq, fixtures, out_dir, package};

fn mask_measured(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut l = line.to_owned();
        for key in [
            "BANDWIDTH=",
            "AVERAGE-BANDWIDTH=",
            "#EXT-X-BYTERANGE:",
            "BYTERANGE=\"",
        ] {
            let mut from = 0;
            while let Some(pos) = l[from..].find(key) {
                let start = from + pos + key.len();
                let end = l[start..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '@'))
                    .map_or(l.len(), |e| start + e);
                if end > start {
                    l.replace_range(start..end, "N");
                }
                from = start + 1;
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

pub(crate) fn check(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let got = mask_measured(got);
    if std::env::var_os("HLSORIGIN_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} missing ({e}); run with HLSORIGIN_BLESS=1",
            path.display()
        )
    });
    assert_text_eq(name, &want, &got);
}

const GOLDEN_KEY: &str = "00112233445566778899aabbccddeeff";

#[test]
fn golden_playlists() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("h264_aac.mp4", "fmp4", &[]),
        ("h264_aac.mp4", "ts", &[]),
        ("h264_aac.mp4", "fmp4", &["--single-file"]),
        ("aac_only.m4a", "ts", &[]),
        ("h264_aac_2997_irregular.mp4", "ts", &[]),
        // Encrypted: EXT-X-KEY in the media playlists, EXT-X-SESSION-KEY in the master.
        (
            "h264_aac.mp4",
            "ts",
            &[
                "--encrypt",
                "aes-128",
                "--key",
                GOLDEN_KEY,
                "--key-rotation",
                "2",
            ],
        ),
        (
            "h264_aac.mp4",
            "fmp4",
            &["--encrypt", "cbcs", "--key", GOLDEN_KEY],
        ),
    ];
    for (input, format, extra) in cases {
        let tag = format!(
            "{}-{format}{}",
            input.split('.').next().unwrap(),
            match extra.iter().position(|a| *a == "--encrypt") {
                Some(i) => format!("-{}", extra[i + 1]),
                None if extra.is_empty() => String::new(),
                None => "-single".into(),
            }
        );
        let out = out_dir(&format!("golden-{tag}"));
        let mut args = vec!["--format", format, "--segment-duration", "2", "--quiet"];
        args.extend_from_slice(extra);
        package(&fixtures::by_name(input), &out, &args);
        for file in ["master.m3u8", "stream.m3u8", "stream_iframes.m3u8"] {
            let path = out.join(file);
            // Audio-only inputs have no I-frame playlist (package.rs checks that it is absent).
            if file == "stream_iframes.m3u8" && *input == "aac_only.m4a" {
                assert!(!path.exists(), "{tag}: no I-frame playlist without video");
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            check(&format!("{tag}.{file}"), &text);
        }
    }
}

#[test]
fn irregular_gop_warns_about_long_segments() {
    // Keyframes at 0, 0.7, 2.9, 3.3, 4.4 s: with a 1 s target the 0.7 → 2.9 s GOP gives a 2.2 s segment.
    let out = out_dir("irregular-warn");
    let o = package(
        &fixtures::by_name("h264_aac_2997_irregular.mp4"),
        &out,
        &["--segment-duration", "1", "--format", "ts"],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("exceeds"),
        "warns about the long segment: {stderr}"
    );
}
