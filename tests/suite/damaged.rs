// SPDX-License-Identifier: MIT OR Apache-2.0
//! Damaged and unusual MP4s (issue 11): where `ffmpeg -c copy -f hls` packages a file,
//! `hlsorigin package` packages it too (the decoded frames equal the intact file's and
//! ffmpeg's own HLS output's), or refuses with one line naming track, sample, byte offset and
//! the flag that would package it. Each fixture is a normal ffmpeg MP4 whose boxes are
//! rewritten here.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::boxes::{child, parse, serialize, Bx};
use crate::common::{bin, out_dir, package, run, work_dir};

/// The `stbl` children of track `n` (0-based, in moov order).
fn stbl(file: &mut [Bx], n: usize) -> &mut Vec<Bx> {
    let moov = child(file, b"moov").children.as_mut().unwrap();
    let trak = moov
        .iter_mut()
        .filter(|b| &b.kind == b"trak")
        .nth(n)
        .unwrap();
    let mdia = child(trak.children.as_mut().unwrap(), b"mdia");
    let minf = child(mdia.children.as_mut().unwrap(), b"minf");
    let stbl = child(minf.children.as_mut().unwrap(), b"stbl");
    stbl.children.as_mut().unwrap()
}

fn u32s(payload: &[u8], skip: usize) -> Vec<u32> {
    payload[skip..]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

/// Full box payload: version/flags 0, entry count, then the u32 words.
fn table(count: usize, words: &[u32]) -> Vec<u8> {
    let mut v = vec![0u8; 4];
    v.extend_from_slice(&(count as u32).to_be_bytes());
    for w in words {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v
}

/// Byte offset of every sample of a track from its stsz/stsc/stco (a well-formed table).
fn sample_offsets(stbl: &mut [Bx]) -> (Vec<u64>, Vec<u32>) {
    let stsz = u32s(&child(stbl, b"stsz").payload, 4);
    assert_eq!(stsz[0], 0, "fixture has per-sample sizes");
    let sizes = stsz[2..].to_vec();
    let chunks: Vec<u64> = u32s(&child(stbl, b"stco").payload, 8)
        .into_iter()
        .map(u64::from)
        .collect();
    let stsc = u32s(&child(stbl, b"stsc").payload, 8);
    let mut offsets = Vec::new();
    for (ci, &start) in chunks.iter().enumerate() {
        let e = stsc
            .chunks_exact(3)
            .rev()
            .find(|e| e[0] as usize <= ci + 1)
            .unwrap();
        let mut off = start;
        for _ in 0..e[1] {
            if offsets.len() < sizes.len() {
                offsets.push(off);
                off += u64::from(sizes[offsets.len() - 1]);
            }
        }
    }
    (offsets, sizes)
}

fn dir() -> PathBuf {
    let d = work_dir().join("damaged");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A 2 s 160x120 H.264 (+ AAC with `audio`) MP4 made by ffmpeg, moov first or last.
fn source(name: &str, audio: bool, faststart: bool) -> PathBuf {
    let p = dir().join(name);
    if p.exists() {
        return p;
    }
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=160x120:rate=25:duration=2");
    if audio {
        cmd.args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=2",
        ])
        .args(["-c:a", "aac", "-b:a", "64k"]);
    }
    cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-g", "25"]);
    if faststart {
        cmd.args(["-movflags", "+faststart"]);
    }
    // Tests share sources and run in parallel: each writes its own temporary file.
    let tid = std::thread::current().id();
    let tmp = dir().join(format!("{name}.{}.{tid:?}.tmp.mp4", std::process::id()));
    assert!(run(cmd.arg(&tmp)).status.success(), "ffmpeg makes {name}");
    std::fs::rename(&tmp, &p).unwrap();
    p
}

/// MD5 of every decoded video frame (ffmpeg framemd5), in order.
fn frame_md5s(input: &Path) -> Vec<String> {
    frame_md5s_of(input, "0:v:0")
}

/// MD5 of every decoded frame of stream `map` (ffmpeg framemd5), in order.
fn frame_md5s_of(input: &Path, map: &str) -> Vec<String> {
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(input)
        .args(["-map", map, "-f", "framemd5", "-"]));
    assert!(
        o.status.success(),
        "ffmpeg decodes {}: {}",
        input.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|s| s.trim().to_string()))
        .collect()
}

