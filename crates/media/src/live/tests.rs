// SPDX-License-Identifier: MIT OR Apache-2.0
//! Whole-stream tests of [`LiveStream`] with synthetic input: H.264 at 30 fps with a keyframe
//! every second and AAC at 48 kHz, wall clock = media time.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::*;
use crate::sample::CodecConfig;

/// x264 High profile SPS/PPS, 320x240.
const AVC_SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
    0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0x99, 0x60,
];
const AVC_PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
/// AAC-LC 48 kHz stereo.
const ASC: &[u8] = &[0x11, 0x90];

/// 2026-11-25T00:00:00Z.
pub(super) fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_564_800)
}

pub(super) fn tracks() -> Vec<TrackInfo> {
    vec![
        TrackInfo {
            id: 256,
            config: CodecConfig::Avc {
                sps: vec![Bytes::from_static(AVC_SPS)],
                pps: vec![Bytes::from_static(AVC_PPS)],
                in_band: false,
            },
            timescale: 90_000,
            width: 320,
            height: 240,
            sample_rate: 0,
            channels: 0,
            language: None,
            duration: None,
        },
        TrackInfo {
            id: 257,
            config: CodecConfig::Aac {
                asc: Bytes::from_static(ASC),
            },
            timescale: 48_000,
            width: 0,
            height: 0,
            sample_rate: 48_000,
            channels: 2,
            language: None,
            duration: None,
        },
    ]
}

/// Synthetic A/V source in decode-time order. `base` shifts the timestamps (a new encoder
/// session starts elsewhere).
pub(super) struct Source {
    base_90k: i64,
    video: i64,
    audio: i64,
    /// Keyframe interval in frames (30 unless set).
    pub(super) gop: i64,
    /// Bytes of filler data NAL unit added to each video frame (0 unless set: none).
    pub(super) pad: usize,
}

impl Source {
    pub(super) fn new(base_secs: i64) -> Self {
        Source {
            base_90k: base_secs * 90_000,
            video: 0,
            audio: 0,
            gop: 30,
            pad: 0,
        }
    }

    /// Media seconds produced so far (video).
    fn secs(&self) -> f64 {
        self.video as f64 / 30.0
    }

    /// The next sample, video first on ties.
    fn next(&mut self) -> Sample {
        let v_time = self.video * 1_600; // in 48 kHz ticks
        let a_time = self.audio * 1024;
        if v_time <= a_time {
            let key = self.video % self.gop == 0;
            let mut data = vec![0, 0, 0, 9, if key { 0x65 } else { 0x41 }];
            data.extend_from_slice(&[0x88, 0x84, 0x21, 0xa0, 0x01, 0x02, 0x03, self.video as u8]);
            if self.pad > 0 {
                // A filler data NAL unit (H.264 type 12) of `pad` bytes.
                let len = u32::try_from(self.pad + 1).expect("small pad");
                data.extend_from_slice(&len.to_be_bytes());
                data.push(0x0c);
                data.resize(data.len() + self.pad, 0xff);
            }
            let s = Sample {
                track: 0,
                dts: self.base_90k + self.video * 3000,
                cts_offset: 0,
                duration: 3000,
                keyframe: key,
                data: Bytes::from(data),
            };
            self.video += 1;
            s
        } else {
            let s = Sample {
                track: 1,
                dts: self.base_90k * 48_000 / 90_000 + self.audio * 1024,
                cts_offset: 0,
                duration: 1024,
                keyframe: true,
                data: Bytes::from(vec![0x21, 0x10, 0x04, self.audio as u8]),
            };
            self.audio += 1;
            s
        }
    }

    /// Pushes every sample before media second `until` (wall clock = `start` + media time).
    pub(super) fn feed(
        &mut self,
        stream: &mut LiveStream,
        until: f64,
        start: SystemTime,
    ) -> Vec<Output> {
        self.feed_with(stream, until, |secs| start + Duration::from_secs_f64(secs))
    }

