// SPDX-License-Identifier: MIT OR Apache-2.0
//! Viewers: an **estimate** of who watches each stream. HLS has no connections to count: a
//! player fetches playlists and segments over short requests, through caches and CDNs. A
//! viewer here is a distinct client (a keyed hash of its address and `User-Agent`; neither
//! is stored) that fetched a playlist or segment of the stream in the last [`WINDOW`].
//!
//! Limits of the estimate: clients behind one NAT with the same browser count once; a CDN
//! in front makes the origin see the CDN's few addresses, not the audience; a paused player
//! stops counting after the window.
//!
//! Requests are attributed to each directory above the requested file (`a/b/seg.ts` counts
//! for `a` and `a/b`) and to a top-level playlist's name (`x.m3u8` counts for `x`); a
//! stream (`NAME/master.m3u8` → `NAME`) reads the count of its own directory. Memory is
//! bounded: at most [`MAX_DIRS`] directories and [`MAX_CLIENTS`] clients each are tracked
//! (more are not counted), and [`Viewers::changes`] drops what left the window.
//!
//! Plain Rust: the HTTP edge calls [`Viewers::record`] for each successful object request,
//! `/api/streams` reads [`Viewers::count`], and the server's ticker turns
//! [`Viewers::changes`] into `stream.viewers` events (at most every 5 s, only on change).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a client counts after its last request.
pub const WINDOW: Duration = Duration::from_secs(30);
/// Directories tracked at most.
pub const MAX_DIRS: usize = 4096;
/// Clients tracked per directory at most.
pub const MAX_CLIENTS: usize = 100_000;
/// Directory levels above a file that a request counts for.
const MAX_DEPTH: usize = 8;

/// Per-stream viewer estimates of one server.
#[derive(Debug, Default)]
pub struct Viewers {
    /// Keys the client hash: a client cannot be recognised across servers or restarts.
    key: RandomState,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Directory → client hash → last request.
    seen: HashMap<String, HashMap<u64, Instant>>,
    /// Names known to be streams (their master was requested or listed).
    streams: HashSet<String>,
    /// The count last reported per stream by [`Viewers::changes`].
    reported: HashMap<String, u64>,
}

impl Viewers {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The client id of a request: a keyed hash of address and `User-Agent`.
    pub fn client(&self, addr: IpAddr, user_agent: &[u8]) -> u64 {
        self.key.hash_one((addr, user_agent))
    }

    /// Marks `name` as a stream whose viewers are reported.
    pub fn stream(&self, name: &str) {
        let mut state = self.state();
        if !state.streams.contains(name) && state.streams.len() < MAX_DIRS {
            state.streams.insert(name.to_owned());
        }
    }

    /// `client` fetched the object at `path` (relative to the root, no leading `/`) at `now`.
    pub fn record(&self, path: &str, client: u64, now: Instant) {
        let mut state = self.state();
        if let Some(dir) = path.strip_suffix("/master.m3u8") {
            if !state.streams.contains(dir) && state.streams.len() < MAX_DIRS {
                state.streams.insert(dir.to_owned());
            }
        }
        let top_level = (!path.contains('/'))
            .then(|| path.strip_suffix(".m3u8"))
            .flatten();
        let dirs = path
            .match_indices('/')
            .take(MAX_DEPTH)
            .filter_map(|(i, _)| path.get(..i));
        for key in dirs.chain(top_level) {
            state.touch(key, client, now);
        }
    }

    /// Distinct clients of stream `name` within the window before `now`.
    pub fn count(&self, name: &str, now: Instant) -> u64 {
        self.state().count(name, now)
    }

    /// Forgets clients that left the window and returns each known stream whose count
    /// differs from the one last returned for it, with its new count.
    pub fn changes(&self, now: Instant) -> Vec<(String, u64)> {
        let mut state = self.state();
        state.seen.retain(|_, clients| {
            clients.retain(|_, last| within(*last, now));
            !clients.is_empty()
        });
        let mut out = Vec::new();
        let streams: Vec<String> = state.streams.iter().cloned().collect();
        for name in streams {
            let n = state.count(&name, now);
            let before = state.reported.get(&name).copied().unwrap_or(0);
            if n != before {
                out.push((name.clone(), n));
            }
            if n == 0 {
                state.reported.remove(&name);
            } else {
                state.reported.insert(name, n);
            }
        }
        out.sort();
        out
    }
}

