// SPDX-License-Identifier: MIT OR Apache-2.0
//! WebVTT (W3C WebVTT 4.1 file structure, 4.2 cue timings) and SRT parsing. Anything that is not
//! one of them, a malformed timestamp, or cues out of order is refused with the line and why.

use super::{Cue, ParseError, Subtitles};

fn err(line: usize, reason: impl Into<String>) -> ParseError {
    ParseError {
        line,
        reason: reason.into(),
    }
}

/// Blocks of consecutive non-blank lines, each with the number (1-based) of its first line.
fn blocks(text: &str) -> Vec<(usize, Vec<&str>)> {
    let mut out: Vec<(usize, Vec<&str>)> = Vec::new();
    let mut open = false;
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            open = false;
        } else if open {
            if let Some((_, b)) = out.last_mut() {
                b.push(line);
            }
        } else {
            out.push((i + 1, vec![line]));
            open = true;
        }
    }
    out
}

fn is_vtt_header(line: &str) -> bool {
    line.strip_prefix("WEBVTT")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Parses a WebVTT or an SRT file, told apart by content: WebVTT starts with `WEBVTT`, SRT with a
/// cue number followed by a timing line.
pub fn parse(text: &str) -> Result<Subtitles, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().next().unwrap_or("");
    if is_vtt_header(first) {
        return parse_vtt(text);
    }
    let srt_like = blocks(text).first().is_some_and(|(_, b)| {
        b.first().is_some_and(|l| l.trim().parse::<u64>().is_ok())
            && b.get(1).is_some_and(|l| l.contains("-->"))
    });
    if srt_like {
        return parse_srt(text);
    }
    Err(err(
        1,
        "neither WebVTT (no WEBVTT header) nor SRT (no cue number followed by a timing line)",
    ))
}

/// `[hh:]mm:ss<sep>ttt` → milliseconds (WebVTT 4.2: minutes and seconds two digits below 60,
/// three fraction digits; SRT writes `,` for the separator).
fn time(s: &str, sep: char) -> Option<u64> {
    let (whole, frac) = s.rsplit_once(sep)?;
    if frac.len() != 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<&str> = whole.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [m, s] => ("0", *m, *s),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    let two = |p: &str| {
        (p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u64>().ok())
            .flatten()
            .filter(|v| *v < 60)
    };
    let hours = (!h.is_empty() && h.len() <= 6 && h.bytes().all(|b| b.is_ascii_digit()))
        .then(|| h.parse::<u64>().ok())
        .flatten()?;
    let ms: u64 = frac.parse().ok()?;
    Some(((hours * 60 + two(m)?) * 60 + two(sec)?) * 1000 + ms)
}

/// `start --> end[ settings]` at `line` → (start, end, settings).
fn timing(text: &str, line: usize, sep: char) -> Result<(u64, u64, String), ParseError> {
    let (left, right) = text.split_once("-->").ok_or_else(|| {
        err(
            line,
            format!("expected a cue timing line (start --> end), found {text:?}"),
        )
    })?;
    let mut words = right.split_whitespace();
    let end_text = words.next().unwrap_or("");
    let settings = words.collect::<Vec<_>>().join(" ");
    let format = if sep == '.' {
        "[hh:]mm:ss.ttt"
    } else {
        "hh:mm:ss,ttt"
    };
    let parse = |t: &str| {
        time(t.trim(), sep)
            .or_else(|| time(t.trim(), if sep == ',' { '.' } else { ',' }).filter(|_| sep == ','))
            .ok_or_else(|| {
                err(
                    line,
                    format!("malformed timestamp {:?} (expected {format})", t.trim()),
                )
            })
    };
    let (start, end) = (parse(left)?, parse(end_text)?);
    if end < start {
        return Err(err(
            line,
            format!("cue ends at {end_text} before it starts at {}", left.trim()),
        ));
    }
    Ok((start, end, settings))
}