    /// [`Source::feed`] with the wall clock of arrival of the sample at media second `secs`
    /// given by `clock`.
    pub(super) fn feed_with(
        &mut self,
        stream: &mut LiveStream,
        until: f64,
        clock: impl Fn(f64) -> SystemTime,
    ) -> Vec<Output> {
        let mut out = vec![];
        loop {
            let (v, a) = (self.video, self.audio);
            let s = self.next();
            let secs = if s.track == 0 {
                v as f64 / 30.0
            } else {
                a as f64 * 1024.0 / 48_000.0
            };
            if secs >= until {
                // Not pushed: rewind.
                (self.video, self.audio) = (v, a);
                break;
            }
            out.extend(stream.push(s, clock(secs)).expect("push"));
        }
        out
    }
}

pub(super) fn config(format: Format, part: Option<f64>) -> LiveConfig {
    LiveConfig {
        format,
        part_duration: part,
        run_id: "r1".into(),
        rendition: "v".into(),
        ..Default::default()
    }
}

pub(super) fn puts(out: &[Output]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Put { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

pub(super) fn deletes(out: &[Output]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Delete { name } => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

pub(super) fn playlist(s: &LiveStream) -> String {
    s.render_playlist(false)
}

#[test]
fn classic_ts_sliding_window() {
    let mut s = LiveStream::new(config(Format::Ts, None), tracks()).expect("stream");
    let mut src = Source::new(10);
    let out = src.feed(&mut s, 2.5, t0());
    // The first segment is out when the keyframe at 2 s arrives; then the master.
    assert_eq!(
        puts(&out),
        ["v_r1_000000.ts", "master.m3u8", "v_iframes.m3u8", "v.m3u8"]
    );
    assert!(out.contains(&Output::Updated { msn: 0, part: None }));
    let master = out
        .iter()
        .find_map(|o| match o {
            Output::Put { name, bytes } if name == "master.m3u8" => Some(bytes.clone()),
            _ => None,
        })
        .expect("master");
    let master = String::from_utf8_lossy(&master);
    assert!(
        master.contains("CODECS=\"avc1.64000d,mp4a.40.2\",RESOLUTION=320x240,FRAME-RATE=30.000"),
        "{master}"
    );

    let out = src.feed(&mut s, 20.0, t0());
    assert!(deletes(&out).is_empty());
    let text = playlist(&s);
    let mut want = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n\
#EXT-X-INDEPENDENT-SEGMENTS\n",
    );
    for n in 3..9 {
        want.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T00:00:{:02}.000Z\n#EXTINF:2.000,\nv_r1_{n:06}.ts\n",
            2 * n
        ));
    }
    assert_eq!(text, want);
    assert_eq!(s.state().last_msn, Some(8));

    // Segment 0 left at 14 s with a 12 s longest playlist: deletable from 14 + 2 + 12 = 28 s.
    let out = src.feed(&mut s, 28.0, t0());
    assert_eq!(deletes(&out), Vec::<&str>::new(), "nothing due before 28 s");
    let out = src.feed(&mut s, 28.1, t0());
    assert_eq!(deletes(&out), ["v_r1_000000.ts"]);
    assert_eq!(
        s.next_deadline(),
        Some(t0() + Duration::from_secs(30)),
        "segment 1 next"
    );
    assert_eq!(
        deletes(&s.poll(t0() + Duration::from_secs(30))),
        ["v_r1_000001.ts"]
    );
}

