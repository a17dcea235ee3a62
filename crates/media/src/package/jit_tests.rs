// SPDX-License-Identifier: MIT OR Apache-2.0
//! Plan/render against `package`: for each case, every object `package` writes equals what the
//! just-in-time plan holds (playlists, init segment) or renders (each media segment), byte for
//! byte. The inputs are made by ffmpeg (skipped without it, like the muxers' probe tests).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;

use super::jit::{plan, plan_with, JitPlan, Span};
use super::{package, Format, PackageOptions};
use crate::demux::mp4::{MediaIndex, Mp4Demuxer, Mp4Options, ReadAhead, ReadEachPart};
use crate::store::MemStore;

fn have_ffmpeg() -> bool {
    Command::new("ffmpeg").arg("-version").output().is_ok()
}

/// A 5 s H.264 (or, `hevc`, H.265) + AAC MP4, keyframes every `gop` frames (25 fps), written
/// with ffmpeg's `-movflags` `flags` (moov first, fragmented, …).
fn input(name: &str, gop: u32, flags: &str, hevc: bool) -> PathBuf {
    let dir = std::env::temp_dir().join("hlsorigin-jit-tests");
    std::fs::create_dir_all(&dir).unwrap();
    // One file per call: tests run in parallel, and one of them changes its file.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{name}-{}-{call}.mp4", std::process::id()));
    let g = gop.to_string();
    let mut args: Vec<&str> = "-y -v error -f lavfi -i testsrc=size=160x120:rate=25:duration=5 \
                                -f lavfi -i sine=frequency=440:duration=5 -sc_threshold 0 \
                                -pix_fmt yuv420p -c:a aac"
        .split_whitespace()
        .collect();
    args.extend(["-g", &g, "-keyint_min", &g]);
    if hevc {
        // Closed GOPs (segmenter.rs: x265's open GOPs have no clean cut point).
        args.extend([
            "-c:v",
            "libx265",
            "-x265-params",
            "log-level=error:open-gop=0",
        ]);
        args.extend(["-tag:v", "hvc1"]);
    } else {
        args.extend(["-c:v", "libx264"]);
    }
    if name.contains("aud") {
        // Access unit delimiters in the samples: not canonical, the demuxer drops them.
        args.extend(["-x264-params", "aud=1"]);
    }
    if !flags.is_empty() {
        args.extend(["-movflags", flags]);
    }
    let p = path.to_str().unwrap().to_owned();
    args.push(&p);
    let out = Command::new("ffmpeg").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn open(path: &PathBuf) -> Mp4Demuxer<File> {
    let f = File::open(path).unwrap();
    let len = f.metadata().unwrap().len();
    Mp4Demuxer::open(f, len, Mp4Options::default()).unwrap()
}

/// Every object of the plan: playlists and init as held, segments rendered from their spans.
fn jit_objects(path: &PathBuf, index: &MediaIndex, plan: &JitPlan) -> BTreeMap<String, Vec<u8>> {
    let file = std::fs::read(path).unwrap();
    let mut out = BTreeMap::new();
    for name in plan.object_names() {
        if let Some(b) = plan.object(name) {
            out.insert(name.to_owned(), b.to_vec());
        }
    }
    let names: Vec<String> = plan.segment_names().map(str::to_owned).collect();
    for name in names {
        let seg = plan.segment(&name).unwrap();
        let read = spans_read(&file, plan.spans(index, seg));
        let bytes = plan.render(index, seg, &read).unwrap();
        assert_eq!(Some(bytes.len() as u64), plan.segment_size(seg), "{name}");
        out.insert(name, bytes);
    }
    if let Some((name, len)) = plan.iframe_file() {
        // AES-128: the I-frame file, put together from each segment's entries.
        let mut file_bytes = Vec::new();
        for seg in plan.iframe_segments(0..len) {
            let read = spans_read(&file, plan.spans(index, seg));
            let (at, bytes) = plan.render_iframes_read(index, seg, &read).unwrap();
            assert_eq!(
                at,
                file_bytes.len() as u64,
                "{name}: segment {seg}'s entries"
            );
            file_bytes.extend(bytes);
        }
        assert_eq!(file_bytes.len() as u64, len, "{name}");
        // A range inside one segment's entries names just that segment.
        assert!(plan.iframe_segments(len - 1..len).len() == 1);
        out.insert(name.to_owned(), file_bytes);
    }
    out
}

/// The bytes of `spans` of `file`.
fn spans_read(file: &[u8], spans: Vec<Span>) -> Vec<(Span, Bytes)> {
    spans
        .into_iter()
        .map(|s| {
            let (a, b) = (s.offset as usize, (s.offset + s.len) as usize);
            (s, Bytes::copy_from_slice(&file[a..b]))
        })
        .collect()
}

#[test]
fn plan_and_render_equal_package() {
    if !have_ffmpeg() {
        return;
    }
    const FRAG: &str = "+frag_keyframe+empty_moov+default_base_moof";
    // (input name, gop, movflags, HEVC, format, segment duration, max buffered bytes)
    let cases: &[(&str, u32, &str, bool, Format, f64, usize)] = &[
        ("gop25", 25, "", false, Format::Fmp4, 2.0, 32 << 20),
        ("gop25", 25, "", false, Format::Ts, 2.0, 32 << 20),
        (
            "gop25fs",
            25,
            "+faststart",
            false,
            Format::Fmp4,
            1.0,
            32 << 20,
        ),
        (
            "gop25fs",
            25,
            "+faststart",
            false,
            Format::Ts,
            3.0,
            32 << 20,
        ),
        ("gop25frag", 25, FRAG, false, Format::Fmp4, 2.0, 32 << 20),
        ("gop25frag", 25, FRAG, false, Format::Ts, 2.0, 32 << 20),
        ("hevc", 25, "", true, Format::Fmp4, 2.0, 32 << 20),
        ("hevc", 25, "", true, Format::Ts, 2.0, 32 << 20),
        ("gop25aud", 25, "", false, Format::Fmp4, 2.0, 32 << 20),
        ("gop25aud", 25, "", false, Format::Ts, 2.0, 32 << 20),
        // Segments written in pieces (a GOP larger than the buffer): one more fragment (fMP4),
        // PAT/PMT again (TS) — the plan must render the same pieces.
        ("gop50", 50, "", false, Format::Fmp4, 2.0, 20_000),
        ("gop50", 50, "", false, Format::Ts, 2.0, 20_000),
    ];
    for &(name, gop, flags, hevc, format, secs, max) in cases {
        let path = input(name, gop, flags, hevc);
        let opts = PackageOptions {
            format,
            segment_duration: secs,
            run_id: "v1".into(),
            max_buffered_bytes: max,
            allow_hevc_ts: true,
            ..Default::default()
        };
        let case = format!("{name} {format:?} {secs}s max {max}");
        let got = assert_plan_equals_package(&path, &opts, &case);
        // The same plan from NAL heads read ahead in three runs, each with its own reader (as
        // the origin reads them on several threads).
        let (index, plan) = plan_with(open(&path), &opts, |n| {
            each_part_on_its_own(&path, n.div_ceil(3))
        })
        .unwrap();
        assert!(
            jit_objects(&path, &index, &plan) == got,
            "{case}: planned from heads read ahead"
        );
    }
}

/// Reads the NAL heads of each part it is given with a reader of its own (as the origin's
/// threads do), parts of `part` samples, when planning asks for them.
fn each_part_on_its_own(path: &Path, part: usize) -> Option<Box<dyn ReadAhead>> {
    let path = path.to_path_buf();
    let open = move || File::open(&path).unwrap();
    Some(Box::new(ReadEachPart::new(part, open)))
}

/// Packages `path` with `opts` and plans it: every object equal, byte for byte; returns them.
fn assert_plan_equals_package(
    path: &PathBuf,
    opts: &PackageOptions,
    case: &str,
) -> BTreeMap<String, Vec<u8>> {
    let mut store = MemStore::default();
    package(&mut open(path), opts, &mut store, &mut |_| {}).unwrap();
    let (index, plan) = plan(open(path), opts).unwrap();
    let got = jit_objects(path, &index, &plan);
    let want = store.objects;
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{case}: object names"
    );
    for (k, v) in &want {
        assert!(
            got[k] == *v,
            "{case}: {k} differs ({} vs {} bytes)",
            got[k].len(),
            v.len()
        );
    }
    assert!(
        plan.segment_names().count() >= 2,
        "{case}: several segments"
    );
    got
}

