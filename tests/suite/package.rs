// SPDX-License-Identifier: MIT OR Apache-2.0
//! Every valid input × format: ffprobe/ffmpeg decode every segment cleanly, every segment starts on a
//! keyframe, timestamps continue across segments, EXTINF matches ffprobe, BANDWIDTH is measured;
//! the I-frame playlist lists every keyframe, and each of its byte ranges decodes to that one frame.

use std::path::{Path, PathBuf};

use crate::common::fixtures::{self, Fixture};
use crate::common::{package, probe, work_dir};

struct Seg {
    file: PathBuf,
    extinf: f64,
    size: u64,
}

fn load_media(dir: &Path) -> (m3u8_rs::MasterPlaylist, m3u8_rs::MediaPlaylist) {
    let master_text = std::fs::read(dir.join("master.m3u8")).expect("master.m3u8 written");
    let master = match m3u8_rs::parse_playlist_res(&master_text) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => m,
        other => panic!("master.m3u8 is not a master playlist: {other:?}"),
    };
    let media_uri = &master
        .variants
        .iter()
        .find(|v| !v.is_i_frame)
        .expect("an EXT-X-STREAM-INF")
        .uri;
    let media_text = std::fs::read(dir.join(media_uri)).expect("media playlist written");
    let media = match m3u8_rs::parse_playlist_res(&media_text) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        other => panic!("{media_uri} is not a media playlist: {other:?}"),
    };
    (master, media)
}

fn read_range(path: &Path, range: Option<&m3u8_rs::ByteRange>) -> Vec<u8> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    match range {
        None => data,
        Some(r) => {
            let off = r.offset.expect("byterange offset") as usize;
            data[off..off + r.length as usize].to_vec()
        }
    }
}

/// Writes each segment as a standalone file (init prepended for fMP4) for ffprobe.
fn materialize(dir: &Path, media: &m3u8_rs::MediaPlaylist, tag: &str) -> Vec<Seg> {
    let scratch = work_dir().join("segments").join(tag);
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("scratch");
    let init = media.segments.first().and_then(|s| s.map.clone());
    let init_bytes = init
        .as_ref()
        .map(|m| read_range(&dir.join(&m.uri), m.byte_range.as_ref()));
    media
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let body = read_range(&dir.join(&s.uri), s.byte_range.as_ref());
            let size = body.len() as u64;
            let ext = if init_bytes.is_some() { "mp4" } else { "ts" };
            let file = scratch.join(format!("seg{i}.{ext}"));
            let mut bytes = init_bytes.clone().unwrap_or_default();
            bytes.extend_from_slice(&body);
            std::fs::write(&file, bytes).expect("write segment");
            Seg {
                file,
                extinf: f64::from(s.duration),
                size,
            }
        })
        .collect()
}

