// SPDX-License-Identifier: MIT OR Apache-2.0
//! Repair of odd sample-to-chunk tables (ISO/IEC 14496-12 §8.7.4).
//!
//! §8.7.4.3: `first_chunk` starts at 1 and increases, `samples_per_chunk` and
//! `sample_description_index` are at least 1. Writers break these rules; ffmpeg's mov demuxer
//! repairs the table (libavformat/mov.c, `mov_read_stsc`, "STSC entry %d is invalid") and then
//! applies the first entry from chunk 1 whatever its `first_chunk`. The same repair is done
//! here, so a file packages exactly as `ffmpeg -c copy` reads it, with one warning per entry.

use mp4_atom::StscEntry;

/// One run of chunks: from chunk `first` (1-based) on, `count` samples per chunk, described
/// by sample description `sdi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChunkRun {
    pub first: u64,
    pub count: u32,
    pub sdi: u32,
}

/// Returns the repaired runs, walking from the last entry back as ffmpeg does: an invalid
/// entry (`first_chunk` not increasing, below its position, `samples_per_chunk` or
/// `sample_description_index` 0) takes the next entry's values, starting one chunk earlier;
/// an invalid last entry is dropped when its count is 0, else clamped. Entries starting past
/// the last chunk are harmless (never reached) and kept. Warnings name the track and entry.
pub(super) fn repair(track: u32, entries: &[StscEntry]) -> Vec<ChunkRun> {
    let mut runs: Vec<ChunkRun> = entries
        .iter()
        .map(|e| ChunkRun {
            first: u64::from(e.first_chunk),
            count: e.samples_per_chunk,
            sdi: e.sample_description_index,
        })
        .collect();
    let mut i = runs.len();
    while i > 0 {
        i -= 1;
        let Some(&e) = runs.get(i) else { break };
        let next = runs.get(i + 1).copied();
        let prev = i.checked_sub(1).and_then(|p| runs.get(p)).copied();
        let first_min = i as u64 + 1;
        let invalid = next.is_some_and(|n| e.first >= n.first)
            || prev.is_some_and(|p| e.first <= p.first)
            || e.first < first_min
            || e.count < 1
            || e.sdi < 1;
        if !invalid {
            continue;
        }
        tracing::warn!(
            track,
            "track {track}: stsc entry {i} is invalid (first_chunk {} samples_per_chunk {} \
             sample_description_index {}); repaired as ffmpeg does (ISO/IEC 14496-12 8.7.4)",
            e.first,
            e.count,
            e.sdi
        );
        let fixed = match next {
            // Replaced by the next (valid, already repaired) entry, one chunk earlier.
            Some(n) => ChunkRun {
                first: n.first.saturating_sub(1),
                ..n
            },
            None if e.count == 0 && i > 0 => {
                runs.truncate(i);
                continue;
            }
            None => {
                let mut first = e.first.max(first_min);
                if let Some(p) = prev.filter(|p| first <= p.first) {
                    first = p.first + 1;
                }
                ChunkRun {
                    first,
                    count: e.count.max(1),
                    sdi: e.sdi.max(1),
                }
            }
        };
        if let Some(slot) = runs.get_mut(i) {
            *slot = fixed;
        }
    }
    if let Some(r) = runs.first().filter(|r| r.first != 1) {
        tracing::warn!(
            track,
            "track {track}: stsc starts at chunk {} instead of 1; its first entry applies \
             from chunk 1 (as ffmpeg reads it)",
            r.first
        );
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(first: u32, count: u32, sdi: u32) -> StscEntry {
        StscEntry {
            first_chunk: first,
            samples_per_chunk: count,
            sample_description_index: sdi,
        }
    }
    fn r(first: u64, count: u32, sdi: u32) -> ChunkRun {
        ChunkRun { first, count, sdi }
    }

    #[test]
    fn repairs_like_ffmpeg() {
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, Vec<StscEntry>, Vec<ChunkRun>)] = &[
            (
                "valid",
                vec![e(1, 5, 1), e(3, 2, 1)],
                vec![r(1, 5, 1), r(3, 2, 1)],
            ),
            ("empty", vec![], vec![]),
            (
                "first not 1 (kept, applied from 1)",
                vec![e(2, 5, 1)],
                vec![r(2, 5, 1)],
            ),
            (
                "duplicate entry",
                vec![e(1, 5, 1), e(4, 5, 1), e(4, 5, 1)],
                vec![r(1, 5, 1), r(4, 5, 1), r(5, 5, 1)],
            ),
            (
                "zero samples per chunk in the middle",
                vec![e(1, 5, 1), e(3, 0, 1), e(5, 4, 1)],
                vec![r(1, 5, 1), r(4, 4, 1), r(5, 4, 1)],
            ),
            (
                "zero count last (dropped)",
                vec![e(1, 5, 1), e(3, 0, 1)],
                vec![r(1, 5, 1)],
            ),
            (
                "zero count only (clamped)",
                vec![e(1, 0, 0)],
                vec![r(1, 1, 1)],
            ),
            (
                "first 0",
                vec![e(0, 5, 1), e(3, 2, 1)],
                vec![r(2, 2, 1), r(3, 2, 1)],
            ),
            (
                "past the chunk count",
                vec![e(1, 5, 1), e(900, 2, 1)],
                vec![r(1, 5, 1), r(900, 2, 1)],
            ),
            (
                "decreasing",
                vec![e(1, 5, 1), e(6, 3, 1), e(4, 2, 1)],
                vec![r(1, 5, 1), r(6, 3, 1), r(7, 2, 1)],
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(&repair(1, input), want, "{name}");
        }
    }
}
