// SPDX-License-Identifier: MIT OR Apache-2.0
//! End-to-end check against ffmpeg: encode a short MP4 with ffmpeg, take its samples (byte
//! ranges from `ffprobe -show_packets`, configuration from the stream extradata), cut and mux
//! them, and have ffmpeg decode and ffprobe inspect the result. Skipped when ffmpeg is missing.

use super::*;
use crate::sample::Sample;
use crate::segmenter::Segmenter;
use bytes::Bytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tool(name: &str, args: &[&str]) -> Option<std::process::Output> {
    Command::new(name).args(args).output().ok()
}

fn have_ffmpeg() -> bool {
    ["ffmpeg", "ffprobe"]
        .iter()
        .all(|t| tool(t, &["-version"]).is_some_and(|o| o.status.success()))
}

fn has_encoder(name: &str) -> bool {
    tool("ffmpeg", &["-hide_banner", "-encoders"])
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {name} ")))
}

fn probe(path: &Path, args: &[&str]) -> String {
    let mut all = vec!["-v", "error"];
    all.extend_from_slice(args);
    let p = path.to_str().unwrap();
    all.push(p);
    let out = tool("ffprobe", &all).unwrap();
    assert!(
        out.status.success(),
        "ffprobe {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `k=v|k=v` lines of `-of compact=p=0`.
fn compact(text: &str) -> Vec<HashMap<String, String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split('|')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// Per stream: (codec_name, time base denominator, extradata) from `-show_streams -show_data`.
fn streams(path: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let text = probe(path, &["-show_streams", "-show_data"]);
    let mut out = vec![];
    let (mut codec, mut den, mut extra, mut in_extra) = (String::new(), 0, vec![], false);
    for line in text.lines() {
        if in_extra && line.len() > 10 && line.as_bytes()[8] == b':' {
            let hex: String = line[10..line.len().min(49)].split_whitespace().collect();
            for i in (0..hex.len()).step_by(2) {
                extra.push(u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
            }
            continue;
        }
        in_extra = false;
        if let Some(v) = line.strip_prefix("codec_name=") {
            codec = v.to_owned();
        } else if let Some(v) = line.strip_prefix("time_base=1/") {
            den = v.parse().unwrap();
        } else if line == "extradata=" {
            in_extra = true;
        } else if line == "[/STREAM]" {
            out.push((std::mem::take(&mut codec), den, std::mem::take(&mut extra)));
        }
    }
    out
}

fn u16_at(b: &[u8], i: usize) -> usize {
    usize::from(u16::from_be_bytes([b[i], b[i + 1]]))
}

/// SPS and PPS lists of an avcC record (ISO/IEC 14496-15 5.3.3.1).
fn avcc_sets(c: &[u8]) -> (Vec<Bytes>, Vec<Bytes>) {
    assert_eq!(c[4] & 3, 3, "4-byte NAL lengths");
    let mut pos = 5;
    let mut lists = [vec![], vec![]];
    for (k, list) in lists.iter_mut().enumerate() {
        let n = if k == 0 { c[pos] & 0x1F } else { c[pos] };
        pos += 1;
        for _ in 0..n {
            let len = u16_at(c, pos);
            list.push(Bytes::copy_from_slice(&c[pos + 2..pos + 2 + len]));
            pos += 2 + len;
        }
    }
    let [sps, pps] = lists;
    (sps, pps)
}

/// VPS, SPS and PPS arrays of an hvcC record (ISO/IEC 14496-15 8.3.3.1).
fn hvcc_config(c: &[u8]) -> CodecConfig {
    assert_eq!(c[21] & 3, 3, "4-byte NAL lengths");
    let (mut vps, mut sps, mut pps) = (vec![], vec![], vec![]);
    let mut pos = 23;
    for _ in 0..c[22] {
        let kind = c[pos] & 0x3F;
        let n = u16_at(c, pos + 1);
        pos += 3;
        for _ in 0..n {
            let len = u16_at(c, pos);
            let nal = Bytes::copy_from_slice(&c[pos + 2..pos + 2 + len]);
            match kind {
                32 => vps.push(nal),
                33 => sps.push(nal),
                34 => pps.push(nal),
                _ => {}
            }
            pos += 2 + len;
        }
    }
    CodecConfig::Hevc {
        vps,
        sps,
        pps,
        in_band: false,
    }
}

fn track_info(id: u32, codec: &str, timescale: u32, extra: &[u8]) -> TrackInfo {
    let config = match codec {
        "h264" => {
            let (sps, pps) = avcc_sets(extra);
            CodecConfig::Avc {
                sps,
                pps,
                in_band: false,
            }
        }
        "hevc" => hvcc_config(extra),
        "aac" => CodecConfig::Aac {
            asc: Bytes::copy_from_slice(extra),
        },
        "ac3" => CodecConfig::Ac3 {
            dac3: Bytes::copy_from_slice(extra),
        },
        "eac3" => CodecConfig::Eac3 {
            dec3: Bytes::copy_from_slice(extra),
        },
        "mp3" => CodecConfig::Mp3,
        other => panic!("codec {other} not expected here"),
    };
    TrackInfo {
        id,
        config,
        timescale,
        width: 320,
        height: 240,
        sample_rate: 48_000,
        channels: 2,
        language: None,
        duration: None,
    }
}

/// Encodes `secs` seconds of test video + a sine per audio codec into an MP4.
fn make_mp4(dir: &Path, video: &str, audio: &[&str]) -> PathBuf {
    let path = dir.join("in.mp4");
    let mut args: Vec<String> = [
        "-y",
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30",
    ]
    .map(String::from)
    .to_vec();
    for _ in audio {
        args.extend(
            ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"].map(String::from),
        );
    }
    args.extend(["-t", "3", "-map", "0:v"].map(String::from));
    for i in 0..audio.len() {
        args.extend(["-map".into(), format!("{}:a", i + 1)]);
    }
    args.extend(["-c:v", video, "-g", "30", "-bf", "2", "-pix_fmt", "yuv420p"].map(String::from));
    if video == "libx265" {
        // Closed GOPs: x265's default open GOP has no clean cut point after the first picture,
        // so the segmenter would cut at twice the target only (segmenter.rs, module docs).
        args.extend(
            [
                "-x265-params",
                "log-level=error:open-gop=0",
                "-tag:v",
                "hvc1",
            ]
            .map(String::from),
        );
    }
    for (i, a) in audio.iter().enumerate() {
        args.extend([
            format!("-c:a:{i}"),
            (*a).to_owned(),
            format!("-ac:a:{i}"),
            "2".into(),
        ]);
    }
    args.push(path.to_str().unwrap().to_owned());
    let out = Command::new("ffmpeg").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// Per stream index: the pts list, in packet order.
fn pts_by_stream(packets: &[HashMap<String, String>]) -> HashMap<usize, Vec<i64>> {
    let mut out: HashMap<usize, Vec<i64>> = HashMap::new();
    for p in packets {
        let idx = p["stream_index"].parse().unwrap();
        out.entry(idx).or_default().push(p["pts"].parse().unwrap());
    }
    out
}

fn round_trip(name: &str, video: &str, audio: &[&str], want_codecs: &[&str]) {
    if !have_ffmpeg() || ![video].iter().chain(audio).all(|e| has_encoder(e)) {
        return; // ffmpeg or an encoder is missing: nothing to check against.
    }
    let dir = std::env::temp_dir().join("tsmux").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mp4 = make_mp4(&dir, video, audio);
    let file = std::fs::read(&mp4).unwrap();
    let info = streams(&mp4);
    let tracks: Vec<TrackInfo> = info
        .iter()
        .enumerate()
        .map(|(i, (codec, den, extra))| track_info(i as u32 + 1, codec, *den, extra))
        .collect();

    let packets = compact(&probe(&mp4, &["-show_packets", "-of", "compact=p=0"]));
    let mut segmenter = Segmenter::new(&tracks, 0.5);
    let mut muxer = TsMuxer::new(tracks.clone()).unwrap();
    let mut ts = vec![];
    let mut segments = 0;
    let mut muxed: Vec<&HashMap<String, String>> = vec![];
    let mut feed = |seg: Option<Segment>, ts: &mut Vec<u8>| {
        if let Some(seg) = seg {
            muxer.write_segment(&seg, ts).unwrap();
            segments += 1;
        }
    };
    for p in &packets {
        let field = |k: &str| p[k].parse::<i64>().unwrap();
        let (pos, size) = (field("pos") as usize, field("size") as usize);
        let s = Sample {
            track: field("stream_index") as usize,
            dts: field("dts"),
            cts_offset: (field("pts") - field("dts")) as i32,
            duration: field("duration") as u32,
            keyframe: p["flags"].starts_with('K'),
            data: Bytes::copy_from_slice(&file[pos..pos + size]),
        };
        muxed.push(p);
        feed(segmenter.push(s), &mut ts);
    }
    feed(segmenter.finish(), &mut ts);
    assert_eq!(
        segmenter.dropped_leading, 0,
        "{name}: every input packet was muxed"
    );
    assert!(segments >= 3, "{name}: {segments} segments");
    let out_ts = dir.join("out.ts");
    std::fs::write(&out_ts, &ts).unwrap();

    // ffmpeg decodes everything without a complaint.
    let dec = tool(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            out_ts.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ],
    )
    .unwrap();
    assert!(dec.status.success());
    assert_eq!(
        String::from_utf8_lossy(&dec.stderr),
        "",
        "{name}: ffmpeg decode errors"
    );

    // Streams: PIDs and codecs as written.
    let got = compact(&probe(
        &out_ts,
        &[
            "-show_entries",
            "stream=index,id,codec_name",
            "-of",
            "compact=p=0",
        ],
    ));
    let mut ids: Vec<(String, String)> = got
        .iter()
        .map(|s| (s["id"].clone(), s["codec_name"].clone()))
        .collect();
    ids.sort();
    ids.dedup(); // streams are listed once per program and once on their own
    let want: Vec<(String, String)> = want_codecs
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("0x{:x}", 0x100 + i), (*c).to_owned()))
        .collect();
    assert_eq!(ids, want, "{name}: streams");

    // Timestamps: every input packet's PTS, converted to 90 kHz + 1.4 s, comes back unchanged.
    let ts_index: HashMap<usize, usize> = got
        .iter()
        .map(|s| {
            let pid = usize::from_str_radix(s["id"].trim_start_matches("0x"), 16).unwrap();
            (pid - 0x100, s["index"].parse().unwrap())
        })
        .collect();
    let out_pts = pts_by_stream(&compact(&probe(
        &out_ts,
        &[
            "-show_entries",
            "packet=stream_index,pts",
            "-of",
            "compact=p=0",
        ],
    )));
    let owned: Vec<HashMap<String, String>> = muxed.into_iter().cloned().collect();
    let in_pts = pts_by_stream(&owned);
    for (track, t) in tracks.iter().enumerate() {
        let want: Vec<i64> = in_pts[&track]
            .iter()
            .map(|&p| to_90k(p, t.timescale).unwrap())
            .collect();
        let got = &out_pts[&ts_index[&track]];
        assert_eq!(
            got,
            &want,
            "{name}: PTS of track {track} ({})",
            t.config.name()
        );
    }
}

#[test]
fn ffmpeg_reads_h264_aac() {
    round_trip("h264_aac", "libx264", &["aac"], &["h264", "aac"]);
}

#[test]
fn ffmpeg_reads_hevc_ac3() {
    round_trip("hevc_ac3", "libx265", &["ac3"], &["hevc", "ac3"]);
}

#[test]
fn ffmpeg_reads_h264_mp3_eac3() {
    round_trip(
        "h264_mp3_eac3",
        "libx264",
        &["libmp3lame", "eac3"],
        &["h264", "mp3", "eac3"],
    );
}