/// Runs `ffmpeg -c copy -f hls` on `input`; the playlist when ffmpeg packages it.
fn ffmpeg_hls(input: &Path, name: &str) -> Option<PathBuf> {
    let out = out_dir(&format!("damaged-ffmpeg-{name}"));
    std::fs::create_dir_all(&out).unwrap();
    let pl = out.join("index.m3u8");
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(input)
        .args([
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_list_size",
            "0",
        ])
        .arg(&pl));
    o.status.success().then_some(pl)
}

/// `hlsorigin package` must fail with one line containing every `needle`.
fn assert_refused(input: &Path, name: &str, args: &[&str], needles: &[&str]) {
    let out = out_dir(&format!("damaged-refused-{name}"));
    let o = run(Command::new(bin())
        .arg("package")
        .arg(input)
        .arg("-o")
        .arg(&out)
        .args(["--quiet"])
        .args(args));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "{name}: package must fail, stderr: {err}"
    );
    let line = err
        .lines()
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("{name}: no line with {needles:?} in: {err}"));
    assert!(!line.is_empty());
    assert!(
        !out.join("master.m3u8").exists(),
        "{name}: nothing in OUTDIR"
    );
}

/// Packages `input` in both formats; every decoded frame equals `want`.
fn assert_packages_to(input: &Path, name: &str, args: &[&str], want: &[String]) {
    for format in ["ts", "fmp4"] {
        let out = out_dir(&format!("damaged-{name}-{format}"));
        let mut a = vec!["--quiet", "--format", format, "--segment-duration", "1"];
        a.extend_from_slice(args);
        package(input, &out, &a);
        let got = frame_md5s(&out.join("stream.m3u8"));
        assert_eq!(got, want, "{name} ({format}): decoded frames");
    }
}

/// Rewrites track 0 of `src` into `name`: chunks laid out by `layout` (runs of (first chunk,
/// samples per chunk), as ffmpeg reads the table) and described by the odd `stsc` entries
/// (first_chunk, samples_per_chunk, sample_description_index). The fixture's samples are
/// contiguous (one track), so any chunking is valid.
fn with_stsc(src: &Path, name: &str, layout: &[(u32, u32)], stsc: &[[u32; 3]]) -> PathBuf {
    let data = std::fs::read(src).unwrap();
    let mut file = parse(&data);
    let stbl = stbl(&mut file, 0);
    let (offsets, sizes) = sample_offsets(stbl);
    for i in 1..offsets.len() {
        assert_eq!(
            offsets[i],
            offsets[i - 1] + u64::from(sizes[i - 1]),
            "contiguous"
        );
    }
    let mut chunks = Vec::new();
    let mut i = 0usize;
    while i < offsets.len() {
        let chunk_no = chunks.len() as u32 + 1;
        let per = layout.iter().rev().find(|r| r.0 <= chunk_no).unwrap().1;
        chunks.push(u32::try_from(offsets[i]).unwrap());
        i += per as usize;
    }
    child(stbl, b"stco").payload = table(chunks.len(), &chunks);
    let words: Vec<u32> = stsc.iter().flatten().copied().collect();
    child(stbl, b"stsc").payload = table(stsc.len(), &words);
    let p = dir().join(name);
    std::fs::write(&p, serialize(&file)).unwrap();
    p
}

/// ISO/IEC 14496-12 8.7.4 sample-to-chunk tables with odd entries package as ffmpeg reads
/// them (the same decoded frames as the intact file and as ffmpeg's own HLS output); an
/// empty table with samples is refused with the track and byte offset.
#[test]
fn odd_sample_to_chunk_tables() {
    let src = source("stsc_src.mp4", false, false);
    let want = frame_md5s(&src);
    assert_eq!(want.len(), 50);
    #[allow(clippy::type_complexity)]
    // (name, layout as ffmpeg reads it, stsc entries, whether ffmpeg packages it)
    let cases: &[(&str, &[(u32, u32)], &[[u32; 3]], bool)] = &[
        ("first_chunk_2", &[(1, 5)], &[[2, 5, 1]], true),
        (
            "duplicate",
            &[(1, 5)],
            &[[1, 5, 1], [4, 5, 1], [4, 5, 1]],
            true,
        ),
        (
            "zero_per_chunk",
            &[(1, 5), (4, 4)],
            &[[1, 5, 1], [3, 0, 1], [5, 4, 1]],
            true,
        ),
        ("first_chunk_0", &[(1, 2)], &[[0, 5, 1], [3, 2, 1]], true),
        (
            "sdi_0_last",
            &[(1, 3), (4, 7)],
            &[[1, 3, 1], [4, 7, 0]],
            true,
        ),
        // ffmpeg refuses ("contradictionary STSC and STCO"); the entry is never reached, so
        // packaging is unambiguous.
        (
            "past_chunk_count",
            &[(1, 5)],
            &[[1, 5, 1], [900, 3, 1]],
            false,
        ),
    ];
    for (name, layout, stsc, ffmpeg_ok) in cases {
        let file = with_stsc(&src, &format!("stsc_{name}.mp4"), layout, stsc);
        match ffmpeg_hls(&file, name) {
            Some(theirs) => {
                assert_eq!(frame_md5s(&theirs), want, "{name}: ffmpeg's own HLS output");
            }
            None => assert!(!ffmpeg_ok, "{name}: ffmpeg -c copy -f hls packages it"),
        }
        assert_packages_to(&file, name, &[], &want);
    }
    // ffmpeg warns "missing mandatory atoms" and writes one empty segment (exit 0, nothing
    // plays); a refusal that names the box is more useful.
    let empty = with_stsc(&src, "stsc_empty.mp4", &[(1, 5)], &[]);
    assert_refused(
        &empty,
        "stsc_empty",
        &[],
        &["track 1", "stsc is empty", "byte offset"],
    );
}