fn check_output(fx: &Fixture, input: &Path, dir: &Path, format: &str, tag: &str) {
    let (master, media) = load_media(dir);
    let v = &master.variants[0];
    assert!(!v.is_i_frame, "{tag}: EXT-X-STREAM-INF first");
    let codecs = v.codecs.clone().unwrap_or_default();
    assert!(!codecs.is_empty(), "{tag}: CODECS present");
    if fx.video {
        assert!(v.resolution.is_some(), "{tag}: RESOLUTION present");
        let fr = v.frame_rate.expect("FRAME-RATE present");
        assert!(
            (fr - 30.0).abs() < 0.1 || (fr - 29.97).abs() < 0.05,
            "{tag}: FRAME-RATE {fr}"
        );
    }
    // Media playlist rules (RFC 8216bis 4.4.3, Apple 8.6).
    assert!(media.end_list, "{tag}: ENDLIST");
    assert_eq!(
        media.playlist_type,
        Some(m3u8_rs::MediaPlaylistType::Vod),
        "{tag}"
    );
    // EXT-X-INDEPENDENT-SEGMENTS in both playlists or neither; only an HEVC stream with open
    // GOPs and no clean random-access point (x265's default) goes without (RFC 8216bis 4.4.2.1).
    let independent = media.independent_segments;
    assert_eq!(
        master.independent_segments, independent,
        "{tag}: INDEPENDENT-SEGMENTS in master and media playlists alike"
    );
    let codecs_list = v.codecs.clone().unwrap_or_default();
    assert!(
        independent || codecs_list.starts_with("hvc1") || codecs_list.starts_with("hev1"),
        "{tag}: INDEPENDENT-SEGMENTS"
    );
    assert!(!media.segments.is_empty(), "{tag}: has segments");
    let want_version = if format == "fmp4" { 6 } else { 3 };
    assert!(media.version.unwrap_or(1) >= want_version, "{tag}: VERSION");
    let max_round = media
        .segments
        .iter()
        .map(|s| f64::from(s.duration).round() as u64)
        .max()
        .unwrap();
    assert_eq!(
        media.target_duration, max_round,
        "{tag}: TARGETDURATION = max EXTINF rounded"
    );
    assert_eq!(
        format == "fmp4",
        media.segments[0].map.is_some(),
        "{tag}: EXT-X-MAP iff fMP4"
    );

    let segs = materialize(dir, &media, tag);
    let frame = if fx.video {
        1.0 / 29.97
    } else {
        1024.0 / 48000.0
    };
    let mut prev_end: Vec<(u64, f64)> = vec![];
    for (i, seg) in segs.iter().enumerate() {
        let errors = probe::decode_errors(&seg.file);
        assert!(
            errors.is_empty(),
            "{tag}: segment {i} decodes with errors:\n{errors}"
        );
        let pk = probe::packets(&seg.file);
        assert!(!pk.is_empty(), "{tag}: segment {i} has packets");
        if fx.video && independent {
            // Independent segments: every picture decodes from the segment alone.
            let (frames, packets) = probe::video_frame_and_packet_counts(&seg.file);
            assert_eq!(
                frames, packets,
                "{tag}: segment {i} decodes alone to as many frames as it has video packets"
            );
        }
        if fx.video {
            let first = pk
                .iter()
                .find(|p| p.kind == "video")
                .expect("video packets");
            assert!(first.key, "{tag}: segment {i} starts with a keyframe");
        }
        // Per-stream decode timestamps continue from the previous segment (Apple 7.2, 7.3).
        let mut ends = vec![];
        let streams: std::collections::BTreeSet<u64> = pk.iter().map(|p| p.stream).collect();
        for s in streams {
            let sp: Vec<_> = pk.iter().filter(|p| p.stream == s).collect();
            let first = sp.first().unwrap().dts;
            let last = sp.last().unwrap();
            if let Some((_, end)) = prev_end.iter().find(|(st, _)| *st == s) {
                assert!(
                    (first - end).abs() < 0.002,
                    "{tag}: stream {s} of segment {i} starts at dts {first:.4}, previous ended at {end:.4}"
                );
            }
            ends.push((s, last.dts + last.duration));
        }
        prev_end = ends;
        // EXTINF matches ffprobe's duration of the segment (within one frame).
        let kind = if fx.video { "video" } else { "audio" };
        let sel: Vec<_> = pk.iter().filter(|p| p.kind == kind).collect();
        let start = sel.iter().map(|p| p.pts).fold(f64::INFINITY, f64::min);
        let end = sel
            .iter()
            .map(|p| p.pts + p.duration)
            .fold(f64::NEG_INFINITY, f64::max);
        let probed = end - start;
        assert!(
            (probed - seg.extinf).abs() <= frame + 0.001,
            "{tag}: segment {i} EXTINF {} vs ffprobe {probed:.4}",
            seg.extinf
        );
    }
    // Sum of EXTINF within one frame of the real duration (Apple 8.1).
    let total: f64 = segs.iter().map(|s| s.extinf).sum();
    let real = probe::media_duration(input);
    assert!(
        (total - real).abs() <= frame + 0.001,
        "{tag}: sum of EXTINF {total:.4} vs input duration {real:.4}"
    );
    // BANDWIDTH = measured peak, AVERAGE-BANDWIDTH = measured average (Apple 9.13–9.15, within 10 %).
    let bytes: u64 = segs.iter().map(|s| s.size).sum();
    let avg = bytes as f64 * 8.0 / total;
    let peak = segs
        .iter()
        .map(|s| s.size as f64 * 8.0 / s.extinf)
        .fold(0.0, f64::max);
    let declared_avg = v.average_bandwidth.expect("AVERAGE-BANDWIDTH") as f64;
    assert!(
        (declared_avg - avg).abs() / avg < 0.10,
        "{tag}: AVERAGE-BANDWIDTH {declared_avg} vs {avg}"
    );
    assert!(
        (v.bandwidth as f64 - peak).abs() / peak < 0.10,
        "{tag}: BANDWIDTH {} vs {peak}",
        v.bandwidth
    );

    let rows: Vec<(u64, f32)> = segs.iter().map(|s| (s.size, s.extinf as f32)).collect();
    assert_declared_rates_cover(tag, v.bandwidth, v.average_bandwidth, &rows);

    check_i_frames(fx, input, dir, &master, format, tag);

    // The whole stream through ffmpeg's own HLS demuxer.
    let errors = probe::decode_errors(&dir.join("master.m3u8"));
    assert!(
        errors.is_empty(),
        "{tag}: ffmpeg reading master.m3u8: {errors}"
    );
}

