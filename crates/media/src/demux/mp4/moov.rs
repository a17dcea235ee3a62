// SPDX-License-Identifier: MIT OR Apache-2.0
//! The movie box (ISO/IEC 14496-12 §8.2): tracks, their sample entries, edit lists, and the
//! fragment defaults (`mvex`/`trex`, §8.8.3).

use mp4_atom::{Elst, Mdhd, Mvhd, Tkhd, Trex};

use super::boxes::{be_u32, decode_atom, fourcc_str, payload, BoxHeader, Children};
use super::entry::{parse_entry, Entry, EntryInfo};
use super::stbl::{build_plain, StblBoxes};
use super::text;
use super::track::Track;
use crate::error::{Error, Result};
use crate::sample::TrackInfo;

/// A box found while walking a trak: header plus complete bytes.
pub(super) type Found<'a> = Option<(BoxHeader, &'a [u8])>;

#[derive(Debug, Default)]
pub(super) struct Movie {
    pub tracks: Vec<Track>,
    /// Fragment defaults of every track in `mvex`, including skipped ones (their data sizes
    /// still place the next track fragment's data, §8.8.7.1).
    pub trex: Vec<Trex>,
    /// Tracks not packaged: (track_ID, codec or handler description).
    pub skipped: Vec<(u32, String)>,
    /// Text tracks (3GPP `tx3g` / mov_text, WebVTT `wvtt`): read as subtitles, never muxed.
    pub text: Vec<text::TextTrack>,
    pub fragmented: bool,
}

impl Movie {
    pub fn trex_for(&self, track_id: u32) -> Option<&Trex> {
        self.trex.iter().find(|t| t.track_id == track_id)
    }
}

/// Decodes the payload of the `moov` box located at `body_offset` and builds the sample tables
/// of its non-fragmented samples.
pub(super) fn parse_moov(body: &[u8], body_offset: u64, file_len: u64) -> Result<Movie> {
    let mut movie = Movie::default();
    let mut movie_timescale = 0u32;
    let mut traks = Vec::new();
    for child in Children::new(body, body_offset) {
        let (hdr, bytes) = child?;
        match &hdr.kind {
            b"mvhd" => movie_timescale = decode_atom::<Mvhd>(&hdr, bytes)?.timescale,
            b"trak" => traks.push((hdr, bytes)),
            b"mvex" => {
                movie.fragmented = true;
                for c in Children::new(payload(&hdr, bytes), hdr.payload_offset()) {
                    let (h, b) = c?;
                    if &h.kind == b"trex" {
                        movie.trex.push(decode_atom::<Trex>(&h, b)?);
                    }
                }
            }
            b"cmov" => {
                return Err(Error::mp4(
                    "compressed movie header (QuickTime cmov) is not supported",
                    hdr.offset,
                ))
            }
            _ => {}
        }
    }
    for (hdr, bytes) in traks {
        parse_trak(&mut movie, &hdr, bytes, movie_timescale, file_len)?;
    }
    Ok(movie)
}

/// The boxes of one trak that the demuxer uses.
#[derive(Default)]
pub(super) struct TrakBoxes<'a> {
    pub tkhd: Found<'a>,
    pub elst: Found<'a>,
    pub mdhd: Found<'a>,
    pub hdlr: Found<'a>,
    pub elng: Found<'a>,
    pub stbl: StblBoxes<'a>,
}

fn collect<'a>(data: &'a [u8], base: u64, out: &mut TrakBoxes<'a>) -> Result<()> {
    for child in Children::new(data, base) {
        let (hdr, bytes) = child?;
        let slot = match &hdr.kind {
            b"edts" | b"mdia" | b"minf" | b"stbl" => {
                collect(payload(&hdr, bytes), hdr.payload_offset(), out)?;
                continue;
            }
            b"tkhd" => &mut out.tkhd,
            b"elst" => &mut out.elst,
            b"mdhd" => &mut out.mdhd,
            b"hdlr" => &mut out.hdlr,
            b"elng" => &mut out.elng,
            b"stsd" => &mut out.stbl.stsd,
            b"stts" => &mut out.stbl.stts,
            b"ctts" => &mut out.stbl.ctts,
            b"stss" => &mut out.stbl.stss,
            b"stsc" => &mut out.stbl.stsc,
            b"stsz" => &mut out.stbl.stsz,
            b"stz2" => &mut out.stbl.stz2,
            b"stco" => &mut out.stbl.stco,
            b"co64" => &mut out.stbl.co64,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some((hdr, bytes));
        }
    }
    Ok(())
}

