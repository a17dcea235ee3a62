// SPDX-License-Identifier: MIT OR Apache-2.0
//! Movie fragments (ISO/IEC 14496-12 §8.8): each `moof`'s track fragments (`traf`) append
//! samples to the tables built from `moov`.
//!
//! Data placement follows §8.8.7.1: a traf's base data offset is `tfhd.base_data_offset` when
//! present, else the start of the enclosing moof when `default-base-is-moof` is set or when it
//! is the first traf of the moof, else the end of the data of the previous traf. A trun's data
//! starts at base + `data_offset`, or right after the previous trun of the same traf (§8.8.8).
//! Sample values come from the trun, else tfhd defaults, else trex defaults (§8.8.3).

use mp4_atom::{Tfdt, Tfhd, Trex, Trun, TrunSamples};

use super::boxes::{decode_atom, payload, BoxHeader, Children};
use super::moov::Movie;
use super::stbl::cts_i32;
use super::table::RawSample;
use crate::error::{Error, Result};

/// §8.8.3.1 sample_flags: sample_is_non_sync_sample.
const NON_SYNC: u32 = 0x0001_0000;

/// Appends the samples of the moof whose header is `moof` and payload `body`.
pub(super) fn parse_moof(
    movie: &mut Movie,
    moof: &BoxHeader,
    body: &[u8],
    file_len: u64,
) -> Result<()> {
    let mut prev_traf_end: Option<u64> = None;
    for child in Children::new(body, moof.payload_offset()) {
        let (hdr, bytes) = child?;
        if &hdr.kind != b"traf" {
            continue;
        }
        let end = parse_traf(movie, moof.offset, prev_traf_end, &hdr, bytes, file_len)?;
        prev_traf_end = Some(end);
    }
    Ok(())
}

/// Returns the end of this traf's sample data (the implicit base of the next traf).
fn parse_traf(
    movie: &mut Movie,
    moof_offset: u64,
    prev_traf_end: Option<u64>,
    traf: &BoxHeader,
    bytes: &[u8],
    file_len: u64,
) -> Result<u64> {
    let mut tfhd = None;
    let mut tfdt = None;
    let mut truns = Vec::new();
    for child in Children::new(payload(traf, bytes), traf.payload_offset()) {
        let (h, b) = child?;
        match &h.kind {
            b"tfhd" if tfhd.is_none() => tfhd = Some(decode_atom::<Tfhd>(&h, b)?),
            b"tfdt" if tfdt.is_none() => tfdt = Some((h, decode_atom::<Tfdt>(&h, b)?)),
            b"trun" => truns.push((h, decode_atom::<Trun>(&h, b)?)),
            _ => {}
        }
    }
    let tfhd = tfhd.ok_or_else(|| Error::mp4("traf has no tfhd", traf.offset))?;
    let id = tfhd.track_id;
    // A track without trex (malformed, but seen) gets neutral defaults.
    let trex = movie.trex_for(id).cloned().unwrap_or(Trex {
        track_id: id,
        default_sample_description_index: 1,
        ..Default::default()
    });
    let base = match (
        tfhd.base_data_offset,
        tfhd.default_base_is_moof,
        prev_traf_end,
    ) {
        (Some(b), _, _) => b,
        (None, true, _) | (None, false, None) => moof_offset,
        (None, false, Some(end)) => end,
    };
    let defaults = Defaults {
        size: tfhd.default_sample_size.unwrap_or(trex.default_sample_size),
        duration: tfhd
            .default_sample_duration
            .unwrap_or(trex.default_sample_duration),
        flags: tfhd
            .default_sample_flags
            .unwrap_or(trex.default_sample_flags),
        sdi: tfhd
            .sample_description_index
            .unwrap_or(trex.default_sample_description_index),
    };

    // Text tracks (a packager's WebVTT-in-MP4) are fragmented like media tracks.
    let text = movie.text.iter_mut().map(|t| &mut t.track);
    let mut track = movie
        .tracks
        .iter_mut()
        .chain(text)
        .find(|t| t.info.id == id);
    if let (Some(t), Some((h, tfdt))) = (track.as_deref_mut(), tfdt) {
        let dts = i64::try_from(tfdt.base_media_decode_time).map_err(|_| {
            Error::mp4(
                format!(
                    "track {id}: tfdt {} out of range",
                    tfdt.base_media_decode_time
                ),
                h.offset,
            )
        })?;
        if t.open() {
            t.table.set_next_dts(dts);
        }
    }

    let mut next_data = base;
    for (h, trun) in &truns {
        let start = match trun.data_offset {
            Some(d) => base.checked_add_signed(i64::from(d)).ok_or_else(|| {
                Error::mp4(
                    format!("track {id}: trun data offset {d} from base {base} is out of range"),
                    h.offset,
                )
            })?,
            None => next_data,
        };
        next_data = place_trun(
            track.as_deref_mut(),
            id,
            h,
            trun,
            start,
            &defaults,
            file_len,
        )?;
    }
    Ok(next_data)
}

/// The values of a traf's samples that its truns leave out (tfhd, else trex: §8.8.3).
struct Defaults {
    size: u32,
    duration: u32,
    flags: u32,
    sdi: u32,
}

/// Appends the samples of `trun` (header `h`) of track `id`, their data from `start`, to
/// `track` (`None`: a track not kept, whose data is only stepped over); returns the end of
/// their data.
fn place_trun(
    mut track: Option<&mut super::track::Track>,
    id: u32,
    h: &BoxHeader,
    trun: &Trun,
    start: u64,
    d: &Defaults,
    file_len: u64,
) -> Result<u64> {
    let count = trun.samples.len() as u64;
    if count > file_len {
        return Err(Error::mp4(
            format!("track {id}: trun claims {count} samples, more than the file could hold"),
            h.offset,
        ));
    }
    let overflow = || Error::mp4(format!("track {id}: trun data size overflows"), h.offset);
    let mut offset = start;
    if let (TrunSamples::Inherited { count, .. }, None) = (&trun.samples, track.as_deref()) {
        let len = u64::from(*count)
            .checked_mul(u64::from(d.size))
            .ok_or_else(overflow)?;
        return offset.checked_add(len).ok_or_else(overflow);
    }
    for e in trun.samples.iter() {
        let size = e.size.unwrap_or(d.size);
        if let Some(t) = track.as_deref_mut() {
            let cts = match e.cts {
                Some(c) => cts_i32(c).ok_or_else(|| {
                    let msg = format!("track {id}: trun composition offset {c} out of range");
                    Error::mp4(msg, h.offset)
                })?,
                None => 0,
            };
            let s = RawSample {
                offset,
                size,
                duration: e.duration.unwrap_or(d.duration),
                cts,
                sync: e.flags.unwrap_or(d.flags) & NON_SYNC == 0,
            };
            t.push(s, d.sdi, file_len)?;
        }
        offset = offset.checked_add(u64::from(size)).ok_or_else(overflow)?;
    }
    Ok(offset)
}
