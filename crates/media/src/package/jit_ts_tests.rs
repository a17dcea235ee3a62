// SPDX-License-Identifier: MIT OR Apache-2.0
//! TS input planned and rendered against `package` over the same file: every object equal,
//! byte for byte, with checkpoints at every read (each segment rendered from a checkpoint in
//! the middle of the file) and with the default spacing. Inputs made by ffmpeg (skipped
//! without it).

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::Command;

use super::{plan_ts_every, CHECKPOINT_BYTES};
use crate::demux::ts::TsFileDemuxer;
use crate::package::{package, Format, PackageOptions};
use crate::store::MemStore;

/// A 6 s H.264 + AAC transport stream of about 1.5 MB (many 64 KiB reads), keyframes every
/// second.
fn input() -> Option<PathBuf> {
    Command::new("ffmpeg").arg("-version").output().ok()?;
    let dir = std::env::temp_dir().join("hlsorigin-jit-ts-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("input.ts");
    let out = Command::new("ffmpeg")
        .args(
            "-y -v error -f lavfi -i testsrc=size=320x240:rate=25:duration=6 -f lavfi \
             -i sine=frequency=440:duration=6 -c:v libx264 -b:v 2M -g 25 -keyint_min 25 \
             -sc_threshold 0 -pix_fmt yuv420p -c:a aac -f mpegts"
                .split_whitespace(),
        )
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(path)
}

#[test]
fn ts_input_plan_and_render_equal_package() {
    let Some(path) = input() else { return };
    use crate::crypto::{Encryption, Method};
    let enc = |method| {
        Some(Encryption {
            method,
            key: [3; 16],
            rotation: Some(2),
            key_uri: None,
        })
    };
    // (format, checkpoint spacing: at every read, and the default; encryption)
    let cases = [
        (Format::Fmp4, 1, None),
        (Format::Ts, 1, None),
        (Format::Ts, CHECKPOINT_BYTES, None),
        (Format::Fmp4, CHECKPOINT_BYTES, enc(Method::Cbcs)),
        (Format::Ts, 1, enc(Method::SampleAes)),
        (Format::Ts, 1, enc(Method::Aes128)),
    ];
    for (format, every, encryption) in cases {
        let method = encryption.as_ref().map(|e| e.method);
        let opts = PackageOptions {
            format,
            segment_duration: 1.0,
            run_id: "v1".into(),
            encryption,
            ..Default::default()
        };
        let case = format!("{format:?} every {every} {method:?}");
        let mut store = MemStore::default();
        let reader = BufReader::with_capacity(1 << 20, File::open(&path).unwrap());
        let mut demux = TsFileDemuxer::open(reader).unwrap();
        package(&mut demux, &opts, &mut store, &mut |_| {}).unwrap();
        let planned = plan_ts_every(File::open(&path).unwrap(), &opts, every).unwrap();
        let plan = planned.plan();
        let mut compared = 0;
        let mut mid_file = 0;
        let reader_at = |seg: usize| {
            let mut f = File::open(&path).unwrap();
            f.seek(SeekFrom::Start(planned.start_offset(seg).unwrap()))
                .unwrap();
            f
        };
        for (name, want) in &store.objects {
            if let Some((iframes, len)) = plan.iframe_file().filter(|(n, _)| n == name) {
                // AES-128: the I-frame file, from each segment's entries.
                let mut got = Vec::new();
                for seg in plan.iframe_segments(0..len) {
                    let (at, entries) = planned.render_iframes(seg, reader_at(seg)).unwrap();
                    assert_eq!(at, got.len() as u64, "{case}: {iframes}");
                    got.extend(entries);
                }
                assert!(got == *want, "{case}: {iframes} differs");
                compared += 1;
                continue;
            }
            let got = match plan.segment(name) {
                Some(seg) => {
                    let at = planned.start_offset(seg).unwrap();
                    mid_file += usize::from(at > 0);
                    let mut f = File::open(&path).unwrap();
                    f.seek(SeekFrom::Start(at)).unwrap();
                    planned.render(seg, f).unwrap()
                }
                None => plan
                    .object(name)
                    .unwrap_or_else(|| panic!("{case}: {name} not planned"))
                    .to_vec(),
            };
            assert!(
                got == *want,
                "{case}: {name} differs ({} vs {} bytes)",
                got.len(),
                want.len()
            );
            compared += 1;
        }
        assert_eq!(
            compared,
            plan.object_names().count()
                + plan.segment_names().count()
                + usize::from(plan.iframe_file().is_some()),
            "{case}: the plan has no object package did not write"
        );
        assert!(plan.segment_names().count() >= 5, "{case}: segments");
        // The checkpoints are counted with their buffers: mid-stream, each holds at least a
        // video sample held back for its duration (~10 KB at 2 Mb/s, 25 fps).
        let segments = plan.segment_names().count();
        let held = planned.heap_bytes() - plan.heap_bytes();
        assert!(
            held > segments * 4096,
            "{case}: checkpoints count {held} bytes"
        );
        if every == 1 {
            assert!(
                mid_file >= 4,
                "{case}: {mid_file} segments rendered from mid-file"
            );
        }
    }
}