fn parse_trak(
    movie: &mut Movie,
    trak: &BoxHeader,
    bytes: &[u8],
    movie_timescale: u32,
    file_len: u64,
) -> Result<()> {
    let mut b = TrakBoxes::default();
    collect(payload(trak, bytes), trak.payload_offset(), &mut b)?;
    let missing = |name: &str| Error::mp4(format!("trak has no {name} box"), trak.offset);
    let (h, tk) = b.tkhd.ok_or_else(|| missing("tkhd"))?;
    let tkhd = decode_atom::<Tkhd>(&h, tk)?;
    let id = tkhd.track_id;
    if movie.tracks.iter().any(|t| t.info.id == id) {
        return Err(Error::mp4(format!("duplicate track_ID {id}"), trak.offset));
    }
    let (h, md) = b.mdhd.ok_or_else(|| missing("mdhd"))?;
    let mdhd = decode_atom::<Mdhd>(&h, md)?;
    if mdhd.timescale == 0 {
        return Err(Error::mp4(
            format!("track {id}: mdhd timescale is 0"),
            h.offset,
        ));
    }
    // §8.4.3 HandlerBox: version/flags, pre_defined, handler_type.
    let handler = b
        .hdlr
        .and_then(|(h, hb)| be_u32(payload(&h, hb), 8))
        .map(|v| v.to_be_bytes())
        .unwrap_or(*b"none");

    let entries = sample_entries(b.stbl.stsd)?;
    let first_kind = entries.first().map(|(h, _)| h.name());
    let text_handler = matches!(&handler, b"text" | b"sbtl" | b"subt");
    let text_format = text_handler
        .then(|| {
            entries
                .first()
                .and_then(|(h, eb)| text::TextFormat::of(h, eb))
        })
        .flatten();
    if let Some(format) = text_format {
        let same_entry = entries.iter().map(|_| true).collect();
        let mut track = Track::new(text::info(id, &mdhd), None, same_entry);
        if let Some((h, eb)) = b.elst {
            let elst = decode_atom::<Elst>(&h, eb)?;
            track.shift = edit_shift(&elst, movie_timescale, mdhd.timescale).unwrap_or(0);
        }
        build_plain(&mut track, &b.stbl, trak.offset, file_len)?;
        // Not a media track: a file with nothing else is still refused as before.
        movie.skipped.push((id, format.name().into()));
        movie.text.push(text::TextTrack { track, format });
        return Ok(());
    }
    if &handler != b"vide" && &handler != b"soun" {
        let what = first_kind.unwrap_or_else(|| fourcc_str(handler));
        tracing::warn!(
            track = id,
            "skipping track {id}: '{}' handler (codec {what}) is neither video nor audio",
            fourcc_str(handler)
        );
        movie.skipped.push((id, what));
        return Ok(());
    }
    let Some(&(eh, eb)) = entries.first() else {
        tracing::warn!(track = id, "skipping track {id}: no sample entry");
        movie.skipped.push((id, "(no sample entry)".into()));
        return Ok(());
    };
    let entry = match parse_entry(id, &eh, eb)? {
        Entry::Supported(e) => e,
        Entry::Unsupported(what) => {
            tracing::warn!(track = id, "skipping track {id}: unsupported codec {what}");
            movie.skipped.push((id, what));
            return Ok(());
        }
    };
    // §8.5.2: several sample descriptions are fine when they describe the same
    // configuration (byte-identical, or differing only in fields the output does not use:
    // compressor name, data_reference_index, the informative width/height, bitrate boxes).
    let same_entry = entries
        .iter()
        .map(|(h, x)| {
            *x == eb
                || (h.kind == eh.kind
                    && matches!(parse_entry(id, h, x), Ok(Entry::Supported(ref o))
                        if o.config == entry.config && o.nal == entry.nal))
        })
        .collect();
    let lang = extended_language(b.elng).or_else(|| language(&mdhd.language));
    let nal = entry.nal;
    let info = track_info(id, &tkhd, &mdhd, entry, lang);
    let mut track = Track::new(info, nal, same_entry);
    track.mdhd_duration = mdhd.duration;
    if let Some((h, eb)) = b.elst {
        let elst = decode_atom::<Elst>(&h, eb)?;
        track.shift = edit_shift(&elst, movie_timescale, mdhd.timescale)
            .ok_or_else(|| Error::mp4(format!("track {id}: edit list times overflow"), h.offset))?;
    }
    build_plain(&mut track, &b.stbl, trak.offset, file_len)?;
    movie.tracks.push(track);
    Ok(())
}

/// The entries of a SampleDescriptionBox (§8.5.2: version/flags, entry_count, entries).
fn sample_entries(stsd: Found<'_>) -> Result<Vec<(BoxHeader, &[u8])>> {
    let mut entries = Vec::new();
    if let Some((h, sb)) = stsd {
        let p = payload(&h, sb);
        let count = be_u32(p, 4).unwrap_or(0) as usize;
        let start = h.payload_offset().saturating_add(8);
        for c in Children::new(p.get(8..).unwrap_or(&[]), start).take(count) {
            entries.push(c?);
        }
    }
    Ok(entries)
}

