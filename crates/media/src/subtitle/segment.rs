// SPDX-License-Identifier: MIT OR Apache-2.0
//! Cutting cues into WebVTT segments (RFC 8216 3.5) on the media segments' boundaries.

use std::fmt::Write as _;

use super::Subtitles;

/// `hh:mm:ss.ttt` (W3C WebVTT 4.2 timestamp) of `ms` milliseconds.
pub fn timestamp(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// One WebVTT segment per media segment (`durations`, seconds, as the media playlist lists
/// them), each carrying the cues that overlap it — a cue spanning a boundary is repeated in each
/// segment it overlaps (players drop the duplicates), cues after the last boundary go to the last
/// segment, and a segment with no cue is a header alone.
///
/// `mpegts` is the media timestamp (90 kHz) of the presentation's start, which cue time 0 is
/// (RFC 8216 3.5: X-TIMESTAMP-MAP maps cue times to MPEG-2 / fMP4 media timestamps).
pub fn segment(subs: &Subtitles, durations: &[f64], mpegts: u64) -> Vec<String> {
    let mut head = format!(
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{},LOCAL:00:00:00.000\n\n",
        mpegts % (1 << 33)
    );
    for block in &subs.header_blocks {
        head.push_str(block);
        head.push_str("\n\n");
    }
    let mut out = Vec::with_capacity(durations.len());
    let mut elapsed = 0.0;
    for (i, d) in durations.iter().enumerate() {
        let from = (elapsed * 1000.0_f64).round() as u64;
        elapsed += d;
        let to = (elapsed * 1000.0_f64).round() as u64;
        let last = i + 1 == durations.len();
        let mut text = head.clone();
        for c in &subs.cues {
            let overlaps = (c.start >= from || c.end > from) && (c.start < to || last);
            if !overlaps {
                continue;
            }
            if let Some(id) = &c.id {
                let _ = writeln!(text, "{id}");
            }
            let _ = write!(text, "{} --> {}", timestamp(c.start), timestamp(c.end));
            if !c.settings.is_empty() {
                let _ = write!(text, " {}", c.settings);
            }
            let _ = write!(text, "\n{}\n\n", c.text);
        }
        out.push(text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Cue;
    use super::*;

    fn cue(start: u64, end: u64, text: &str) -> Cue {
        Cue {
            id: None,
            start,
            end,
            settings: String::new(),
            text: text.into(),
        }
    }

    /// Table: cues → which segment (of 3 × 2 s) carries which cue texts.
    #[test]
    fn cues_go_to_every_segment_they_overlap() {
        let subs = Subtitles {
            header_blocks: vec![],
            cues: vec![
                cue(500, 1500, "a"),
                cue(1500, 2500, "spans"),
                cue(2000, 2000, "instant"),
                cue(7000, 8000, "after the end"),
            ],
        };
        let segs = segment(&subs, &[2.0, 2.0, 2.0], 900_000);
        let texts: Vec<Vec<&str>> = segs
            .iter()
            .map(|s| {
                s.split("\n\n")
                    .filter_map(|b| b.lines().nth(1).filter(|_| b.contains("-->")))
                    .collect()
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                vec!["a", "spans"],
                vec!["spans", "instant"],
                vec!["after the end"]
            ]
        );
        for s in &segs {
            assert!(s.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n\n"));
        }
        assert!(segs[1].contains("00:00:01.500 --> 00:00:02.500\nspans\n"));
        // No cue in a segment: the header alone.
        let empty = segment(&subs, &[0.1, 0.1], 0);
        assert_eq!(
            empty[0],
            "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n"
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "00:00:00.000");
        assert_eq!(timestamp(3_723_004), "01:02:03.004");
    }
}
