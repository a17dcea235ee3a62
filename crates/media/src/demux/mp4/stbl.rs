// SPDX-License-Identifier: MIT OR Apache-2.0
//! Sample tables of non-fragmented samples (ISO/IEC 14496-12 §8.5–§8.7): decoding times
//! (stts §8.6.1.2), composition offsets (ctts §8.6.1.3), sync samples (stss §8.6.2), sample
//! sizes (stsz/stz2 §8.7.3), sample-to-chunk (stsc §8.7.4) and chunk offsets (stco/co64
//! §8.7.5), expanded into the compact [`SampleTable`](super::table::SampleTable).

use mp4_atom::{Co64, Ctts, Stco, Stsc, Stss, Stsz, StszSamples, Stts};

use super::boxes::{be_u32, decode_atom, payload, BoxHeader};
use super::moov::Found;
use super::table::RawSample;
use super::track::Track;
use crate::error::{Error, Result};

#[derive(Default)]
pub(super) struct StblBoxes<'a> {
    pub stsd: Found<'a>,
    pub stts: Found<'a>,
    pub ctts: Found<'a>,
    pub stss: Found<'a>,
    pub stsc: Found<'a>,
    pub stsz: Found<'a>,
    pub stz2: Found<'a>,
    pub stco: Found<'a>,
    pub co64: Found<'a>,
}

fn decode<T: mp4_atom::Decode>(f: Found<'_>) -> Result<Option<(BoxHeader, T)>> {
    f.map(|(h, b)| decode_atom::<T>(&h, b).map(|v| (h, v)))
        .transpose()
}

/// Sample sizes from stsz or stz2.
enum Sizes {
    Fixed { size: u32, count: u32 },
    List(Vec<u32>),
}

impl Sizes {
    fn count(&self) -> u64 {
        match self {
            Sizes::Fixed { count, .. } => u64::from(*count),
            Sizes::List(v) => v.len() as u64,
        }
    }
    fn get(&self, i: usize) -> Option<u32> {
        match self {
            Sizes::Fixed { size, count } => (i < *count as usize).then_some(*size),
            Sizes::List(v) => v.get(i).copied(),
        }
    }
}

/// §8.7.3.3 CompactSampleSizeBox: version/flags, reserved(24), field_size(8), sample_count,
/// then `field_size`-bit entries (4, 8 or 16).
fn parse_stz2(h: &BoxHeader, bytes: &[u8]) -> Result<Sizes> {
    let p = payload(h, bytes);
    let bad = |m: &str| Error::mp4(format!("stz2: {m}"), h.offset);
    let field = *p.get(7).ok_or_else(|| bad("box too short"))?;
    let count = be_u32(p, 8).ok_or_else(|| bad("box too short"))? as usize;
    let data = p.get(12..).unwrap_or(&[]);
    let avail = match field {
        4 => data.len() * 2,
        8 => data.len(),
        16 => data.len() / 2,
        f => return Err(bad(&format!("invalid field_size {f}"))),
    };
    if count > avail {
        return Err(bad(&format!("{count} samples declared, room for {avail}")));
    }
    let sizes = (0..count)
        .map(|i| match field {
            4 => {
                let b = data.get(i / 2).copied().unwrap_or(0);
                u32::from(if i % 2 == 0 { b >> 4 } else { b & 0x0F })
            }
            8 => u32::from(data.get(i).copied().unwrap_or(0)),
            _ => u32::from(super::boxes::be_u16(data, i * 2).unwrap_or(0)),
        })
        .collect();
    Ok(Sizes::List(sizes))
}

/// Walks run-length entries (count, value) one sample at a time.
struct Runs<T: Copy> {
    entries: Vec<(u64, T)>,
    idx: usize,
    used: u64,
}

impl<T: Copy> Runs<T> {
    fn new(entries: Vec<(u64, T)>) -> Self {
        Runs {
            entries,
            idx: 0,
            used: 0,
        }
    }
    fn next_value(&mut self) -> Option<T> {
        loop {
            let &(count, value) = self.entries.get(self.idx)?;
            if self.used < count {
                self.used += 1;
                return Some(value);
            }
            self.idx += 1;
            self.used = 0;
        }
    }
}