fn run_matrix(format: &str, single_file: bool) {
    let mut ran = 0;
    for fx in fixtures::valid() {
        if format == "ts" && !fx.ts_ok {
            continue;
        }
        let input = fixtures::path(&fx);
        let tag = format!(
            "{}-{format}{}",
            fx.name,
            if single_file { "-single" } else { "" }
        );
        let out = crate::common::out_dir(&tag);
        let mut args = vec!["--format", format, "--segment-duration", "2", "--quiet"];
        if single_file {
            args.push("--single-file");
        }
        package(&input, &out, &args);
        check_output(&fx, &input, &out, format, &tag);
        ran += 1;
    }
    assert!(ran >= 8, "matrix covered {ran} inputs");
}

#[test]
fn fmp4_matrix() {
    run_matrix("fmp4", false);
}

#[test]
fn ts_matrix() {
    run_matrix("ts", false);
}

#[test]
fn single_file_fmp4_and_ts() {
    for format in ["fmp4", "ts"] {
        let fx = fixtures::valid().into_iter().next().unwrap();
        let input = fixtures::path(&fx);
        let tag = format!("single-{format}");
        let out = crate::common::out_dir(&tag);
        package(
            &input,
            &out,
            &[
                "--format",
                format,
                "--segment-duration",
                "2",
                "--single-file",
                "--quiet",
            ],
        );
        let files: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != ".hlsorigin")
            .collect();
        assert_eq!(
            files.len(),
            4,
            "{tag}: master + media playlist + I-frame playlist + one media file, got {files:?}"
        );
        check_output(&fx, &input, &out, format, &tag);
    }
}

/// Peak resident memory the summary line of `package INPUT -o OUT ARGS` reports, MiB.
fn peak_memory(input: &Path, out: &Path, args: &[&str], tag: &str) -> f64 {
    let o = package(input, out, args);
    let summary = String::from_utf8_lossy(&o.stdout);
    summary
        .split("peak memory ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{tag}: peak memory in the summary: {summary}"))
}