/// `src` (moov first) with every stco turned into a co64 (ISO/IEC 14496-12 8.7.5), offsets
/// moved by the moov's growth; `edit` then changes the video track's 64-bit offsets.
fn with_co64(src: &Path, name: &str, edit: impl Fn(&mut Vec<u64>)) -> PathBuf {
    let data = std::fs::read(src).unwrap();
    let build = |shift: u64| {
        let mut file = parse(&data);
        let tracks = child(&mut file, b"moov")
            .children
            .as_ref()
            .unwrap()
            .iter()
            .filter(|b| &b.kind == b"trak")
            .count();
        for t in 0..tracks {
            let stbl = stbl(&mut file, t);
            let stco = child(stbl, b"stco");
            let mut offs: Vec<u64> = u32s(&stco.payload, 8)
                .into_iter()
                .map(|o| u64::from(o) + shift)
                .collect();
            if t == 0 {
                edit(&mut offs);
            }
            let mut p = vec![0u8; 4];
            p.extend_from_slice(&(offs.len() as u32).to_be_bytes());
            for o in &offs {
                p.extend_from_slice(&o.to_be_bytes());
            }
            stco.kind = *b"co64";
            stco.payload = p;
        }
        serialize(&file)
    };
    let grown = (build(0).len() - data.len()) as u64;
    let p = dir().join(name);
    std::fs::write(&p, build(grown)).unwrap();
    p
}

/// Chunk offsets past the end of the file (co64, 64-bit offsets; and a file cut short) are
/// refused with track, sample, byte offset and `--allow-truncated`, which packages every
/// complete sample: the decoded frames are the intact file's first frames.
#[test]
fn chunk_offsets_past_the_end() {
    let src = source("co64_src.mp4", true, true);
    let want = frame_md5s(&src);
    let intact = with_co64(&src, "co64.mp4", |_| {});
    assert_eq!(frame_md5s(&intact), want, "co64 rewrite is faithful");
    assert_packages_to(&intact, "co64", &[], &want);

    let far = with_co64(&src, "co64_far.mp4", |o| {
        let last = o.len() - 1;
        o[last] = 1 << 33;
    });
    let data = std::fs::read(&intact).unwrap();
    let cut = dir().join("co64_cut.mp4");
    std::fs::write(&cut, &data[..data.len() * 6 / 10]).unwrap();
    for (name, file) in [("co64_far", &far), ("co64_cut", &cut)] {
        let needles = ["track 1: sample", "byte offset", "--allow-truncated"];
        assert_refused(file, name, &[], &needles);
        for format in ["ts", "fmp4"] {
            let out = out_dir(&format!("damaged-{name}-{format}"));
            let args = ["--quiet", "--format", format, "--allow-truncated"];
            package(file, &out, &args);
            let got = frame_md5s(&out.join("stream.m3u8"));
            assert!(
                got.len() > 10 && got.len() < want.len(),
                "{name}: {}",
                got.len()
            );
            assert_eq!(got[..], want[..got.len()], "{name} ({format}): a prefix");
        }
    }
    let far_sample = format!("at byte offset {}", 1u64 << 33);
    assert_refused(&far, "co64_far_offset", &[], &[&far_sample]);
}

