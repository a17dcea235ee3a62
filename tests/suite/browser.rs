// SPDX-License-Identifier: MIT OR Apache-2.0
//! Real clients: headless Chromium plays our output with hls.js and with its native HLS support.
//! Passes only if currentTime advances >= 80 % of the wall time watched, frames are decoded and no
//! fatal error occurs (tests/e2e/play.mjs).

use crate::common::server::{play, serve};
use crate::common::{fixtures, out_dir, package};

#[test]
fn chromium_plays_packaged_ts_and_fmp4() {
    let input = fixtures::playback();
    let root = out_dir("browser-root");
    std::fs::create_dir_all(&root).unwrap();
    for (format, single) in [("fmp4", false), ("ts", false), ("fmp4", true)] {
        let name = format!("{format}{}", if single { "-single" } else { "" });
        let mut args = vec!["--format", format, "--segment-duration", "2", "--quiet"];
        if single {
            args.push("--single-file");
        }
        package(&input, &root.join(&name), &args);
    }
    let server = serve(&root, &[]);
    let mut failures = vec![];
    for (name, mode) in [
        ("fmp4", "hlsjs"),
        ("ts", "hlsjs"),
        ("fmp4-single", "hlsjs"),
        ("fmp4", "native"),
        ("ts", "native"),
    ] {
        let url = format!("{}/{name}/master.m3u8", server.base);
        let report = play(&url, mode, 6, &[]);
        if report["ok"] != true {
            failures.push(format!("{name} via {mode}: {report}"));
        }
    }
    assert!(
        failures.is_empty(),
        "playback failures:\n{}",
        failures.join("\n")
    );
}