/// LL-HLS golden playlist after 5 s of input (RFC 8216bis 4.4.3.7–8, 4.4.4.9, 4.4.5.3).
#[test]
fn ll_hls_golden_playlist() {
    let mut s = LiveStream::new(config(Format::Fmp4, Some(0.5)), tracks()).expect("stream");
    let mut src = Source::new(0);
    let out = src.feed(&mut s, 5.0, t0());
    let names = puts(&out);
    assert_eq!(
        &names[..4],
        [
            "v_r1_init.mp4",
            "v_r1_000000.0.m4s",
            "v.m3u8",
            "v_r1_000000.1.m4s"
        ]
    );
    let mut want = String::from(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n\
#EXT-X-INDEPENDENT-SEGMENTS\n\
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=1.5\n\
#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MAP:URI=\"v_r1_init.mp4\"\n",
    );
    for n in 0..2 {
        want.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T00:00:{:02}.000Z\n",
            2 * n
        ));
        for p in 0..4 {
            want.push_str(&format!(
                "#EXT-X-PART:DURATION=0.5,URI=\"v_r1_{n:06}.{p}.m4s\"{}\n",
                if p % 2 == 0 { ",INDEPENDENT=YES" } else { "" }
            ));
        }
        want.push_str(&format!("#EXTINF:2.000,\nv_r1_{n:06}.m4s\n"));
    }
    want.push_str(
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T00:00:04.000Z\n\
#EXT-X-PART:DURATION=0.5,URI=\"v_r1_000002.0.m4s\",INDEPENDENT=YES\n\
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"v_r1_000002.1.m4s\"\n",
    );
    assert_eq!(playlist(&s), want);
    let st = s.state();
    assert_eq!(
        (st.last_msn, st.last_msn_parts, st.next_msn, st.next_parts),
        (Some(1), 4, 2, 1)
    );
    assert!(st.delta.is_none(), "nothing to skip yet");
    assert_eq!(s.render_playlist(true), want);
}

/// Every hinted part is the next part put; each Updated follows the playlist put; a segment
/// is `styp` + its parts; part durations never exceed PART-TARGET.
#[test]
fn ll_hints_parts_and_segment_bytes() {
    let mut s = LiveStream::new(config(Format::Fmp4, Some(0.3)), tracks()).expect("stream");
    let mut src = Source::new(0);
    let out = src.feed(&mut s, 9.0, t0());
    let mut objects: BTreeMap<&str, &Bytes> = BTreeMap::new();
    let mut chunks: BTreeMap<&str, Vec<&Bytes>> = BTreeMap::new();
    let mut hint: Option<String> = None;
    let mut previous: Option<&Output> = None;
    for o in &out {
        match o {
            Output::Put { name, bytes } => {
                objects.insert(name, bytes);
                if name.ends_with(".m3u8") && name != "master.m3u8" {
                    let text = String::from_utf8_lossy(bytes);
                    hint = text
                        .lines()
                        .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI="))
                        .map(|u| u.trim_matches('"').to_owned());
                    for l in text.lines() {
                        if let Some(d) = l
                            .strip_prefix("#EXT-X-PART:DURATION=")
                            .and_then(|a| a.split(',').next())
                        {
                            let d: f64 = d.parse().expect("duration");
                            assert!(d <= 0.3, "{l}");
                        }
                    }
                } else if let (true, Some(h)) = (name.matches('.').count() == 2, &hint) {
                    assert_eq!(name, h, "the hinted part comes next");
                }
            }
            Output::Updated { .. } => {
                assert!(
                    matches!(previous, Some(Output::Put { name, .. }) if name == "v.m3u8"),
                    "Updated right after the playlist put"
                );
            }
            Output::Chunk { name, bytes } => {
                // (Before the first playlist there is no hint yet.)
                if let Some(h) = &hint {
                    assert_eq!(name, h, "chunks are of the hinted part");
                }
                assert!(!objects.contains_key(name.as_str()), "chunk after its part");
                chunks.entry(name.as_str()).or_default().push(bytes);
            }
            Output::Delete { .. } => {}
            Output::Abandon { name } => panic!("{name} abandoned"),
        }
        previous = Some(o);
    }
    // Every part was streamed as CMAF chunks first (one per video frame: 9 frames per 0.3 s
    // part), and the part is exactly its chunks.
    let parts: Vec<(&&str, &&Bytes)> = objects
        .iter()
        .filter(|(n, _)| n.matches('.').count() == 2)
        .collect();
    assert!(parts.len() >= 20, "{} parts", parts.len());
    for (name, bytes) in parts {
        let streamed = chunks.get(*name).map(Vec::as_slice).unwrap_or_default();
        assert!(streamed.len() >= 5, "{name}: {} chunks", streamed.len());
        let joined: Vec<u8> = streamed.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(&joined[..], &bytes[..], "{name} = its chunks");
        assert_eq!(&bytes[4..8], b"moof", "{name} starts with a chunk's moof");
    }
    for msn in 0..4u64 {
        let seg = objects[format!("v_r1_{msn:06}.m4s").as_str()];
        let mut concat = Vec::new();
        for p in 0.. {
            match objects.get(format!("v_r1_{msn:06}.{p}.m4s").as_str()) {
                Some(b) => concat.extend_from_slice(b),
                None => break,
            }
        }
        assert_eq!(&seg[4..8], b"styp");
        let styp_len = u32::from_be_bytes([seg[0], seg[1], seg[2], seg[3]]) as usize;
        assert_eq!(
            &seg[styp_len..],
            &concat[..],
            "segment {msn} = styp + parts"
        );
    }
}