/// A descriptor (ISO/IEC 14496-1 §8.3.3) with its length in `width` bytes.
fn desc(tag: u8, body: &[u8], width: usize) -> Vec<u8> {
    let mut v = vec![tag];
    for i in (0..width).rev() {
        let b = ((body.len() >> (7 * i)) & 0x7F) as u8;
        v.push(if i > 0 { b | 0x80 } else { b });
    }
    v.extend_from_slice(body);
    v
}

/// Body of the first descriptor in `data` (tag checked), and the bytes after it.
fn read_desc(data: &[u8], tag: u8) -> (&[u8], &[u8]) {
    assert_eq!(data[0], tag);
    let (mut len, mut i) = (0usize, 1usize);
    loop {
        len = (len << 7) | usize::from(data[i] & 0x7F);
        i += 1;
        if data[i - 1] & 0x80 == 0 {
            break;
        }
    }
    (&data[i..i + len], &data[i + len..])
}

/// Rewrites the esds of track 1 (the AAC track) of `src`: `make(asc)` returns the new
/// descriptors (after version/flags).
fn with_esds(src: &Path, name: &str, make: impl Fn(&[u8]) -> Vec<u8>) -> PathBuf {
    let data = std::fs::read(src).unwrap();
    let mut file = parse(&data);
    let stsd = &mut child(stbl(&mut file, 1), b"stsd").payload;
    let at = stsd.windows(4).position(|w| w == b"esds").unwrap() - 4;
    let size = u32::from_be_bytes(stsd[at..at + 4].try_into().unwrap()) as usize;
    let (es, _) = read_desc(&stsd[at + 12..at + size], 0x03);
    let (dc, _) = read_desc(&es[3..], 0x04);
    let (asc, _) = read_desc(&dc[13..], 0x05);
    let mut body = vec![0u8; 4];
    body.extend(make(asc));
    let mut new = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    new.extend_from_slice(b"esds");
    new.extend(body);
    stsd.splice(at..at + size, new.iter().copied());
    // The mp4a entry (after version/flags and entry_count) grows or shrinks with it.
    let entry = u32::from_be_bytes(stsd[8..12].try_into().unwrap()) as usize;
    let entry = (entry + new.len() - size) as u32;
    stsd[8..12].copy_from_slice(&entry.to_be_bytes());
    let p = dir().join(name);
    std::fs::write(&p, serialize(&file)).unwrap();
    p
}

/// esds (ISO/IEC 14496-14 §5.6) as other writers make it: 1-byte descriptor lengths, extra
/// descriptors, no SLConfigDescriptor — packaged, the decoded audio equals the intact
/// file's; no DecSpecificInfo for AAC — refused naming the track.
#[test]
fn esds_variants() {
    let src = source("esds_src.mp4", true, false);
    let out = out_dir("damaged-esds-intact");
    package(&src, &out, &["--quiet", "--format", "ts"]);
    let want = frame_md5s_of(&out.join("stream.m3u8"), "0:a:0");
    assert!(want.len() > 50, "{} audio frames", want.len());
    let es = |dc: Vec<u8>, tail: Vec<u8>, w: usize| {
        let mut es = vec![0, 2, 0];
        es.extend(desc(0x04, &dc, w));
        es.extend(tail);
        desc(0x03, &es, w)
    };
    let dc = |asc: &[u8], extra: &[u8], w: usize| {
        let mut dc = vec![0x40, 0x15, 0, 0, 0, 0, 0, 0xFA, 0, 0, 0, 0xFA, 0];
        if !asc.is_empty() {
            dc.extend(desc(0x05, asc, w));
        }
        dc.extend_from_slice(extra);
        dc
    };
    let sl = |w| desc(0x06, &[2], w);
    let cases: Vec<(&str, PathBuf)> = vec![
        (
            "esds_len1",
            with_esds(&src, "esds_len1.mp4", |a| es(dc(a, &[], 1), sl(1), 1)),
        ),
        (
            "esds_len2",
            with_esds(&src, "esds_len2.mp4", |a| es(dc(a, &[], 2), sl(2), 2)),
        ),
        (
            "esds_extra",
            with_esds(&src, "esds_extra.mp4", |a| {
                let mut tail = sl(4);
                tail.extend(desc(0x0A, b"eng\0", 4)); // language descriptor
                es(dc(a, &desc(0x14, &[1], 4), 4), tail, 4)
            }),
        ),
        (
            "esds_no_sl",
            with_esds(&src, "esds_no_sl.mp4", |a| es(dc(a, &[], 4), vec![], 4)),
        ),
    ];
    for (name, file) in &cases {
        let theirs = ffmpeg_hls(file, name).expect("ffmpeg packages it");
        assert!(
            !frame_md5s_of(&theirs, "0:a:0").is_empty(),
            "{name}: ffmpeg"
        );
        for format in ["ts", "fmp4"] {
            let out = out_dir(&format!("damaged-{name}-{format}"));
            package(file, &out, &["--quiet", "--format", format]);
            let got = frame_md5s_of(&out.join("stream.m3u8"), "0:a:0");
            assert_eq!(got, want, "{name} ({format}): decoded audio");
        }
    }
    let no_dsi = with_esds(&src, "esds_no_dsi.mp4", |_| es(dc(&[], &[], 4), sl(4), 4));
    let needles = ["track 2", "mp4a", "byte offset", "no DecoderSpecificInfo"];
    assert_refused(&no_dsi, "esds_no_dsi", &[], &needles);
}

