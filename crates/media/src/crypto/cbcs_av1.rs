// SPDX-License-Identifier: MIT OR Apache-2.0
//! The cbcs subsamples of an AV1 sample (AV1 Codec ISO Media File Format Binding v1.2.0 §7
//! "Common Encryption"): subsample encryption; OBU headers and `obu_size` fields clear; every
//! OBU other than OBU_FRAME and OBU_TILE_GROUP clear; inside those, the frame header, the tile
//! group header and the tile size fields clear, and each tile's data (`decode_tile()`) one
//! protected range starting at the tile's first byte, under pattern 1:9 with a trailing
//! partial block clear (ISO/IEC 23001-7 §10.4.2). One subsample per tile: its clear bytes are
//! what lies between the previous tile and this one.
//!
//! Where the tiles are takes the frame headers parsed with the state of the frames before
//! ([`crate::codec::av1_header`]): an [`Av1Splitter`] is fed a track's samples in decode order,
//! once each. The headers it reads stay clear, so it gives the same answer on the ciphertext.

use std::ops::Range;

use super::cbcs::{push_clear_subsample, Subsample};
use crate::codec::av1_header::{self as hdr, Av1Parser, TileLayout};

/// The AV1 tile finder of one track: the sequence header and reference state.
#[derive(Debug, Clone, Default)]
pub struct Av1Splitter {
    parser: Av1Parser,
    tiles: Vec<Range<usize>>,
}

/// One OBU of a sample (§5.3): its type, layer ids, where its payload is.
struct Obu {
    kind: u8,
    temporal_id: u32,
    spatial_id: u32,
    payload: Range<usize>,
}

/// leb128() (AV1 spec §4.10.5): the value and the bytes it took.
fn leb128(data: &[u8]) -> Result<(usize, usize), String> {
    let mut value: u64 = 0;
    for i in 0..8 {
        let b = *data.get(i).ok_or("obu_size past the end")?;
        value |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            let v = usize::try_from(value)
                .ok()
                .filter(|&v| v <= u32::MAX as usize)
                .ok_or("obu_size above 2^32 - 1")?;
            return Ok((v, i + 1));
        }
    }
    Err("obu_size longer than 8 bytes".into())
}

/// The OBU at `pos` of `data` (§5.3.1 obu_header, §5.3.2 obu_extension_header).
fn obu_at(data: &[u8], pos: usize) -> Result<Obu, String> {
    let rest = data.get(pos..).unwrap_or_default();
    let &[h, ..] = rest else {
        return Err("no OBU header".into());
    };
    if h & 0x80 != 0 {
        return Err("obu_forbidden_bit set".into());
    }
    let kind = (h >> 3) & 0x0F;
    let mut len = 1;
    let (mut temporal_id, mut spatial_id) = (0, 0);
    if h & 0x04 != 0 {
        let e = *rest.get(1).ok_or("obu_extension_header past the end")?;
        temporal_id = u32::from(e >> 5);
        spatial_id = u32::from((e >> 3) & 3);
        len += 1;
    }
    let size = if h & 0x02 != 0 {
        let (size, n) = leb128(rest.get(len..).unwrap_or_default())?;
        len += n;
        size
    } else {
        rest.len().saturating_sub(len)
    };
    let start = pos + len;
    let end = start
        .checked_add(size)
        .filter(|&e| e <= data.len())
        .ok_or_else(|| format!("obu_size {size} past the end of the sample"))?;
    Ok(Obu {
        kind,
        temporal_id,
        spatial_id,
        payload: start..end,
    })
}

impl Av1Splitter {
    /// A splitter for the track whose `av1C` is `av1c` (AV1-ISOBMFF §2.3.3): its configOBUs
    /// (after the 4 fixed bytes) may hold the sequence header.
    pub fn new(av1c: &[u8]) -> Result<Self, String> {
        let mut s = Av1Splitter::default();
        let obus = av1c.get(4..).unwrap_or_default();
        s.tiles_of(obus)
            .map_err(|e| format!("av1C configOBUs: {e}"))?;
        if !s.tiles.is_empty() {
            return Err("av1C configOBUs hold tile data".into());
        }
        Ok(s)
    }