/// Refuses a cue that starts before the previous one (W3C WebVTT 4.1: cues in start order).
fn check_order(cues: &[Cue], start: u64, line: usize) -> Result<(), ParseError> {
    match cues.last() {
        Some(prev) if start < prev.start => Err(err(
            line,
            format!(
                "cue starts at {} ms, before the previous cue ({} ms): cues must be in order",
                start, prev.start
            ),
        )),
        _ => Ok(()),
    }
}

fn keyword_block(first: &str, keyword: &str) -> bool {
    first
        .strip_prefix(keyword)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Parses a WebVTT file (W3C WebVTT 4.1): header, then NOTE, STYLE, REGION and cue blocks.
pub fn parse_vtt(text: &str) -> Result<Subtitles, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let all = blocks(text);
    match all.first() {
        Some((_, b)) if b.first().is_some_and(|l| is_vtt_header(l)) => {}
        _ => return Err(err(1, "not a WebVTT file: the first line must be WEBVTT")),
    }
    let mut subs = Subtitles::default();
    for (line, block) in all.into_iter().skip(1) {
        let first = block[0];
        if keyword_block(first, "NOTE") {
            continue;
        }
        let has_timing = block.iter().any(|l| l.contains("-->"));
        if !has_timing && (keyword_block(first, "STYLE") || keyword_block(first, "REGION")) {
            if subs.cues.is_empty() {
                subs.header_blocks.push(block.join("\n"));
            }
            continue;
        }
        let (id, timing_at) = if first.contains("-->") {
            (None, 0)
        } else {
            (Some(first.to_owned()), 1)
        };
        let timing_line = block.get(timing_at).copied().unwrap_or("");
        let (start, end, settings) = timing(timing_line, line + timing_at, '.')?;
        check_order(&subs.cues, start, line + timing_at)?;
        subs.cues.push(Cue {
            id,
            start,
            end,
            settings,
            text: block[timing_at + 1..].join("\n"),
        });
    }
    Ok(subs)
}

/// SRT markup → WebVTT cue text: `<b> <i> <u>` stay, `<font …>` and ASS overrides (`{\an8}`)
/// go, `&` is escaped (W3C WebVTT 4.2.2: `&` starts a character reference).
fn srt_text(lines: &[&str]) -> String {
    let joined = lines.join("\n");
    let mut out = String::with_capacity(joined.len());
    let mut rest = joined.as_str();
    while let Some(c) = rest.chars().next() {
        let lower = rest.to_ascii_lowercase();
        if lower.starts_with("<font") || lower.starts_with("</font") {
            match rest.find('>') {
                Some(end) => rest = &rest[end + 1..],
                None => rest = "",
            }
            continue;
        }
        if rest.starts_with("{\\") {
            if let Some(end) = rest.find('}') {
                rest = &rest[end + 1..];
                continue;
            }
        }
        match c {
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out.replace("-->", "--&gt;")
}

/// Parses an SRT file: blocks of a cue number, `hh:mm:ss,ttt --> hh:mm:ss,ttt`, text lines.
pub fn parse_srt(text: &str) -> Result<Subtitles, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut subs = Subtitles::default();
    for (line, block) in blocks(text) {
        let number = block[0].trim();
        if number.parse::<u64>().is_err() {
            return Err(err(
                line,
                format!("expected a cue number, found {number:?}"),
            ));
        }
        let timing_line = block.get(1).copied().unwrap_or("");
        let (start, end, settings) = timing(timing_line, line + 1, ',')?;
        check_order(&subs.cues, start, line + 1)?;
        // SRT's optional X1:… Y2:… coordinates have no WebVTT equivalent.
        let _ = settings;
        subs.cues.push(Cue {
            id: Some(number.to_owned()),
            start,
            end,
            settings: String::new(),
            text: srt_text(&block[2..]),
        });
    }
    Ok(subs)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