/// Composition offsets are signed in ctts version 1; some old writers put negative offsets
/// in version 0 boxes as two's complement, which is how they are read here (as ffmpeg does).
pub(super) fn cts_i32(v: i64) -> Option<i32> {
    i32::try_from(v)
        .ok()
        .or_else(|| u32::try_from(v).ok().map(|u| u as i32))
}

/// The `track N: …` error at byte `at` of the file.
fn track_err(id: u32, msg: String, at: u64) -> Error {
    Error::mp4(format!("track {id}: {msg}"), at)
}

/// Appends the samples described by the stbl boxes to `track`.
pub(super) fn build_plain(
    track: &mut Track,
    b: &StblBoxes<'_>,
    trak_offset: u64,
    file_len: u64,
) -> Result<()> {
    let id = track.info.id;
    let Some((size_hdr, sizes)) = sample_sizes(b)? else {
        // A fragmented file may leave the sample tables out; treat as no samples.
        return Ok(());
    };
    let n = sizes.count();
    if n == 0 {
        return Ok(());
    }
    // Each sample costs at least a byte of the file (`Track::push`): no more can exist.
    let room = usize::try_from(n.min(file_len)).unwrap_or(usize::MAX);
    track.table.reserve(room);
    let err = |msg: String, at: u64| track_err(id, msg, at);
    let (stts_h, mut durations) = durations(id, b, n, trak_offset)?;
    let mut offsets_cts = composition_offsets(id, b, n)?;
    let (chunks_h, chunks, runs) = chunks(id, b, n, trak_offset)?;
    let sync_all = b.stss.is_none();
    let mut index: u64 = 0;
    let mut stsc_idx = 0usize;
    'chunks: for (ci, &chunk_offset) in chunks.iter().enumerate() {
        let chunk_no = ci as u64 + 1;
        while runs.get(stsc_idx + 1).is_some_and(|e| e.first <= chunk_no) {
            stsc_idx += 1;
        }
        let Some(entry) = runs.get(stsc_idx) else {
            break;
        };
        let mut offset = chunk_offset;
        for _ in 0..entry.count {
            if index >= n {
                break 'chunks;
            }
            let size = sizes
                .get(index as usize)
                .ok_or_else(|| err(format!("no size for sample {index}"), size_hdr.offset))?;
            let duration = durations
                .next_value()
                .ok_or_else(|| err(format!("no stts entry for sample {index}"), stts_h.offset))?;
            let cts = offsets_cts.as_mut().and_then(Runs::next_value).unwrap_or(0);
            let s = RawSample {
                offset,
                size,
                duration,
                cts,
                sync: sync_all,
            };
            if !track.push(s, entry.sdi, file_len)? {
                break 'chunks;
            }
            offset = offset
                .checked_add(u64::from(size))
                .ok_or_else(|| err(format!("sample {index} offset overflows"), chunks_h.offset))?;
            index += 1;
        }
    }
    if index < n && track.open() {
        return Err(err(
            format!(
                "chunk tables (stsc/stco) place only {index} of {n} samples ({} chunks)",
                chunks.len()
            ),
            chunks_h.offset,
        ));
    }
    if let Some((_, stss)) = decode::<Stss>(b.stss)? {
        for &number in &stss.entries {
            // stss sample numbers are 1-based.
            if let Some(i) = (number as usize).checked_sub(1) {
                track.table.set_sync(i);
            }
        }
    }
    Ok(())
}

/// The sample sizes (stsz or stz2), if the track has sample tables.
fn sample_sizes(b: &StblBoxes<'_>) -> Result<Option<(BoxHeader, Sizes)>> {
    if let Some((h, v)) = decode::<Stsz>(b.stsz)? {
        let s = match v.samples {
            StszSamples::Identical { count, size } => Sizes::Fixed { size, count },
            StszSamples::Different { sizes } => Sizes::List(sizes),
        };
        Ok(Some((h, s)))
    } else if let Some((h, bytes)) = b.stz2 {
        Ok(Some((h, parse_stz2(&h, bytes)?)))
    } else {
        Ok(None)
    }
}