#[test]
fn ll_parts_unlisted_then_deleted() {
    let cfg = LiveConfig {
        window: 10,
        ..config(Format::Fmp4, Some(0.5))
    };
    let mut s = LiveStream::new(cfg, tracks()).expect("stream");
    let mut src = Source::new(0);
    let out = src.feed(&mut s, 13.0, t0());
    // Live edge 12.5 s: segments ending before 6.5 s lost their parts (0, 1, 2).
    let text = playlist(&s);
    for msn in 0..6 {
        assert_eq!(
            text.contains(&format!("v_r1_{msn:06}.0.m4s")),
            msn >= 3,
            "segment {msn}: {text}"
        );
    }
    // Segment 0's parts left when the edge passed 8 s (at 8.5 s) and go 6 s later.
    assert!(deletes(&out).is_empty());
    let out = src.feed(&mut s, 14.6, t0());
    assert_eq!(
        deletes(&out),
        [
            "v_r1_000000.0.m4s",
            "v_r1_000000.1.m4s",
            "v_r1_000000.2.m4s",
            "v_r1_000000.3.m4s"
        ]
    );
    // Delta update, 8 segments: 0 and 1 start more than CAN-SKIP-UNTIL (12 s) before the end.
    let _ = src.feed(&mut s, 16.5, t0());
    let delta = s.render_playlist(true);
    assert!(delta.contains("#EXT-X-VERSION:9\n"), "{delta}");
    assert!(
        delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n"),
        "{delta}"
    );
    assert!(delta.contains("#EXT-X-MEDIA-SEQUENCE:0\n"), "{delta}");
    assert!(!delta.contains("v_r1_000001.m4s"));
    assert!(delta.contains("v_r1_000002.m4s"));
    assert_eq!(s.state().body(Some("YES")), &Bytes::from(delta));
}