    /// The subsamples of sample `data` (one temporal unit), appended to `out`.
    pub fn subsamples(&mut self, data: &[u8], out: &mut Vec<Subsample>) -> Result<(), String> {
        self.tiles_of(data)?;
        let mut end = 0usize;
        let mut clear = 0usize;
        for tile in &self.tiles {
            // Tiles come in order, each inside its OBU after the one before.
            clear += tile.start.checked_sub(end).ok_or("tiles out of order")?;
            end = tile.end;
            if tile.is_empty() {
                continue;
            }
            push_clear_subsample(clear, tile.len(), out);
            clear = 0;
        }
        clear += data.len().saturating_sub(end);
        if clear > 0 {
            push_clear_subsample(clear, 0, out);
        }
        Ok(())
    }

    /// Fills `self.tiles` with the byte ranges of the tiles of `data`, in order.
    fn tiles_of(&mut self, data: &[u8]) -> Result<(), String> {
        self.tiles.clear();
        // The frame whose header was seen and whose tile groups follow (SeenFrameHeader,
        // §5.9.1), with the next tile number expected; a temporal unit starts without one.
        let mut open: Option<(TileLayout, u32)> = None;
        let mut pos = 0usize;
        while pos < data.len() {
            let fail = |kind: Option<u8>, e: String| match kind {
                Some(k) => format!("byte {pos}: OBU type {k}: {e}"),
                None => format!("byte {pos}: {e}"),
            };
            let obu = obu_at(data, pos).map_err(|e| fail(None, e))?;
            let payload = data.get(obu.payload.clone()).unwrap_or_default();
            let (t, s) = (obu.temporal_id, obu.spatial_id);
            let base = obu.payload.start;
            match obu.kind {
                hdr::OBU_SEQUENCE_HEADER => self
                    .parser
                    .set_sequence_header(payload)
                    .map_err(|e| fail(Some(obu.kind), format!("sequence header: {e}")))?,
                hdr::OBU_TEMPORAL_DELIMITER => open = None,
                hdr::OBU_FRAME_HEADER | hdr::OBU_REDUNDANT_FRAME_HEADER if open.is_none() => {
                    let h = self
                        .parser
                        .frame_header(payload, t, s)
                        .map_err(|e| fail(Some(obu.kind), format!("frame header: {e}")))?;
                    open = h.tiles.map(|l| (l, 0));
                }
                hdr::OBU_FRAME => {
                    if open.is_some() {
                        let e = "OBU_FRAME before the previous frame's last tile".into();
                        return Err(fail(Some(obu.kind), e));
                    }
                    let h = self
                        .parser
                        .frame_header(payload, t, s)
                        .map_err(|e| fail(Some(obu.kind), format!("frame header: {e}")))?;
                    let layout = h.tiles.ok_or_else(|| {
                        fail(Some(obu.kind), "show_existing_frame in an OBU_FRAME".into())
                    })?;
                    let group = payload.get(h.bytes..).unwrap_or_default();
                    open = self
                        .group(group, base + h.bytes, layout, 0)
                        .map_err(|e| fail(Some(obu.kind), e))?;
                }
                hdr::OBU_TILE_GROUP => {
                    let (layout, next) = open.ok_or_else(|| {
                        fail(Some(obu.kind), "tile group without a frame header".into())
                    })?;
                    open = self
                        .group(payload, base, layout, next)
                        .map_err(|e| fail(Some(obu.kind), e))?;
                }
                hdr::OBU_TILE_LIST => {
                    let e = "large-scale tile lists (OBU_TILE_LIST) are not supported".into();
                    return Err(fail(Some(obu.kind), e));
                }
                // Metadata, padding, reserved types, frame header copies: clear.
                _ => {}
            }
            pos = obu.payload.end;
        }
        if let Some((layout, next)) = open {
            return Err(format!(
                "the sample ends after tile {next} of the frame's {}",
                layout.count()
            ));
        }
        Ok(())
    }

    /// The tiles of one tile group at `base` in the sample; the frame left open, if any.
    fn group(
        &mut self,
        payload: &[u8],
        base: usize,
        layout: TileLayout,
        next: u32,
    ) -> Result<Option<(TileLayout, u32)>, String> {
        let from = self.tiles.len();
        let (last, next) = hdr::tile_group(payload, &layout, next, &mut self.tiles)?;
        for t in self.tiles.iter_mut().skip(from) {
            *t = base + t.start..base + t.end;
        }
        Ok((!last).then_some((layout, next)))
    }
}

#[cfg(test)]
#[path = "cbcs_av1_tests.rs"]
mod tests;
