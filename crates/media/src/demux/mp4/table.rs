// SPDX-License-Identifier: MIT OR Apache-2.0
//! Compact per-track sample tables.
//!
//! One sample costs 20 bytes plus one bit (offset u64, size u32, duration u32, composition
//! offset i32, sync bit). Decode times are not stored: they are the running sum of durations
//! (ISO/IEC 14496-12 §8.6.1.2), except where a fragment's `tfdt` (§8.8.12) restarts the clock,
//! which is recorded as a sparse reset.

/// One sample as the tables describe it, before the payload is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RawSample {
    pub offset: u64,
    pub size: u32,
    pub duration: u32,
    pub cts: i32,
    pub sync: bool,
}

/// Most samples [`SampleTable::reserve`] makes room for at once: a day of 30 fps video.
const MAX_RESERVE: usize = 1 << 22;

#[derive(Debug, Default)]
pub(super) struct SampleTable {
    offsets: Vec<u64>,
    sizes: Vec<u32>,
    durations: Vec<u32>,
    /// Empty while every composition offset so far is zero (audio, intra-only video).
    cts: Vec<i32>,
    has_cts: bool,
    sync: Vec<u64>,
    /// (sample index, raw decode time) where the running sum is replaced.
    resets: Vec<(u32, i64)>,
    /// Raw decode time of the next sample to be pushed.
    next_dts: i64,
}

impl SampleTable {
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Makes room for `n` more samples, up to [`MAX_RESERVE`] (a table that claims more
    /// grows as its samples prove to exist); none if memory is short.
    pub fn reserve(&mut self, n: usize) {
        let n = n.min(MAX_RESERVE);
        let _ = self.offsets.try_reserve_exact(n);
        let _ = self.sizes.try_reserve_exact(n);
        let _ = self.durations.try_reserve_exact(n);
        let _ = self.sync.try_reserve_exact(n.div_ceil(64));
    }

    /// Byte offset of sample `idx`.
    pub fn offset(&self, idx: usize) -> Option<u64> {
        self.offsets.get(idx).copied()
    }

    /// Raw decode time the next pushed sample will get.
    pub fn next_dts(&self) -> i64 {
        self.next_dts
    }

    /// Sets the raw decode time of the next pushed sample (a fragment's `tfdt`).
    pub fn set_next_dts(&mut self, dts: i64) {
        if dts == self.next_dts {
            return;
        }
        let idx = u32::try_from(self.len()).unwrap_or(u32::MAX);
        match self.resets.last_mut() {
            Some(last) if last.0 == idx => last.1 = dts,
            _ => self.resets.push((idx, dts)),
        }
        self.next_dts = dts;
    }

    /// Appends a sample. Fails (returns false) when the index space (u32) is exhausted.
    pub fn push(&mut self, s: RawSample) -> bool {
        let idx = self.len();
        if u32::try_from(idx).is_err() || idx == u32::MAX as usize {
            return false;
        }
        self.offsets.push(s.offset);
        self.sizes.push(s.size);
        self.durations.push(s.duration);
        if s.cts != 0 && !self.has_cts {
            self.has_cts = true;
            self.cts.resize(idx, 0);
        }
        if self.has_cts {
            self.cts.push(s.cts);
        }
        let word = idx / 64;
        if self.sync.len() <= word {
            self.sync.push(0);
        }
        if s.sync {
            self.set_sync(idx);
        }
        self.next_dts = self.next_dts.saturating_add(i64::from(s.duration));
        true
    }

    /// Marks sample `idx` as a sync sample; out-of-range indices are ignored.
    pub fn set_sync(&mut self, idx: usize) {
        if idx < self.len() {
            if let Some(w) = self.sync.get_mut(idx / 64) {
                *w |= 1u64 << (idx % 64);
            }
        }
    }

    pub fn get(&self, idx: usize) -> Option<RawSample> {
        Some(RawSample {
            offset: *self.offsets.get(idx)?,
            size: *self.sizes.get(idx)?,
            duration: *self.durations.get(idx)?,
            cts: self.cts.get(idx).copied().unwrap_or(0),
            sync: self
                .sync
                .get(idx / 64)
                .is_some_and(|w| w & (1u64 << (idx % 64)) != 0),
        })
    }

    /// Sum of all durations (the track's media duration when no fragment restarts the clock).
    pub fn total_duration(&self) -> u64 {
        self.durations.iter().map(|&d| u64::from(d)).sum()
    }

    /// Heap bytes used, for the memory budget test.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 8
            + self.sizes.capacity() * 4
            + self.durations.capacity() * 4
            + self.cts.capacity() * 4
            + self.sync.capacity() * 8
            + self.resets.capacity() * 16
    }