/// discontinuity(): the next segment carries EXT-X-DISCONTINUITY; DISCONTINUITY-SEQUENCE
/// counts the tags that slide out (RFC 8216bis 6.2.2); an unannounced jump is caught too.
#[test]
fn discontinuities_and_sequence() {
    let mut s = LiveStream::new(config(Format::Ts, None), tracks()).expect("stream");
    let mut src = Source::new(0);
    let _ = src.feed(&mut s, 5.0, t0());
    let out = s
        .discontinuity(t0() + Duration::from_secs(5))
        .expect("disc");
    // The cut segment 2 (4 s..5 s) is out; its bit rate (the same PAT/PMT and keyframe in
    // half the time) is a new peak: BANDWIDTH is revised.
    assert_eq!(
        puts(&out),
        ["v_r1_000002.ts", "master.m3u8", "v_iframes.m3u8", "v.m3u8"]
    );
    let start2 = t0() + Duration::from_secs(7);
    let mut src2 = Source::new(1000);
    let _ = src2.feed(&mut s, 4.5, start2);
    // Timestamps jump back without a call: caught as a discontinuity.
    let start3 = t0() + Duration::from_secs(12);
    let mut src3 = Source::new(0);
    let _ = src3.feed(&mut s, 20.5, start3);
    let text = playlist(&s);
    assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:2\n"), "{text}");
    assert!(!text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");

    // Walk it back: record the sequence as the window slid.
    let mut s = LiveStream::new(config(Format::Ts, None), tracks()).expect("stream");
    let mut src = Source::new(0);
    let _ = src.feed(&mut s, 4.5, t0());
    let _ = s
        .discontinuity(t0() + Duration::from_secs(5))
        .expect("disc");
    let mut src2 = Source::new(500);
    let mut seen = vec![];
    for end in 1..=14 {
        let _ = src2.feed(
            &mut s,
            f64::from(end * 2) + 0.5,
            t0() + Duration::from_secs(5),
        );
        let text = playlist(&s);
        let seq = text
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:"))
            .unwrap_or("0")
            .to_owned();
        let tags = text.matches("#EXT-X-DISCONTINUITY\n").count();
        seen.push((seq, tags));
    }
    // Segments 0, 1 (0–4 s), 2 (4–4.5 s, cut), then the new session from msn 3 with a tag.
    // The tag leaves with msn 3 when the window moves past it.
    assert!(seen.contains(&("0".to_owned(), 1)));
    assert_eq!(seen.last(), Some(&("1".to_owned(), 0)));
}

#[test]
fn event_window_and_end() {
    let cfg = LiveConfig {
        kind: WindowKind::Event,
        ..config(Format::Fmp4, None)
    };
    let mut s = LiveStream::new(cfg, tracks()).expect("stream");
    let mut src = Source::new(0);
    let out = src.feed(&mut s, 30.5, t0());
    assert!(deletes(&out).is_empty());
    let text = playlist(&s);
    assert!(text.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"));
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
    assert_eq!(text.matches("#EXTINF:").count(), 15);
    let out = s.end(t0() + Duration::from_secs(31));
    assert_eq!(puts(&out), ["v_r1_000015.m4s", "v_iframes.m3u8", "v.m3u8"]);
    let text = playlist(&s);
    assert!(
        text.ends_with("#EXTINF:0.500,\nv_r1_000015.m4s\n#EXT-X-ENDLIST\n"),
        "{text}"
    );
    assert!(s.state().ended);
    assert!(s.end(t0()).is_empty(), "end twice");
    assert!(matches!(
        s.push(Source::new(0).next(), t0()),
        Err(Error::Playlist(_))
    ));
}

#[test]
fn dvr_window_keeps_duration() {
    let cfg = LiveConfig {
        kind: WindowKind::Dvr(20.0),
        ..config(Format::Ts, None)
    };
    let mut s = LiveStream::new(cfg, tracks()).expect("stream");
    let _ = Source::new(0).feed(&mut s, 60.5, t0());
    let text = playlist(&s);
    assert!(!text.contains("PLAYLIST-TYPE"));
    assert_eq!(text.matches("#EXTINF:").count(), 10, "{text}");
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:20\n"));
}

#[test]
fn ll_end_removes_preload_hint() {
    let mut s = LiveStream::new(config(Format::Fmp4, Some(0.5)), tracks()).expect("stream");
    let _ = Source::new(0).feed(&mut s, 3.2, t0());
    let out = s.end(t0() + Duration::from_secs(4));
    // Last part (3.0–3.2 s), then the 1.2 s segment (a new peak bit rate: the master is
    // revised).
    assert_eq!(
        puts(&out),
        [
            "v_r1_000001.2.m4s",
            "v_r1_000001.m4s",
            "master.m3u8",
            "v_iframes.m3u8",
            "v.m3u8"
        ]
    );
    let text = playlist(&s);
    assert!(!text.contains("PRELOAD-HINT"));
    assert!(text.ends_with(
        "#EXT-X-PART:DURATION=0.2,URI=\"v_r1_000001.2.m4s\",INDEPENDENT=YES\n#EXTINF:1.200,\nv_r1_000001.m4s\n#EXT-X-ENDLIST\n"
    ), "{text}");
    assert_eq!(
        check_blocking_request(s.state(), Some(99), Some(3), None),
        BlockDecision::Ready
    );
}

#[test]
fn set_tracks_writes_new_init_and_map() {
    let mut s = LiveStream::new(config(Format::Fmp4, None), tracks()).expect("stream");
    let mut src = Source::new(0);
    let _ = src.feed(&mut s, 4.5, t0());
    let mut new_tracks = tracks();
    new_tracks.truncate(1);
    let _ = s
        .set_tracks(new_tracks, t0() + Duration::from_secs(5))
        .expect("tracks");
    let mut video_only = Source::new(100);
    let mut out = vec![];
    for _ in 0..200 {
        let sample = video_only.next();
        if sample.track == 0 {
            let now = t0() + Duration::from_secs(5);
            out.extend(s.push(sample, now).expect("push"));
        }
    }
    let names = puts(&out);
    assert_eq!(names.first(), Some(&"v_r1_init1.mp4"));
    assert!(names.contains(&"master.m3u8"));
    let text = playlist(&s);
    assert!(
        text.contains("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T00:00:05.000Z\n#EXT-X-MAP:URI=\"v_r1_init1.mp4\"\n"),
        "{text}"
    );
    assert!(text.contains("#EXT-X-MAP:URI=\"v_r1_init.mp4\"\n"));
}

#[test]
fn config_validation() {
    let cases: &[(&str, LiveConfig)] = &[
        ("parts need fMP4", config(Format::Ts, Some(0.5))),
        ("part below 0.2 s", config(Format::Fmp4, Some(0.1))),
        ("part above target", config(Format::Fmp4, Some(2.5))),
        (
            "zero duration",
            LiveConfig {
                segment_duration: 0.0,
                ..Default::default()
            },
        ),
        (
            "NaN duration",
            LiveConfig {
                segment_duration: f64::NAN,
                ..Default::default()
            },
        ),
        (
            "empty window",
            LiveConfig {
                window: 0,
                ..Default::default()
            },
        ),
        (
            "bad DVR",
            LiveConfig {
                kind: WindowKind::Dvr(-1.0),
                ..Default::default()
            },
        ),
        (
            "slash in rendition",
            LiveConfig {
                rendition: "../x".into(),
                ..Default::default()
            },
        ),
        (
            "empty run id",
            LiveConfig {
                run_id: String::new(),
                ..Default::default()
            },
        ),
    ];
    for (name, cfg) in cases {
        assert!(
            matches!(
                LiveStream::new(cfg.clone(), tracks()),
                Err(Error::Playlist(_))
            ),
            "{name}"
        );
    }
    assert!(matches!(
        LiveStream::new(LiveConfig::default(), vec![]),
        Err(Error::NoTracks)
    ));
    let mut hevc = tracks();
    hevc[0].config = CodecConfig::Hevc {
        vps: vec![],
        sps: vec![],
        pps: vec![],
        in_band: true,
    };
    assert!(matches!(
        LiveStream::new(config(Format::Ts, None), hevc),
        Err(Error::FormatMismatch { .. }) | Err(Error::BadCodecConfig { .. })
    ));
    let ok = LiveStream::new(
        LiveConfig {
            segment_duration: 1.5,
            ..config(Format::Fmp4, Some(2.0))
        },
        tracks(),
    )
    .expect("1.5 s segments, 2 s target, 2 s parts");
    assert_eq!(ok.target_duration(), 2);
    let mut s = LiveStream::new(LiveConfig::default(), tracks()).expect("stream");
    let bad = Sample {
        track: 5,
        ..Source::new(0).next()
    };
    assert!(matches!(
        s.push(bad, t0()),
        Err(Error::BadSample { track: 5, .. })
    ));
}

/// A muxer error mid-segment: the published parts become the segment, the next segment
/// starts with a discontinuity, the outputs come with the next call.
#[test]
fn muxer_error_recovers_with_discontinuity() {
    let mut s = LiveStream::new(config(Format::Ts, None), tracks()).expect("stream");
    let mut src = Source::new(0);
    let _ = src.feed(&mut s, 2.5, t0());
    // An AAC frame too long for ADTS (13-bit frame length) fails when segment 1 is written.
    let huge = Sample {
        track: 1,
        dts: 2 * 48_000 + 512,
        cts_offset: 0,
        duration: 1024,
        keyframe: true,
        data: Bytes::from(vec![0u8; 9000]),
    };
    s.push(huge, t0() + Duration::from_secs(2))
        .expect("buffered");
    let err = src.feed_checked(&mut s, 4.5, t0());
    assert!(err.is_some(), "segment 1 fails to mux");
    let _ = src.feed(&mut s, 8.5, t0());
    let text = playlist(&s);
    assert!(
        text.contains("v_r1_000000.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T00:00:05.000Z\n#EXTINF:2.000,\nv_r1_000001.ts\n"),
        "{text}"
    );
}

/// LL-HLS: a muxer error in the middle of a part whose chunks went out abandons that part
/// (so an origin streaming it can cut the response short), and the stream goes on.
#[test]
fn ll_muxer_error_abandons_the_streamed_part() {
    let mut s = LiveStream::new(config(Format::Fmp4, Some(0.3)), tracks()).expect("stream");
    let mut src = Source::new(0);
    let out = src.feed(&mut s, 2.2, t0());
    let streaming = out
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::Chunk { name, .. } => Some(name.clone()),
            _ => None,
        })
        .expect("a part being streamed");
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Put { name, .. } if *name == streaming)),
        "{streaming} is still in progress"
    );
    // Two audio frames whose decode time goes backwards fail the next chunk.
    let audio = |dts: i64| Sample {
        track: 1,
        dts,
        cts_offset: 0,
        duration: 1024,
        keyframe: true,
        data: Bytes::from_static(&[0x21, 0x10, 0x04, 0x00]),
    };
    let at = t0() + Duration::from_millis(2200);
    s.push(audio(2 * 48_000 + 9_600), at).expect("buffered");
    s.push(audio(2 * 48_000), at).expect("buffered");
    let failed = (0..10).any(|_| s.push(src.next(), at).is_err());
    assert!(failed, "the chunk fails to mux");
    let out = s.poll(at);
    assert!(
        out.contains(&Output::Abandon {
            name: streaming.clone()
        }),
        "{streaming} abandoned: {out:?}"
    );
    let _ = src.feed(&mut s, 6.0, t0());
    assert!(playlist(&s).contains("#EXT-X-DISCONTINUITY"));
}

impl Source {
    /// Like `feed`, but returns the first push error instead of panicking.
    fn feed_checked(
        &mut self,
        stream: &mut LiveStream,
        until: f64,
        start: SystemTime,
    ) -> Option<Error> {
        let mut first = None;
        while self.secs() < until {
            let s = self.next();
            let now = start + Duration::from_secs_f64(self.secs());
            if let Err(e) = stream.push(s, now) {
                first.get_or_insert(e);
            }
        }
        first
    }
}
