// SPDX-License-Identifier: MIT OR Apache-2.0
//! Just-in-time packaging of MPEG-TS input files (`serve ROOT`, `/PATH/FILE.ts/master.m3u8`
//! and `/PATH/FILE.ts/ts/master.m3u8`): every object equals what `hlsorigin package FILE.ts`
//! writes, byte for byte (names' run id aside), playlists parsed by m3u8-rs, ffmpeg decodes
//! the stream through HTTP, and hls.js plays it.

use std::path::Path;
use std::process::Command;

use super::jit::{assert_objects_equal, get};
use crate::common::server::{play, serve};
use crate::common::{fixtures, out_dir, package, probe, run};

/// A root holding `v/clip.ts`: the 12 s playback fixture (2 s GOPs) remuxed into a transport
/// stream.
fn root(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = out_dir(name);
    let file = dir.join("root/v/clip.ts");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(fixtures::playback())
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(&file));
    (dir, file)
}

#[test]
fn jit_ts_input_equals_package() {
    let (dir, file) = root("jit_ts_input_equals_package");
    let server = serve(&dir.join("root"), &["--jit-segment-duration", "4"]);
    for (format, prefix) in [("fmp4", ""), ("ts", "ts/")] {
        let out = dir.join(format!("pkg-{format}"));
        package(
            &file,
            &out,
            &["--format", format, "--segment-duration", "4", "--quiet"],
        );
        let base = format!("/v/clip.ts/{prefix}");
        let media = get(&server.base, &format!("{base}stream.m3u8"));
        assert_eq!(
            media.status,
            200,
            "{format}: media playlist {}",
            media.text()
        );
        let version = media
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("stream_"))
            .and_then(|l| l.split('_').next())
            .expect("a segment line")
            .to_owned();
        let compared = assert_objects_equal(&server.base, &base, &out, &version, format);
        assert!(compared >= 6, "{format}: {compared} objects compared");
        let url = format!("{}{base}master.m3u8", server.base);
        let errors = probe::decode_errors(Path::new(&url));
        assert!(
            errors.is_empty(),
            "{format}: ffmpeg decoding {url}: {errors}"
        );
        let secs = probe::media_duration(Path::new(&url));
        assert!((secs - 12.0).abs() < 0.3, "{format}: {secs} s through HTTP");
    }
}

/// hls.js plays the fMP4 and TS streams served just in time from a TS file.
#[test]
fn jit_ts_input_plays_in_hlsjs() {
    let (dir, _) = root("jit_ts_input_plays_in_hlsjs");
    let server = serve(&dir.join("root"), &[]);
    let mut failures = vec![];
    for prefix in ["", "ts/"] {
        let url = format!("{}/v/clip.ts/{prefix}master.m3u8", server.base);
        let report = play(&url, "hlsjs", 6, &[]);
        if report["ok"] != true {
            failures.push(format!("{url}: {report}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