/// A long GOP (one keyframe in 8 s of incompressible video: one ~35 MB segment) is written in
/// pieces of `--max-buffer-mib` (TS: PAT/PMT again at each piece; fMP4: one more fragment), so
/// peak memory stays far below the segment's size — and the output passes every check the
/// matrix makes (decode, keyframe start, timestamps, EXTINF, BANDWIDTH, I-frames).
#[test]
fn long_gop_is_written_in_pieces_with_bounded_memory() {
    let fx = Fixture {
        name: "h264_aac_longgop.mp4",
        args: vec![
            "-vf",
            "noise=alls=40:allf=t",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "40M",
            "-maxrate",
            "40M",
            "-bufsize",
            "80M",
            "-g",
            "10000",
            "-keyint_min",
            "10000",
            "-sc_threshold",
            "0",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
        ],
        video: true,
        audio: true,
        ts_ok: true,
        secs: 8,
    };
    let input = fixtures::path(&fx);
    let small = fixtures::by_name("h264_aac.mp4");
    for (format, single_file) in [("ts", false), ("fmp4", false), ("fmp4", true)] {
        let tag = format!(
            "longgop-{format}{}",
            if single_file { "-single" } else { "" }
        );
        let out = crate::common::out_dir(&tag);
        let mut args = vec![
            "--format",
            format,
            "--segment-duration",
            "2",
            "--max-buffer-mib",
            "2",
        ];
        if single_file {
            args.push("--single-file");
        }
        let peak = peak_memory(&input, &out, &args, &tag);
        // What the binary itself occupies (code pages, allocator): the same run on a small file.
        let baseline = peak_memory(
            &small,
            &crate::common::out_dir(&format!("{tag}-small")),
            &args,
            &tag,
        );
        let largest = std::fs::read_dir(&out)
            .expect("out")
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .max()
            .unwrap_or(0) as f64
            / (1024.0 * 1024.0);
        assert!(
            largest > 25.0,
            "{tag}: the segment is large ({largest:.1} MiB)"
        );
        // Held whole, the segment adds more than its own size (85 MiB over a 15 MiB baseline
        // for a 34 MiB segment); in 2 MiB pieces, a few MiB.
        assert!(
            peak - baseline < largest * 0.4,
            "{tag}: peak memory {peak:.1} MiB ({baseline:.1} MiB for a small file) while writing \
             a {largest:.1} MiB segment"
        );
        check_output(&fx, &input, &out, format, &tag);
    }
}

#[test]
fn hevc_in_ts_needs_explicit_flag() {
    let input = fixtures::by_name("hevc_aac.mp4");
    let out = crate::common::out_dir("hevc-ts-refused");
    let o = crate::common::run(
        std::process::Command::new(crate::common::bin())
            .args(["package", "--quiet", "--format", "ts", "-o"])
            .arg(&out)
            .arg(&input),
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("HEVC") && err.contains("fMP4"),
        "clear message: {err}"
    );
    assert!(!out.exists(), "nothing written");
    package(
        &input,
        &out,
        &[
            "--format",
            "ts",
            "--allow-hevc-ts",
            "--quiet",
            "--segment-duration",
            "2",
        ],
    );
    assert!(probe::decode_errors(&out.join("master.m3u8")).is_empty());
}

#[test]
fn repackaging_replaces_output_atomically() {
    let input = fixtures::by_name("h264_aac.mp4");
    let out = crate::common::out_dir("repackage");
    package(&input, &out, &["--quiet"]);
    std::fs::write(out.join("stale.txt"), b"old run").unwrap();
    package(&input, &out, &["--quiet", "--format", "ts"]);
    assert!(
        !out.join("stale.txt").exists(),
        "previous output replaced as a whole"
    );
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".repackage"))
        .collect();
    assert!(leftovers.is_empty(), "no temp dirs left: {leftovers:?}");
}