/// The sample durations (stts), which must cover the `n` samples.
fn durations(
    id: u32,
    b: &StblBoxes<'_>,
    n: u64,
    trak_offset: u64,
) -> Result<(BoxHeader, Runs<u32>)> {
    let (stts_h, stts) = decode::<Stts>(b.stts)?
        .ok_or_else(|| track_err(id, "stsz without stts".into(), trak_offset))?;
    let stts_total: u64 = stts.entries.iter().map(|e| u64::from(e.sample_count)).sum();
    if stts_total < n {
        return Err(track_err(
            id,
            format!("stts covers {stts_total} samples but stsz has {n}"),
            stts_h.offset,
        ));
    }
    let runs = stts.entries.iter();
    let runs = runs.map(|e| (u64::from(e.sample_count), e.sample_delta));
    Ok((stts_h, Runs::new(runs.collect())))
}

/// The composition offsets (ctts), if any, which must cover the `n` samples.
fn composition_offsets(id: u32, b: &StblBoxes<'_>, n: u64) -> Result<Option<Runs<i32>>> {
    let Some((h, c)) = decode::<Ctts>(b.ctts)? else {
        return Ok(None);
    };
    let mut entries = Vec::with_capacity(c.entries.len());
    let mut total = 0u64;
    for e in &c.entries {
        let off = cts_i32(e.sample_offset).ok_or_else(|| {
            let msg = format!("ctts offset {} out of range", e.sample_offset);
            track_err(id, msg, h.offset)
        })?;
        total += u64::from(e.sample_count);
        entries.push((u64::from(e.sample_count), off));
    }
    if total < n {
        let msg = format!("ctts covers {total} samples but stsz has {n}");
        return Err(track_err(id, msg, h.offset));
    }
    Ok(Some(Runs::new(entries)))
}

/// The chunk offsets (stco or co64) and the runs of chunks of the same number of samples
/// (stsc, repaired), which must place at least one sample.
fn chunks(
    id: u32,
    b: &StblBoxes<'_>,
    n: u64,
    trak_offset: u64,
) -> Result<(BoxHeader, Vec<u64>, Vec<super::stsc::ChunkRun>)> {
    let (stsc_h, stsc) =
        decode::<Stsc>(b.stsc)?.ok_or_else(|| track_err(id, "no stsc box".into(), trak_offset))?;
    let (chunks_h, chunks): (BoxHeader, Vec<u64>) = if let Some((h, c)) = decode::<Co64>(b.co64)? {
        (h, c.entries)
    } else if let Some((h, c)) = decode::<Stco>(b.stco)? {
        (h, c.entries.into_iter().map(u64::from).collect())
    } else {
        return Err(track_err(id, "no stco/co64 box".into(), trak_offset));
    };
    // §8.7.4: odd entries are repaired as ffmpeg does (see `stsc`).
    let runs = super::stsc::repair(id, &stsc.entries);
    if runs.is_empty() {
        let msg = format!(
            "stsc is empty but stsz lists {n} samples in {} chunks: no sample can be placed \
             (ffmpeg drops this track too)",
            chunks.len()
        );
        return Err(track_err(id, msg, stsc_h.offset));
    }
    Ok((chunks_h, chunks, runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stz2_field_sizes() {
        let h = BoxHeader {
            kind: *b"stz2",
            offset: 0,
            header_len: 8,
            size: 0,
        };
        let mk = |field: u8, count: u32, data: &[u8]| {
            let mut v = vec![0u8; 8];
            v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, field]);
            v.extend_from_slice(&count.to_be_bytes());
            v.extend_from_slice(data);
            v
        };
        let list = |s: Result<Sizes>| match s {
            Ok(Sizes::List(v)) => v,
            _ => vec![u32::MAX],
        };
        assert_eq!(
            list(parse_stz2(&h, &mk(4, 3, &[0x12, 0x30]))),
            vec![1, 2, 3]
        );
        assert_eq!(list(parse_stz2(&h, &mk(8, 2, &[7, 9]))), vec![7, 9]);
        assert_eq!(list(parse_stz2(&h, &mk(16, 1, &[1, 2]))), vec![0x102]);
        assert!(parse_stz2(&h, &mk(8, 3, &[7, 9])).is_err());
        assert!(parse_stz2(&h, &mk(12, 0, &[])).is_err());
    }

    #[test]
    fn cts_conversion() {
        assert_eq!(cts_i32(5), Some(5));
        assert_eq!(cts_i32(-5), Some(-5));
        assert_eq!(cts_i32(0xFFFF_FFFF), Some(-1));
        assert_eq!(cts_i32(1 << 40), None);
    }
}
