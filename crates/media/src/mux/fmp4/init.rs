// SPDX-License-Identifier: MIT OR Apache-2.0
//! The initialization section (`ftyp` + `moov`) an EXT-X-MAP points at (RFC 8216bis §3.3,
//! §4.4.4.5; Apple HLS authoring spec 8.20).
//!
//! Leaf boxes are `mp4-atom` structs; containers are written with its `encode_atom`, so that
//! sample entries (see [`super::entry`]) can carry configuration payloads verbatim. Every
//! table of the sample table box is empty: samples live in the movie fragments, and `mvex`
//! announces them (ISO/IEC 14496-12 §8.8.1; CMAF ISO/IEC 23000-19 §7.3.1).

use bytes::Bytes;
use mp4_atom::{
    BufMut, Dinf, Dref, DrefEntry, Encode, FixedPoint, FourCC, Ftyp, Hdlr, Matrix, Mdhd, Mvex,
    Mvhd, Smhd, Stco, Stsc, Stsz, Stts, Tkhd, Trex, Url, Vmhd,
};

use super::entry::{sample_entry, SampleEntry};
use crate::crypto::cbcs::{self, Protection};
use crate::error::{Error, Result};
use crate::sample::{TrackInfo, TrackKind};

/// Movie timescale. Nothing in an fMP4 init segment is measured in it (mvhd duration is 0).
const MOVIE_TIMESCALE: u32 = 1000;

/// One output track: its track_ID in the file and its description.
pub(super) struct InitTrack<'a> {
    pub track_id: u32,
    pub info: &'a TrackInfo,
}

/// Brands of the file type box. `iso6` covers version-1 trun (signed composition offsets) and
/// tfdt; `cmfc` (CMAF, ISO/IEC 23000-19 §7.2) is only claimed for a single-track file, since
/// a CMAF track file holds exactly one track.
pub(super) fn ftyp(single_track: bool) -> Ftyp {
    let mut compatible_brands = vec![FourCC::new(b"iso6"), FourCC::new(b"mp41")];
    if single_track {
        compatible_brands.push(FourCC::new(b"cmfc"));
    }
    Ftyp {
        major_brand: FourCC::new(b"iso6"),
        minor_version: 0,
        compatible_brands,
    }
}

/// Builds `ftyp` + `moov`. Fails on a codec configuration that cannot be written. With
/// `protection` (cbcs), the sample entries are `encv`/`enca` with their `sinf`, and a ClearKey
/// `pssh` closes the `moov` (ISO/IEC 23001-7 §8.1).
pub(super) fn init_segment(
    tracks: &[InitTrack<'_>],
    protection: Option<&Protection>,
) -> Result<Bytes> {
    // Everything that can fail on bad input happens here, before any encoding.
    let mut entries: Vec<SampleEntry> = tracks
        .iter()
        .map(|t| sample_entry(t.info))
        .collect::<Result<_>>()?;
    if let Some(p) = protection {
        for (i, entry) in entries.iter_mut().enumerate() {
            let layout = p.layouts.get(i).copied().ok_or_else(|| {
                Error::mp4(format!("cbcs: no protection layout for track {}", i + 1), 0)
            })?;
            entry.protect(|format| cbcs::sinf(format, layout, &p.kid, &p.iv));
        }
    }
    let next_track_id = tracks
        .iter()
        .map(|t| t.track_id)
        .max()
        .unwrap_or(0)
        .checked_add(1)
        .ok_or_else(|| Error::mp4("track_ID overflow", 0))?;

    let mut buf = Vec::with_capacity(1024);
    let encoded = ftyp(tracks.len() == 1).encode(&mut buf).and_then(|()| {
        buf.encode_atom(FourCC::new(b"moov"), |b| {
            Mvhd {
                creation_time: 0,
                modification_time: 0,
                timescale: MOVIE_TIMESCALE,
                duration: 0,
                rate: FixedPoint::new(1, 0),
                volume: FixedPoint::new(1, 0),
                matrix: Matrix::default(),
                next_track_id,
            }
            .encode(b)?;
            for (t, entry) in tracks.iter().zip(&entries) {
                trak(b, t, entry)?;
            }
            Mvex {
                mehd: None,
                trex: tracks
                    .iter()
                    .map(|t| Trex {
                        track_id: t.track_id,
                        default_sample_description_index: 1,
                        default_sample_duration: 0,
                        default_sample_size: 0,
                        default_sample_flags: 0,
                    })
                    .collect(),
            }
            .encode(b)?;
            if let Some(p) = protection {
                b.append_slice(&cbcs::clearkey_pssh(&p.kid));
            }
            Ok(())
        })
    });
    encoded.map_err(|e| Error::mp4(format!("writing the init segment: {e}"), 0))?;
    Ok(Bytes::from(buf))
}

fn trak(b: &mut Vec<u8>, t: &InitTrack<'_>, entry: &SampleEntry) -> mp4_atom::Result<()> {
    let info = t.info;
    let video = info.kind() == TrackKind::Video;
    b.encode_atom(FourCC::new(b"trak"), |b| {
        // ISO/IEC 14496-12 §8.3.2: width/height in 16.16 for visual tracks, volume 1.0 for
        // audio; duration 0 because the samples are in fragments.
        let (width, height, volume) = if video {
            (
                FixedPoint::new(u16::try_from(info.width).unwrap_or(u16::MAX), 0),
                FixedPoint::new(u16::try_from(info.height).unwrap_or(u16::MAX), 0),
                FixedPoint::new(0, 0),
            )
        } else {
            (
                FixedPoint::new(0, 0),
                FixedPoint::new(0, 0),
                FixedPoint::new(1, 0),
            )
        };
        Tkhd {
            track_id: t.track_id,
            enabled: true,
            in_movie: true,
            volume,
            width,
            height,
            ..Tkhd::default()
        }
        .encode(b)?;
        b.encode_atom(FourCC::new(b"mdia"), |b| {
            Mdhd {
                creation_time: 0,
                modification_time: 0,
                timescale: info.timescale,
                duration: 0,
                language: language(info.language.as_deref()).to_string(),
            }
            .encode(b)?;
            let (handler, name) = if video {
                (b"vide", "VideoHandler")
            } else {
                (b"soun", "SoundHandler")
            };
            Hdlr {
                handler: FourCC::new(handler),
                name: name.into(),
            }
            .encode(b)?;
            b.encode_atom(FourCC::new(b"minf"), |b| {
                if video {
                    Vmhd::default().encode(b)?;
                } else {
                    Smhd::default().encode(b)?;
                }
                // §8.7.2: one self-contained `url ` entry (media in this file).
                Dinf {
                    dref: Dref {
                        entries: vec![DrefEntry::Url(Url::default())],
                    },
                }
                .encode(b)?;
                b.encode_atom(FourCC::new(b"stbl"), |b| {
                    b.encode_atom(FourCC::new(b"stsd"), |b| {
                        b.append_slice(&[0, 0, 0, 0]); // version 0, flags 0
                        b.append_slice(&1u32.to_be_bytes()); // entry_count
                        entry.encode(b)
                    })?;
                    Stts::default().encode(b)?;
                    Stsc::default().encode(b)?;
                    Stsz::default().encode(b)?;
                    Stco::default().encode(b)
                })
            })
        })
    })
}

/// ISO-639-2/T code for mdhd: three lowercase letters, else "und" (§8.4.2.3).
fn language(lang: Option<&str>) -> &str {
    match lang {
        Some(l) if l.len() == 3 && l.bytes().all(|c| c.is_ascii_lowercase()) => l,
        _ => "und",
    }
}