fn check_i_frames(
    fx: &Fixture,
    input: &Path,
    dir: &Path,
    master: &m3u8_rs::MasterPlaylist,
    format: &str,
    tag: &str,
) {
    let streams: Vec<_> = master.variants.iter().filter(|v| v.is_i_frame).collect();
    let written: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_iframes.m3u8"))
        .collect();
    if !fx.video {
        assert!(streams.is_empty(), "{tag}: no I-frame stream without video");
        assert!(
            written.is_empty(),
            "{tag}: no I-frame playlist: {written:?}"
        );
        return;
    }
    // Apple 6.1, 9.1–9.4: an EXT-X-I-FRAME-STREAM-INF with CODECS (video only) and RESOLUTION.
    assert_eq!(streams.len(), 1, "{tag}: one EXT-X-I-FRAME-STREAM-INF");
    let iv = streams[0];
    assert_eq!(
        written,
        std::slice::from_ref(&iv.uri),
        "{tag}: the I-frame playlist written"
    );
    let v = &master.variants[0];
    let codecs = iv
        .codecs
        .clone()
        .expect("CODECS on EXT-X-I-FRAME-STREAM-INF");
    let variant_codecs = v.codecs.clone().unwrap_or_default();
    assert!(
        !codecs.contains(',') && variant_codecs.split(',').any(|c| c == codecs),
        "{tag}: I-frame CODECS {codecs} is the video codec of {variant_codecs}"
    );
    assert!(
        ["avc1", "avc3", "hvc1", "hev1", "av01", "vp09"]
            .iter()
            .any(|p| codecs.starts_with(p)),
        "{tag}: video codec {codecs}"
    );
    assert_eq!(iv.resolution, v.resolution, "{tag}: RESOLUTION");
    assert!(iv.resolution.is_some(), "{tag}: RESOLUTION present");

    let text = std::fs::read(dir.join(&iv.uri)).expect("I-frame playlist");
    let pl = match m3u8_rs::parse_playlist_res(&text) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        other => panic!("{tag}: {} is not a media playlist: {other:?}", iv.uri),
    };
    // RFC 8216bis 4.4.3.6 and §8: I-FRAMES-ONLY needs version 4; a VOD playlist with ENDLIST.
    assert!(pl.i_frames_only, "{tag}: EXT-X-I-FRAMES-ONLY");
    assert!(
        pl.version.unwrap_or(1) >= 4,
        "{tag}: VERSION {:?}",
        pl.version
    );
    assert_eq!(
        pl.playlist_type,
        Some(m3u8_rs::MediaPlaylistType::Vod),
        "{tag}"
    );
    assert!(pl.end_list, "{tag}: ENDLIST");
    let max_round = pl
        .segments
        .iter()
        .map(|s| f64::from(s.duration).round() as u64)
        .max()
        .unwrap_or(0);
    assert!(pl.target_duration >= max_round, "{tag}: TARGETDURATION");

    // One entry per keyframe of the input's video stream; EXTINF sum = media duration (Apple 8.1).
    let keys = probe::video_keyframe_times(input);
    assert_eq!(
        pl.segments.len(),
        keys.len(),
        "{tag}: I-frame entries vs ffprobe's keyframes of the input"
    );
    let frame = 1.0 / 29.97;
    let total: f64 = pl.segments.iter().map(|s| f64::from(s.duration)).sum();
    let real = probe::media_duration(input);
    assert!(
        (total - real).abs() <= frame + 0.001,
        "{tag}: sum of I-frame EXTINF {total:.4} vs duration {real:.4}"
    );

    // Every entry on its own (EXT-X-MAP prepended, as a client does) decodes to exactly one video
    // frame, a keyframe, at the time the playlist gives it.
    let scratch = work_dir().join("iframes").join(tag);
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("scratch");
    let ext = if format == "fmp4" { "mp4" } else { "ts" };
    let mut map = None;
    let mut at = 0.0;
    let mut first_pts = None;
    let (mut bytes, mut peak) = (0u64, 0.0f64);
    for (i, s) in pl.segments.iter().enumerate() {
        if s.map.is_some() {
            map = s.map.clone();
        }
        let range = s
            .byte_range
            .as_ref()
            .expect("EXT-X-BYTERANGE on every entry");
        assert!(range.offset.is_some(), "{tag}: entry {i}: explicit offset");
        let body = read_range(&dir.join(&s.uri), Some(range));
        let mut data = map
            .as_ref()
            .map(|m| read_range(&dir.join(&m.uri), m.byte_range.as_ref()))
            .unwrap_or_default();
        if format == "fmp4" {
            assert!(!data.is_empty(), "{tag}: fMP4 I-frames need EXT-X-MAP");
        }
        data.extend_from_slice(&body);
        let frames = probe::video_frames_of(&scratch.join(format!("iframe{i}.{ext}")), &data);
        assert_eq!(
            frames.len(),
            1,
            "{tag}: entry {i} ({} bytes of {}) decodes to one video frame: {frames:?}",
            body.len(),
            s.uri
        );
        let f = &frames[0];
        assert!(f.key, "{tag}: entry {i} is a key frame: {f:?}");
        // Presentation time, relative to the first I-frame: the input's keyframe within a
        // frame; and the sum of the EXTINFs before it within 2 ms (their millisecond rounding),
        // as EXTINF is the time to the next I-frame in presentation order (RFC 8216bis
        // 4.4.3.6) — with B-frames or HEVC open GOPs, decode-time gaps differ by frames.
        let first = *first_pts.get_or_insert(f.pts);
        let got = f.pts - first;
        let want = keys[i] - keys[0];
        assert!(
            (got - want).abs() <= frame + 0.001 && (at - want).abs() <= 0.002,
            "{tag}: entry {i} at {got:.4} s (EXTINF sum {at:.4}), input keyframe at {want:.4}"
        );
        let extinf = f64::from(s.duration);
        at += extinf;
        bytes += body.len() as u64;
        if extinf > 0.0 {
            peak = peak.max(body.len() as f64 * 8.0 / extinf);
        }
    }
    let rows: Vec<(u64, f32)> = pl
        .segments
        .iter()
        .map(|s| (s.byte_range.as_ref().map_or(0, |r| r.length), s.duration))
        .collect();
    assert_declared_rates_cover(
        &format!("{tag} I-frames"),
        iv.bandwidth,
        iv.average_bandwidth,
        &rows,
    );
    // BANDWIDTH / AVERAGE-BANDWIDTH measured over the I-frame ranges, within 10 % (Apple 9.13–9.15).
    let avg = bytes as f64 * 8.0 / total;
    let declared_avg = iv.average_bandwidth.expect("AVERAGE-BANDWIDTH") as f64;
    assert!(
        (declared_avg - avg).abs() / avg < 0.10,
        "{tag}: I-frame AVERAGE-BANDWIDTH {declared_avg} vs {avg}"
    );
    assert!(
        (iv.bandwidth as f64 - peak).abs() / peak < 0.10,
        "{tag}: I-frame BANDWIDTH {} vs {peak}",
        iv.bandwidth
    );
}
/// RFC 8216bis 4.4.6.2: BANDWIDTH is at least every segment's bits / EXTINF, and AVERAGE-BANDWIDTH
/// at least the total bits / the sum of EXTINF — with the EXTINF as the playlist writes them
/// (`rows`: bytes and EXTINF as m3u8-rs parsed it), compared exactly in integer milliseconds.
fn assert_declared_rates_cover(tag: &str, peak: u64, average: Option<u64>, rows: &[(u64, f32)]) {
    // The written EXTINF has 3 decimals; m3u8-rs keeps it as f32, which formats back to them.
    let millis = |extinf: f32| -> u128 { (f64::from(extinf) * 1000.0).round() as u128 };
    for (i, &(bytes, extinf)) in rows.iter().enumerate() {
        let ms = millis(extinf);
        assert!(
            u128::from(peak) * ms >= u128::from(bytes) * 8000,
            "{tag}: BANDWIDTH {peak} below segment {i}: {bytes} bytes over EXTINF {extinf} = {:.3} bit/s",
            bytes as f64 * 8000.0 / ms as f64
        );
    }
    let bytes: u128 = rows.iter().map(|r| u128::from(r.0)).sum();
    let ms: u128 = rows.iter().map(|r| millis(r.1)).sum();
    let average = average.expect("AVERAGE-BANDWIDTH");
    assert!(
        u128::from(average) * ms >= bytes * 8000,
        "{tag}: AVERAGE-BANDWIDTH {average} below {bytes} bytes over {ms} ms"
    );
}