impl State {
    fn touch(&mut self, key: &str, client: u64, now: Instant) {
        if !self.seen.contains_key(key) {
            if self.seen.len() >= MAX_DIRS {
                return;
            }
            self.seen.insert(key.to_owned(), HashMap::new());
        }
        let Some(clients) = self.seen.get_mut(key) else {
            return;
        };
        if clients.len() < MAX_CLIENTS || clients.contains_key(&client) {
            clients.insert(client, now);
        }
    }

    fn count(&self, name: &str, now: Instant) -> u64 {
        self.seen.get(name).map_or(0, |clients| {
            clients.values().filter(|t| within(**t, now)).count() as u64
        })
    }
}

fn within(last: Instant, now: Instant) -> bool {
    now.saturating_duration_since(last) < WINDOW
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_count_for_the_streams_above_them_within_the_window() {
        let v = Viewers::default();
        let t0 = Instant::now();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let a = v.client(ip("10.0.0.1"), b"hls.js");
        let b = v.client(ip("10.0.0.2"), b"hls.js");
        let a_safari = v.client(ip("10.0.0.1"), b"Safari");
        assert_ne!(
            a, a_safari,
            "same address, other user agent: another client"
        );
        assert_eq!(a, v.client(ip("10.0.0.1"), b"hls.js"));
        // (path, client, seconds after t0)
        let requests = [
            ("news/master.m3u8", a, 0),
            ("news/v0/index.m3u8", a, 1),
            ("news/v0/000001.ts", a, 2),
            ("news/v1/000001.ts", b, 3),
            ("news/v1/000002.ts", a_safari, 4),
            ("sports/live/master.m3u8", b, 5),
            ("clip.m3u8", a, 6),
        ];
        for (path, client, secs) in requests {
            v.record(path, client, t0 + Duration::from_secs(secs));
        }
        let at = |s| t0 + Duration::from_secs(s);
        // (stream, seconds, expected)
        let cases = [
            ("news", 10, 3),
            ("sports/live", 10, 1),
            ("sports", 10, 1),
            ("clip", 10, 1),
            ("news", 31, 3),
            ("news", 32, 2), // a's last request was at 2 s: 30 s ago, out of the window
            ("news", 33, 1),
            ("news", 34, 0),
            ("unknown", 10, 0),
        ];
        for (name, secs, want) in cases {
            assert_eq!(v.count(name, at(secs)), want, "{name} at {secs}s");
        }
    }

    #[test]
    fn changes_report_known_streams_only_when_their_count_moves() {
        let v = Viewers::default();
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        v.record("live/master.m3u8", 1, at(0));
        v.record("live/v0/1.ts", 2, at(1));
        v.record("other/v0/1.ts", 3, at(1)); // not known as a stream
        assert_eq!(v.changes(at(2)), vec![("live".to_owned(), 2)]);
        assert_eq!(v.changes(at(3)), vec![], "unchanged: nothing to report");
        v.stream("other");
        assert_eq!(v.changes(at(4)), vec![("other".to_owned(), 1)]);
        assert_eq!(
            v.changes(at(40)),
            vec![("live".to_owned(), 0), ("other".to_owned(), 0)],
            "everyone left the window"
        );
        assert_eq!(v.changes(at(41)), vec![]);
        assert!(v.state().seen.is_empty(), "stale clients are forgotten");
    }

    #[test]
    fn memory_is_bounded() {
        let v = Viewers::default();
        let now = Instant::now();
        for i in 0..(MAX_DIRS + 10) {
            v.record(&format!("d{i}/seg.ts"), 1, now);
        }
        assert_eq!(v.state().seen.len(), MAX_DIRS);
        for c in 0..(MAX_CLIENTS as u64 + 10) {
            v.record("d0/seg.ts", c, now);
        }
        assert_eq!(v.count("d0", now), MAX_CLIENTS as u64);
        let deep = "a/".repeat(50) + "seg.ts";
        v.record(&deep, 1, now);
        assert_eq!(
            v.state().seen.len(),
            MAX_DIRS,
            "no new directory past the bound"
        );
    }
}
