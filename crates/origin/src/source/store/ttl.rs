// SPDX-License-Identifier: MIT OR Apache-2.0
//! A small map of values fetched from storage, each kept for a time-to-live, where concurrent
//! callers for the same key share one fetch (request collapsing).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

/// Entries kept before the map is emptied and refilled (a bound, not an LRU: what is hot is
/// fetched again at once).
const MAX_ENTRIES: usize = 8192;

/// A value and until when it may be used.
#[derive(Debug)]
struct Fresh<T> {
    value: T,
    until: Instant,
}

type Slot<T> = Arc<OnceCell<Fresh<T>>>;

#[derive(Debug)]
pub(super) struct TtlMap<T> {
    map: Mutex<HashMap<String, Slot<T>>>,
}

impl<T> Default for TtlMap<T> {
    fn default() -> Self {
        TtlMap {
            map: Mutex::default(),
        }
    }
}

impl<T: Clone> TtlMap<T> {
    /// The value of `key`: the kept one while fresh, else the result of `fetch(previous)` —
    /// run by one caller while the others wait for it — kept for the time-to-live it
    /// returns. Errors are not kept.
    pub(super) async fn get<F, Fut>(&self, key: &str, fetch: F) -> io::Result<T>
    where
        F: FnOnce(Option<T>) -> Fut,
        Fut: Future<Output = io::Result<(T, Duration)>>,
    {
        let (slot, previous) = self.slot(key);
        let got = slot
            .get_or_try_init(|| async {
                let (value, ttl) = fetch(previous).await?;
                Ok::<_, io::Error>(Fresh {
                    value,
                    until: Instant::now() + ttl,
                })
            })
            .await
            .map(|fresh| fresh.value.clone());
        if got.is_err() {
            self.forget(key, &slot);
        }
        got
    }

    /// The slot to use for `key` (a new one when the kept one is stale), and the stale value.
    fn slot(&self, key: &str) -> (Slot<T>, Option<T>) {
        let Ok(mut map) = self.map.lock() else {
            return (Arc::default(), None);
        };
        let mut previous = None;
        if let Some(slot) = map.get(key) {
            match slot.get() {
                // Being fetched, or fresh.
                None => return (Arc::clone(slot), None),
                Some(f) if f.until > Instant::now() => return (Arc::clone(slot), None),
                Some(f) => previous = Some(f.value.clone()),
            }
        }
        if map.len() >= MAX_ENTRIES && !map.contains_key(key) {
            map.clear();
        }
        let slot = Slot::default();
        map.insert(key.to_owned(), Arc::clone(&slot));
        (slot, previous)
    }

    fn forget(&self, key: &str, slot: &Slot<T>) {
        if let Ok(mut map) = self.map.lock() {
            if map.get(key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
                map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_fetch_per_key_while_fresh() {
        let map = Arc::new(TtlMap::<u32>::default());
        let fetches = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (map, fetches) = (Arc::clone(&map), Arc::clone(&fetches));
                tokio::spawn(async move {
                    map.get("k", |_| async move {
                        fetches.fetch_add(1, SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok((7, Duration::from_millis(200)))
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 7);
        }
        assert_eq!(fetches.load(SeqCst), 1);
        // Stale: fetched again, with the previous value handed to the fetch.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let got = map
            .get("k", |prev| async move {
                Ok((prev.unwrap() + 1, Duration::ZERO))
            })
            .await;
        assert_eq!(got.unwrap(), 8);
        // Errors are not kept: the next caller fetches.
        let err = map
            .get("e", |_| async { Err(io::Error::other("down")) })
            .await;
        assert!(err.is_err());
        let ok = map.get("e", |_| async { Ok((1, Duration::ZERO)) }).await;
        assert_eq!(ok.unwrap(), 1);
    }
}