/// A NAL length (ISO/IEC 14496-15 §5.3.2) that overruns its sample: refused naming track,
/// sample and byte offset and `--drop-bad-samples`, which drops that sample with a warning
/// and a count at the end; the first GOP decodes as in the intact file.
#[test]
fn nal_length_overruns_sample() {
    let src = source("stsc_src.mp4", false, false);
    let want = frame_md5s(&src);
    let mut data = std::fs::read(&src).unwrap();
    let mut file = parse(&data);
    let (offsets, sizes) = sample_offsets(stbl(&mut file, 0));
    let (bad, off) = (30usize, offsets[30] as usize);
    data[off..off + 4].copy_from_slice(&(sizes[bad] + 100).to_be_bytes());
    let p = dir().join("nal_overrun.mp4");
    std::fs::write(&p, &data).unwrap();

    let sample = format!("track 1: sample {bad} ");
    let offset = format!("sample at byte offset {off}");
    let needles = [sample.as_str(), "overruns", &offset, "--drop-bad-samples"];
    assert_refused(&p, "nal_overrun", &[], &needles);
    // ffmpeg 5.1 -c copy -f hls stops here ("Invalid NAL unit size", h264_mp4toannexb).
    assert!(
        ffmpeg_hls(&p, "nal_overrun").is_none(),
        "ffmpeg packages it"
    );
    for format in ["ts", "fmp4"] {
        let out = out_dir(&format!("damaged-nal-overrun-{format}"));
        let args = ["--quiet", "--format", format, "--drop-bad-samples"];
        let o = package(&p, &out, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("sample {bad} ")) && err.contains("dropped"),
            "{err}"
        );
        assert!(
            err.contains("1 sample(s) dropped (--drop-bad-samples)"),
            "{err}"
        );
        let pkts = crate::common::probe::packets(&out.join("stream.m3u8"));
        assert_eq!(pkts.len(), want.len() - 1, "{format}: one packet fewer");
        let got = frame_md5s(&out.join("stream.m3u8"));
        assert_eq!(got[..25], want[..25], "{format}: the first GOP is intact");
    }
}

/// Track 0 of `src` with a second sample description (`edit` applied to a copy of the
/// first, ISO/IEC 14496-12 §8.5.2) used by chunks 4 to 6 (5 samples a chunk).
fn with_two_entries(src: &Path, name: &str, edit: impl Fn(&mut Vec<u8>)) -> PathBuf {
    let plain = with_stsc(src, &format!("{name}.base.mp4"), &[(1, 5)], &[[1, 5, 1]]);
    let mut file = parse(&std::fs::read(&plain).unwrap());
    let stbl = stbl(&mut file, 0);
    let stsd = &mut child(stbl, b"stsd").payload;
    let mut second = stsd[8..].to_vec();
    edit(&mut second);
    stsd[4..8].copy_from_slice(&2u32.to_be_bytes());
    stsd.extend(second);
    let words = [1, 5, 1, 4, 5, 2, 7, 5, 1];
    child(stbl, b"stsc").payload = table(3, &words);
    let p = dir().join(name);
    std::fs::write(&p, serialize(&file)).unwrap();
    p
}

