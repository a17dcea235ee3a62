// SPDX-License-Identifier: MIT OR Apache-2.0
//! The index cache: planned files (sample index + plan, or why the file cannot be packaged)
//! by file, format, version and segment duration, least recently used dropped first once
//! their heap bytes pass the bound (`--jit-index-cache-mib`). One plan is made per key however
//! many requests wait for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::Planned;

/// What a cache entry identifies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub file: String,
    pub ts: bool,
    pub version: String,
    /// Segment duration, milliseconds.
    pub duration_ms: u64,
}

pub(crate) type Cell = Arc<OnceCell<Planned>>;

struct Slot {
    cell: Cell,
    /// Heap bytes, once planned (0 before).
    cost: usize,
    used: u64,
}

#[derive(Default)]
struct Inner {
    slots: HashMap<Key, Slot>,
    tick: u64,
    total: usize,
}

pub(crate) struct IndexCache {
    bound: usize,
    inner: Mutex<Inner>,
}

impl IndexCache {
    pub fn new(bound: usize) -> Self {
        IndexCache {
            bound,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The cell for `key` (new and empty if unknown), marked most recently used.
    pub fn cell(&self, key: &Key) -> Cell {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.tick += 1;
        let tick = g.tick;
        let slot = g.slots.entry(key.clone()).or_insert_with(|| Slot {
            cell: Arc::new(OnceCell::new()),
            cost: 0,
            used: tick,
        });
        slot.used = tick;
        Arc::clone(&slot.cell)
    }

    /// Records the heap bytes of `key`'s settled plan and drops the least recently used other
    /// entries while the total is over the bound.
    pub fn settled(&self, key: &Key, cost: usize) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(slot) = g.slots.get_mut(key) else {
            return;
        };
        let before = std::mem::replace(&mut slot.cost, cost);
        g.total = g.total.saturating_sub(before).saturating_add(cost);
        while g.total > self.bound {
            let victim = g
                .slots
                .iter()
                .filter(|(k, s)| *k != key && s.cost > 0)
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone());
            let Some(victim) = victim else { break };
            if let Some(s) = g.slots.remove(&victim) {
                g.total = g.total.saturating_sub(s.cost);
            }
        }
    }

    /// Whether some version of `file` (MPEG-TS output or not) has been planned, successfully
    /// or not.
    pub fn has_plan(&self, file: &str, ts: bool) -> bool {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.slots
            .iter()
            .any(|(k, s)| k.file == file && k.ts == ts && s.cell.initialized())
    }

    /// Forgets `key` (a plan that must be made again).
    pub fn forget(&self, key: &Key) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = g.slots.remove(key) {
            g.total = g.total.saturating_sub(s.cost);
        }
    }

    /// Heap bytes of the settled entries, and the number of entries.
    pub fn usage(&self) -> (usize, usize) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (g.total, g.slots.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> Key {
        Key {
            file: format!("f{n}.mp4"),
            ts: false,
            version: "v".into(),
            duration_ms: 6000,
        }
    }

    /// Bound 250 bytes, entries of 100: the least recently used goes first, the entry just
    /// settled never.
    #[test]
    fn least_recently_used_dropped_at_the_bound() {
        let cache = IndexCache::new(250);
        for n in 0..2 {
            cache.cell(&key(n));
            cache.settled(&key(n), 100);
        }
        cache.cell(&key(0)); // 0 used after 1
        cache.cell(&key(2));
        cache.settled(&key(2), 100);
        assert_eq!(cache.usage(), (200, 2));
        let g = cache.inner.lock().unwrap();
        assert!(g.slots.contains_key(&key(0)) && !g.slots.contains_key(&key(1)));
        drop(g);
        // One entry larger than the bound stays (it is the one being served).
        cache.cell(&key(3));
        cache.settled(&key(3), 1000);
        assert_eq!(cache.usage(), (1000, 1));
    }
}