/// HEVC with open GOPs (x265 `open-gop=1`, a CRA every 0.5 s with RASL pictures) and an IDR
/// every 3 s (three encodes joined): with a 2 s target, segments are cut at the IDRs, never at
/// a CRA whose RASL pictures need the previous segment — each segment decodes alone to all its
/// frames, and EXT-X-INDEPENDENT-SEGMENTS holds.
#[test]
fn hevc_open_gop_cuts_at_clean_random_access_points() {
    let input = hevc_open_gop_with_idr_every_3s();
    let (in_frames, _) = probe::video_frame_and_packet_counts(&input);
    assert_eq!(in_frames, 270, "the input decodes to 9 s of 30 fps");
    let fx = Fixture {
        name: "hevc_open_gop_idr3s.mp4",
        args: vec![],
        video: true,
        audio: false,
        ts_ok: false,
        secs: 9,
    };
    let tag = "hevc-open-gop-idr";
    let out = crate::common::out_dir(tag);
    package(
        &input,
        &out,
        &["--format", "fmp4", "--segment-duration", "2", "--quiet"],
    );
    // Decoding, keyframe starts, timestamps, EXTINF, BANDWIDTH, I-frames; and, as the playlists
    // declare independence, every segment decodes alone to as many frames as it has packets.
    check_output(&fx, &input, &out, "fmp4", tag);
    let (master, media) = load_media(&out);
    assert!(master.independent_segments && media.independent_segments);
    let durations: Vec<f32> = media.segments.iter().map(|s| s.duration).collect();
    assert_eq!(durations, [3.0, 3.0, 3.0], "{tag}: cut at the IDRs only");
    let mut frames = 0;
    for seg in materialize(&out, &media, tag) {
        frames += probe::video_frame_and_packet_counts(&seg.file).0;
    }
    assert_eq!(
        frames, in_frames,
        "{tag}: the segments decode alone to every frame"
    );
}