    pub fn shrink_to_fit(&mut self) {
        self.offsets.shrink_to_fit();
        self.sizes.shrink_to_fit();
        self.durations.shrink_to_fit();
        self.cts.shrink_to_fit();
        self.sync.shrink_to_fit();
        self.resets.shrink_to_fit();
    }
}

/// Sequential position in one table, tracking the raw decode time.
#[derive(Debug, Default, Clone)]
pub(super) struct TableCursor {
    pub next: usize,
    /// Raw decode time of sample `next`.
    pub dts: i64,
    reset_pos: usize,
}

impl TableCursor {
    pub fn new(table: &SampleTable) -> Self {
        let mut c = TableCursor::default();
        c.apply_reset(table);
        c
    }

    fn apply_reset(&mut self, table: &SampleTable) {
        while let Some(&(idx, dts)) = table.resets.get(self.reset_pos) {
            if idx as usize > self.next {
                break;
            }
            if idx as usize == self.next {
                self.dts = dts;
            }
            self.reset_pos += 1;
        }
    }

    /// Moves past sample `next` whose duration is `duration`.
    pub fn advance(&mut self, table: &SampleTable, duration: u32) {
        self.dts = self.dts.saturating_add(i64::from(duration));
        self.next += 1;
        self.apply_reset(table);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(offset: u64, duration: u32, cts: i32, sync: bool) -> RawSample {
        RawSample {
            offset,
            size: 10,
            duration,
            cts,
            sync,
        }
    }

    #[test]
    fn running_dts_with_resets() {
        let mut t = SampleTable::default();
        assert!(t.push(s(0, 10, 0, true)));
        assert!(t.push(s(10, 10, 0, false)));
        t.set_next_dts(20); // same as running: no reset
        assert!(t.push(s(20, 10, 5, false)));
        t.set_next_dts(100);
        assert!(t.push(s(30, 10, 0, true)));
        let mut c = TableCursor::new(&t);
        let mut got = Vec::new();
        while let Some(x) = t.get(c.next) {
            got.push((c.dts, x.cts, x.sync));
            c.advance(&t, x.duration);
        }
        assert_eq!(
            got,
            vec![(0, 0, true), (10, 0, false), (20, 5, false), (100, 0, true)]
        );
        assert_eq!(t.total_duration(), 40);
        assert_eq!(t.next_dts(), 110);
    }

    #[test]
    fn reset_before_first_sample() {
        let mut t = SampleTable::default();
        t.set_next_dts(-5);
        t.set_next_dts(7);
        assert!(t.push(s(0, 3, 9, true)));
        let c = TableCursor::new(&t);
        assert_eq!(c.dts, 7);
        assert_eq!(t.get(0).map(|x| x.cts), Some(9));
    }

    #[test]
    fn sync_bits_past_64() {
        let mut t = SampleTable::default();
        for i in 0..130 {
            assert!(t.push(s(i, 1, 0, i % 50 == 0)));
        }
        t.set_sync(129);
        t.set_sync(500); // ignored
        let syncs: Vec<usize> = (0..130)
            .filter(|&i| t.get(i).is_some_and(|x| x.sync))
            .collect();
        assert_eq!(syncs, vec![0, 50, 100, 129]);
    }
}