/// Several sample descriptions in one track: packaged when they carry the same
/// configuration (identical, another compressor name or width); refused naming the track,
/// sample and description when the parameter sets change.
#[test]
fn several_sample_descriptions() {
    let src = source("stsc_src.mp4", false, false);
    let want = frame_md5s(&src);
    // VisualSampleEntry (§12.1.3): width at byte 32 of the entry, compressorname at 50.
    let same = with_two_entries(&src, "stsd_same.mp4", |_| {});
    let renamed = with_two_entries(&src, "stsd_renamed.mp4", |e| {
        e[50..59].copy_from_slice(b"\x08Other264")
    });
    let wider = with_two_entries(&src, "stsd_wider.mp4", |e| {
        e[32..34].copy_from_slice(&320u16.to_be_bytes())
    });
    let cases = [
        ("stsd_same", &same),
        ("stsd_renamed", &renamed),
        ("stsd_wider", &wider),
    ];
    for (name, file) in cases {
        let theirs = ffmpeg_hls(file, name).expect("ffmpeg packages it");
        assert_eq!(frame_md5s(&theirs), want, "{name}: ffmpeg's own HLS output");
        assert_packages_to(file, name, &[], &want);
    }
    // avcC (ISO/IEC 14496-15 §5.3.3.1): the SPS starts 8 bytes in; its level_idc is byte 3.
    let new_sps = with_two_entries(&src, "stsd_new_sps.mp4", |e| {
        let at = e.windows(4).position(|w| w == b"avcC").unwrap() + 4 + 8 + 3;
        e[at] = e[at].wrapping_add(1);
    });
    let needles = ["track 1: sample 15 ", "sample description 2", "differs"];
    assert_refused(&new_sps, "stsd_new_sps", &[], &needles);
}

/// MPEG-4 Part 2 video (`mp4v`, ISO/IEC 14496-2) + AAC: packaged into MPEG-TS as ffmpeg
/// does (stream_type 0x10); every segment and every I-frame entry decodes on its own (the
/// VOS/VOL headers go in front of each keyframe); fMP4 is refused naming `--format ts`.
#[test]
fn mpeg4_part2_video_packages_into_ts_only() {
    let src = dir().join("mpeg4.mp4");
    if !src.exists() {
        let tmp = dir().join(format!("mpeg4.{}.tmp.mp4", std::process::id()));
        let made = run(Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=160x120:rate=25:duration=3")
            .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=3"])
            .args(["-c:v", "mpeg4", "-g", "25", "-bf", "2", "-c:a", "aac"])
            .arg(&tmp));
        assert!(made.status.success(), "ffmpeg makes mpeg4.mp4");
        std::fs::rename(&tmp, &src).unwrap();
    }
    assert!(ffmpeg_hls(&src, "mpeg4").is_some(), "ffmpeg packages it");
    assert_refused(
        &src,
        "mpeg4-fmp4",
        &["--format", "fmp4"],
        &["MPEG-4 Part 2", "--format ts"],
    );

    let out = out_dir("damaged-mpeg4-ts");
    package(
        &src,
        &out,
        &["--quiet", "--format", "ts", "--segment-duration", "1"],
    );
    assert_eq!(frame_md5s(&out.join("stream.m3u8")), frame_md5s(&src));
    let master = std::fs::read_to_string(out.join("master.m3u8")).unwrap();
    assert!(master.contains("CODECS=\"mp4v.20."), "{master}");
    let media = std::fs::read_to_string(out.join("stream.m3u8")).unwrap();
    let segments: Vec<&str> = media.lines().filter(|l| l.ends_with(".ts")).collect();
    assert!(segments.len() >= 3, "{media}");
    for s in &segments {
        assert!(!frame_md5s(&out.join(s)).is_empty(), "{s} decodes alone");
    }
    // Each I-frame entry: its byte range of the segment decodes to one picture.
    let text = std::fs::read(out.join("stream_iframes.m3u8")).unwrap();
    let Ok(m3u8_rs::Playlist::MediaPlaylist(iframes)) = m3u8_rs::parse_playlist_res(&text) else {
        panic!("{}", String::from_utf8_lossy(&text));
    };
    assert!(
        iframes.segments.len() >= 3,
        "at least one keyframe a second"
    );
    for (i, e) in iframes.segments.iter().enumerate() {
        let range = e.byte_range.as_ref().expect("EXT-X-BYTERANGE");
        let offset = usize::try_from(range.offset.expect("offset")).unwrap();
        let end = offset + usize::try_from(range.length).unwrap();
        let data = std::fs::read(out.join(&e.uri)).unwrap();
        let piece = out.join(format!("iframe-{i}.ts"));
        std::fs::write(&piece, &data[offset..end]).unwrap();
        assert_eq!(frame_md5s(&piece).len(), 1, "I-frame {i} decodes");
    }
}