/// Encrypted plans (cbcs in fMP4, SAMPLE-AES in MPEG-TS, AES-128 in both with its I-frame
/// file; key rotation; segments in pieces; AUDs; HEVC) render what `package --encrypt` writes, byte for byte: init segments of every
/// key period, EXT-X-KEY and EXT-X-SESSION-KEY tags, `senc` and the ciphertext.
#[test]
fn encrypted_plan_and_render_equal_package() {
    if !have_ffmpeg() {
        return;
    }
    use crate::crypto::{Encryption, Method};
    /// (input name, gop, HEVC, format, method, rotation, max buffered bytes)
    type Case = (&'static str, u32, bool, Format, Method, Option<u32>, usize);
    let cases: &[Case] = &[
        (
            "gop25",
            25,
            false,
            Format::Fmp4,
            Method::Cbcs,
            None,
            32 << 20,
        ),
        (
            "gop25",
            25,
            false,
            Format::Fmp4,
            Method::Cbcs,
            Some(2),
            32 << 20,
        ),
        (
            "gop25aud",
            25,
            false,
            Format::Fmp4,
            Method::Cbcs,
            None,
            32 << 20,
        ),
        (
            "hevc",
            25,
            true,
            Format::Fmp4,
            Method::Cbcs,
            Some(1),
            32 << 20,
        ),
        ("gop50", 50, false, Format::Fmp4, Method::Cbcs, None, 20_000),
        (
            "gop25",
            25,
            false,
            Format::Ts,
            Method::SampleAes,
            None,
            32 << 20,
        ),
        (
            "gop25aud",
            25,
            false,
            Format::Ts,
            Method::SampleAes,
            Some(2),
            32 << 20,
        ),
        (
            "gop50",
            50,
            false,
            Format::Ts,
            Method::SampleAes,
            None,
            20_000,
        ),
        // AES-128: whole segments, and the I-frame file of keyframes encrypted one by one.
        (
            "gop25",
            25,
            false,
            Format::Fmp4,
            Method::Aes128,
            None,
            32 << 20,
        ),
        (
            "gop25",
            25,
            false,
            Format::Ts,
            Method::Aes128,
            Some(2),
            32 << 20,
        ),
        ("gop50", 50, false, Format::Ts, Method::Aes128, None, 20_000),
        (
            "hevc",
            25,
            true,
            Format::Fmp4,
            Method::Aes128,
            Some(1),
            32 << 20,
        ),
    ];
    for &(name, gop, hevc, format, method, rotation, max) in cases {
        let path = input(name, gop, "", hevc);
        let opts = PackageOptions {
            format,
            segment_duration: 2.0,
            run_id: "v1".into(),
            max_buffered_bytes: max,
            encryption: Some(Encryption {
                method,
                key: *b"0123456789abcdef",
                rotation,
                key_uri: None,
            }),
            ..Default::default()
        };
        let case = format!("{name} {format:?} {method:?} rotation {rotation:?} max {max}");
        let got = assert_plan_equals_package(&path, &opts, &case);
        let master = String::from_utf8_lossy(&got["master.m3u8"]).into_owned();
        let tag = format!("#EXT-X-SESSION-KEY:METHOD={}", method.tag_value());
        assert!(master.contains(&tag), "{case}: {master}");
        assert_eq!(
            got.keys()
                .any(|k| k.contains("_iframes.") && !k.ends_with(".m3u8")),
            method == Method::Aes128,
            "{case}: an I-frame file with AES-128 only"
        );
    }
    // A single file is refused.
    let path = input("gop25", 25, "", false);
    let opts = PackageOptions {
        single_file: true,
        ..Default::default()
    };
    let refused = plan(open(&path), &opts).map(|_| ()).unwrap_err();
    assert!(refused.to_string().contains("single file"), "{refused}");
}

/// A segment rendered from bytes of a changed file is refused, never served torn: the sizes
/// no longer add up, or the NAL lengths no longer fit.
#[test]
fn render_refuses_changed_bytes() {
    if !have_ffmpeg() {
        return;
    }
    let path = input("gop25", 25, "", false);
    let opts = PackageOptions {
        run_id: "v1".into(),
        ..Default::default()
    };
    let (index, plan) = plan(open(&path), &opts).unwrap();
    let spans = plan.spans(&index, 0);
    let garbage: Vec<(Span, Bytes)> = spans
        .iter()
        .map(|s| (*s, Bytes::from(vec![0xff; s.len as usize])))
        .collect();
    assert!(plan.render(&index, 0, &garbage).is_err());
    let short: Vec<(Span, Bytes)> = spans.iter().map(|s| (*s, Bytes::new())).collect();
    assert!(plan.render(&index, 0, &short).is_err());
}

/// Counts the bytes read through it.
struct Counted {
    inner: File,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl std::io::Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

impl std::io::Seek for Counted {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// The plan is made from the sample tables and a few bytes per NAL unit (the skeletons), not
/// from the media data: for both formats, H.264 and H.265, far less than the samples' bytes
/// is read.
#[test]
fn plan_reads_the_index_not_the_media_data() {
    if !have_ffmpeg() {
        return;
    }
    let cases: &[(&str, bool, Format)] = &[
        ("gop25", false, Format::Fmp4),
        ("gop25", false, Format::Ts),
        ("gop25aud", false, Format::Ts),
        ("hevc", true, Format::Fmp4),
    ];
    for &(name, hevc, format) in cases {
        let path = input(name, 25, "", hevc);
        let read = std::rc::Rc::new(std::cell::Cell::new(0));
        let f = File::open(&path).unwrap();
        let len = f.metadata().unwrap().len();
        let counted = Counted {
            inner: f,
            read: read.clone(),
        };
        let demux = Mp4Demuxer::open(counted, len, Mp4Options::default()).unwrap();
        let opts = PackageOptions {
            format,
            allow_hevc_ts: true,
            ..Default::default()
        };
        let (index, _) = plan(demux, &opts).unwrap();
        let media: u64 = index.samples().iter().map(|s| u64::from(s.size)).sum();
        let moov = len - media;
        assert!(
            read.get() < moov + media / 10,
            "{name} {format:?}: read {} bytes; the moov and other boxes are {moov}, the media \
             data {media}",
            read.get()
        );
    }
}

/// A video sample whose first NAL length overruns it: `package` refuses the file, and so does
/// the plan, for both formats (fMP4 planned a sample that looked canonical; found by the
/// `package` fuzz target).
#[test]
fn plan_refuses_a_nal_length_past_the_sample_as_package_does() {
    if !have_ffmpeg() {
        return;
    }
    let path = input("overrun", 25, "", false);
    let mut demux = open(&path);
    let index = demux.index().unwrap();
    let video = index
        .samples()
        .iter()
        .filter(|r| r.track == 0)
        .nth(1)
        .copied()
        .unwrap();
    let mut data = std::fs::read(&path).unwrap();
    let at = video.offset as usize;
    data[at..at + 4].copy_from_slice(&(video.size + 1).to_be_bytes());
    std::fs::write(&path, &data).unwrap();
    for format in [Format::Fmp4, Format::Ts] {
        let opts = PackageOptions {
            format,
            segment_duration: 2.0,
            ..Default::default()
        };
        let packaged = package(
            &mut open(&path),
            &opts,
            &mut MemStore::default(),
            &mut |_| {},
        );
        let want = packaged
            .expect_err("package refuses the sample")
            .to_string();
        assert!(want.contains("overruns"), "{want}");
        let planned = plan(open(&path), &opts)
            .map(|_| ())
            .expect_err("the plan refuses it");
        assert!(
            planned.to_string().contains("overruns"),
            "{format:?}: {planned}"
        );
        let read_ahead = plan_with(open(&path), &opts, |_| {
            each_part_on_its_own(&path, usize::MAX)
        });
        assert!(read_ahead.is_err(), "{format:?}: read ahead");
    }
}

/// `index_walking` makes the index `index` makes, and hands its runs of `part` samples in
/// order, each once, the last one shorter: the heads read from them cover every sample once.
#[test]
fn index_walking_hands_every_run_once_in_order() {
    if !have_ffmpeg() {
        return;
    }
    let path = input("walking", 25, "", false);
    let want = open(&path).index().unwrap();
    let n = want.samples().len();
    assert!(n > 20, "{n} samples");
    for part in [1, 7, n - 1, n, n + 1, usize::MAX] {
        let mut runs = Vec::new();
        let got = open(&path)
            .index_walking(part, &mut |walks| {
                runs.push(walks.read(&mut File::open(&path).unwrap())?);
                Ok(())
            })
            .unwrap();
        assert_eq!(got.samples(), want.samples(), "part {part}");
        assert_eq!(runs.len(), n.div_ceil(part.min(n)), "part {part}");
        // (run, sample) for every sample a run covers, runs in the order handed.
        let covered: Vec<(usize, usize)> = (runs.iter().enumerate())
            .flat_map(|(k, run)| (0..n).filter(|&i| run.covers(i)).map(move |i| (k, i)))
            .collect();
        let in_order: Vec<(usize, usize)> = (0..n).map(|i| (i / part.min(n), i)).collect();
        assert_eq!(covered, in_order, "part {part}");
    }
}