/// What the demuxer reports of a media track: the sample entry's fields, falling back to
/// the track header's size and the media timescale (a sample rate below 2 in the entry).
fn track_info(
    id: u32,
    tkhd: &Tkhd,
    mdhd: &Mdhd,
    entry: EntryInfo,
    language: Option<String>,
) -> TrackInfo {
    let sample_rate = if entry.sample_rate < 2 {
        mdhd.timescale
    } else {
        entry.sample_rate
    };
    TrackInfo {
        id,
        timescale: mdhd.timescale,
        width: if entry.width > 0 {
            entry.width
        } else {
            u32::from(tkhd.width.integer())
        },
        height: if entry.height > 0 {
            entry.height
        } else {
            u32::from(tkhd.height.integer())
        },
        sample_rate: if entry.config.kind() == crate::TrackKind::Audio {
            sample_rate
        } else {
            0
        },
        channels: entry.channels,
        language,
        duration: None,
        config: entry.config,
    }
}

/// The BCP 47 tag of an `elng` box (ISO/IEC 14496-12 §8.4.6: version/flags, then a
/// NUL-terminated string), which overrides mdhd's language; `None` if absent or empty.
fn extended_language(elng: Found<'_>) -> Option<String> {
    let (h, bytes) = elng?;
    let text = payload(&h, bytes).get(4..)?;
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let tag = std::str::from_utf8(text.get(..end)?).ok()?.trim();
    (!tag.is_empty()
        && tag.len() <= 35
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    .then(|| tag.to_owned())
}

/// ISO-639-2/T code from mdhd, `None` for "und" or anything not three lowercase letters.
pub(super) fn language(code: &str) -> Option<String> {
    (code.len() == 3 && code.bytes().all(|c| c.is_ascii_lowercase()) && code != "und")
        .then(|| code.to_string())
}

/// Decode-time shift implementing the edit list (ISO/IEC 14496-12 §8.6.6): leading empty edits
/// (media_time −1) delay the presentation by their duration (movie timescale, converted to
/// the media timescale); the first non-empty edit's media_time is the media time shown at
/// that point, so it is subtracted. Later edits are ignored.
pub(super) fn edit_shift(elst: &Elst, movie_timescale: u32, media_timescale: u32) -> Option<i64> {
    let mut empty: i128 = 0;
    for e in &elst.entries {
        match e.media_time {
            None => {
                if movie_timescale > 0 {
                    empty = empty.checked_add(
                        i128::from(e.segment_duration) * i128::from(media_timescale)
                            / i128::from(movie_timescale),
                    )?;
                }
            }
            Some(t) => {
                if elst
                    .entries
                    .iter()
                    .filter(|x| x.media_time.is_some())
                    .count()
                    > 1
                {
                    tracing::debug!("edit list has several edits; only the first is applied");
                }
                return i64::try_from(empty.checked_sub(i128::from(t))?).ok();
            }
        }
    }
    i64::try_from(empty).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mp4_atom::ElstEntry;

    fn entry(d: u64, t: Option<u64>) -> ElstEntry {
        ElstEntry {
            segment_duration: d,
            media_time: t,
            media_rate: 1i16.into(),
        }
    }

    /// Table: elng payloads → the language tag that overrides mdhd's.
    #[test]
    fn extended_language_tags() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"\0\0\0\0en-US\0", Some("en-US")),
            (b"\0\0\0\0fr", Some("fr")),
            (b"\0\0\0\0\0", None),
            (b"\0\0\0\0bad tag\0", None),
            (b"\0\0", None),
        ];
        for (body, want) in cases {
            let mut bytes = vec![0u8; 8];
            bytes.extend_from_slice(body);
            let h = BoxHeader {
                kind: *b"elng",
                offset: 0,
                header_len: 8,
                size: bytes.len() as u64,
            };
            assert_eq!(
                extended_language(Some((h, &bytes))).as_deref(),
                *want,
                "{body:?}"
            );
        }
    }

    #[test]
    fn edit_list_shift() {
        let cases: &[(&[ElstEntry], Option<i64>)] = &[
            (&[], Some(0)),
            (&[entry(1000, Some(1024))], Some(-1024)),
            // 0.5 s empty edit in a 1000 Hz movie → 45000 ticks at 90 kHz, then media 3000.
            (&[entry(500, None), entry(10_000, Some(3000))], Some(42_000)),
            (&[entry(500, None)], Some(45_000)),
            (&[entry(0, Some(u64::MAX))], None),
        ];
        for (entries, want) in cases {
            let elst = Elst {
                entries: entries.to_vec(),
            };
            assert_eq!(edit_shift(&elst, 1000, 90_000), *want, "{entries:?}");
        }
    }

    #[test]
    fn language_codes() {
        assert_eq!(language("eng"), Some("eng".into()));
        assert_eq!(language("und"), None);
        assert_eq!(language("`\u{7f}a"), None);
    }
}