/// x265's default open GOP throughout (a CRA with RASL pictures every second, no IDR after the
/// first picture): no segment can start on a clean point, so the packager cuts at CRAs, warns,
/// and does not declare EXT-X-INDEPENDENT-SEGMENTS; the stream still plays every frame.
#[test]
fn hevc_open_gop_throughout_drops_independent_segments() {
    for (input, format) in [("hevc_aac.mp4", "fmp4"), ("hevc_ac3.ts", "ts")] {
        let input = crate::common::fixtures::by_name(input);
        let tag = format!("hevc-open-gop-{format}");
        let out = crate::common::out_dir(&tag);
        let mut args = vec!["--format", format, "--segment-duration", "1"];
        if format == "ts" {
            args.push("--allow-hevc-ts");
        }
        let o = package(&input, &out, &args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("EXT-X-INDEPENDENT-SEGMENTS"),
            "{tag}: warns: {stderr}"
        );
        let (master, media) = load_media(&out);
        assert!(
            !master.independent_segments && !media.independent_segments,
            "{tag}: no EXT-X-INDEPENDENT-SEGMENTS"
        );
        assert!(media.segments.len() >= 3, "{tag}: still cut into segments");
        for (i, seg) in materialize(&out, &media, &tag).iter().enumerate() {
            let first = probe::packets(&seg.file)
                .into_iter()
                .find(|p| p.kind == "video")
                .expect("video");
            assert!(
                first.key,
                "{tag}: segment {i} starts on a random-access picture"
            );
        }
        let (in_frames, _) = probe::video_frame_and_packet_counts(&input);
        let (frames, _) = probe::video_frame_and_packet_counts(&out.join("master.m3u8"));
        assert_eq!(
            frames, in_frames,
            "{tag}: played in order, every frame decodes"
        );
    }
}

/// 9 s of 30 fps HEVC: three 3 s x265 encodes with open GOPs (CRA every 15 frames, RASL
/// pictures before each) joined without re-encoding, so each part opens with an IDR.
fn hevc_open_gop_with_idr_every_3s() -> PathBuf {
    let dir = work_dir().join("media");
    std::fs::create_dir_all(&dir).expect("media dir");
    let out = dir.join("hevc_open_gop_idr3s.mp4");
    if out.exists() {
        return out;
    }
    let part = dir.join("hevc_open_gop_part.mp4");
    let ffmpeg = |args: &[&str]| {
        let o = crate::common::run(std::process::Command::new("ffmpeg").args(args));
        assert!(
            o.status.success(),
            "ffmpeg {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ffmpeg(&[
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30:duration=3",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "keyint=15:min-keyint=15:open-gop=1:scenecut=0:log-level=error",
        "-tag:v",
        "hvc1",
        "-pix_fmt",
        "yuv420p",
        part.to_str().unwrap(),
    ]);
    let list = dir.join("hevc_open_gop_parts.txt");
    let line = format!("file '{}'\n", part.display());
    std::fs::write(&list, line.repeat(3)).expect("concat list");
    let tmp = dir.join(".tmp-hevc_open_gop_idr3s.mp4");
    ffmpeg(&[
        "-v",
        "error",
        "-y",
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        list.to_str().unwrap(),
        "-c",
        "copy",
        "-f",
        "mp4",
        tmp.to_str().unwrap(),
    ]);
    std::fs::rename(&tmp, &out).expect("rename");
    out
}
