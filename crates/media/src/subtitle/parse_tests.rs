// SPDX-License-Identifier: MIT OR Apache-2.0
use super::*;

fn cue(id: Option<&str>, start: u64, end: u64, settings: &str, text: &str) -> Cue {
    Cue {
        id: id.map(str::to_owned),
        start,
        end,
        settings: settings.into(),
        text: text.into(),
    }
}

#[test]
fn parses_webvtt() {
    let text = "\u{feff}WEBVTT - a title\r\nKind: captions\r\n\r\nNOTE a comment\r\n\r\n\
STYLE\n::cue { color: yellow }\n\n\
1\n00:00:01.000 --> 00:00:02.500 align:start line:0\nHello\nworld\n\n\
01:00:00.001 --> 01:00:01.000\n<i>later</i>\n";
    let subs = parse(text).expect("valid WebVTT");
    assert_eq!(subs.header_blocks, vec!["STYLE\n::cue { color: yellow }"]);
    assert_eq!(
        subs.cues,
        vec![
            cue(Some("1"), 1000, 2500, "align:start line:0", "Hello\nworld"),
            cue(None, 3_600_001, 3_601_000, "", "<i>later</i>"),
        ]
    );
}

#[test]
fn parses_srt() {
    let text =
        "1\r\n00:00:01,000 --> 00:00:02,000\r\n<font color=\"red\">Tom & Jerry</font>\r\n\r\n\
2\n00:00:03,500 --> 00:00:04,000\n{\\an8}<b>top</b>\n";
    let subs = parse(text).expect("valid SRT");
    assert_eq!(
        subs.cues,
        vec![
            cue(Some("1"), 1000, 2000, "", "Tom &amp; Jerry"),
            cue(Some("2"), 3500, 4000, "", "<b>top</b>"),
        ]
    );
}

/// Table: bad input → the line and the reason.
#[test]
fn refuses_bad_files_with_line_and_reason() {
    let cases: &[(&str, &str, usize, &str)] = &[
        ("not subtitles", "hello\nworld\n", 1, "neither WebVTT"),
        ("empty", "", 1, "neither WebVTT"),
        (
            "malformed vtt timestamp",
            "WEBVTT\n\n00:01.000 --> 00:02.00\nx\n",
            3,
            "malformed timestamp \"00:02.00\"",
        ),
        (
            "minutes out of range",
            "WEBVTT\n\n00:61.000 --> 00:62.000\nx\n",
            3,
            "malformed timestamp",
        ),
        (
            "vtt out of order",
            "WEBVTT\n\n00:05.000 --> 00:06.000\na\n\nid\n00:04.000 --> 00:05.000\nb\n",
            7,
            "before the previous cue",
        ),
        (
            "vtt id without timing",
            "WEBVTT\n\nlonely id\nno timing\n",
            4,
            "expected a cue timing line",
        ),
        (
            "ends before it starts",
            "WEBVTT\n\n00:05.000 --> 00:04.000\na\n",
            3,
            "before it starts",
        ),
        (
            "srt out of order",
            "1\n00:00:05,000 --> 00:00:06,000\na\n\n2\n00:00:01,000 --> 00:00:02,000\nb\n",
            6,
            "before the previous cue",
        ),
        (
            "srt malformed timestamp",
            "1\n00:00:05,000 --> 00:00:06,000\na\n\n2\n00:00:0x,000 --> 00:00:07,000\nb\n",
            6,
            "malformed timestamp \"00:00:0x,000\"",
        ),
        (
            "srt missing number",
            "1\n00:00:05,000 --> 00:00:06,000\na\n\nstray text\n",
            5,
            "expected a cue number",
        ),
    ];
    for (name, text, line, reason) in cases {
        let e = parse(text).expect_err(name);
        assert_eq!(e.line, *line, "{name}: {e}");
        assert!(e.reason.contains(reason), "{name}: {e}");
    }
}
