// SPDX-License-Identifier: MIT OR Apache-2.0
//! Publishers and the streams they feed. A publisher (an RTMP connection, later SRT) asks
//! the hub for a stream name; the hub checks the name and the stream key, refuses a second
//! publisher of a stream that has one (unless takeover), and hands back a [`Claim`] whose
//! events go to that stream's driver.
//!
//! - **Single mode** (`--input rtmp://HOST/APP/NAME`): one fixed stream, fed by the driver
//!   the live command set up.
//! - **Server mode** (`--rtmp-listen`): a stream's driver is made by the [`Factory`] on its
//!   first publish and kept while publishers come and go, so a reconnect continues the same
//!   playlist after EXT-X-DISCONTINUITY. A stream without a publisher for the linger time
//!   (the input timeout, after which the driver has ended the playlist) is released:
//!   its driver finishes and its thread ends.
//!
//! Takeover: the new publisher's claim becomes the stream's owner at once; the old
//! connection's next send finds it is no longer the owner and ends. Each send checks the
//! owner under the feed's lock, so nothing of the old publisher reaches the driver after
//! the new publisher's session starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use origin::IngestMetrics;
use tokio::sync::{mpsc, watch};

use super::keys::{split_key, Keys};
use super::IngestEvent;

/// Makes the driver of a new stream NAME; returns the sender of its events.
pub type Factory = Box<dyn Fn(&str) -> Result<mpsc::Sender<IngestEvent>> + Send + Sync>;

/// What publishers may do.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The only RTMP application accepted (`None`: any).
    pub app: Option<String>,
    pub keys: Keys,
    /// A new publisher of a stream that has one takes it over (else it is refused).
    pub takeover: bool,
    /// Connections handled at once (publishers, refused and half-open ones together).
    pub max_connections: usize,
    /// A stream without a publisher this long is released (`None`: kept until shutdown).
    pub linger: Option<Duration>,
    /// SRT latency and passphrase.
    pub srt: super::srt::SrtOptions,
}

pub struct Hub {
    policy: Policy,
    streams: Mutex<HashMap<String, Entry>>,
    next_id: AtomicU64,
    factory: Option<Factory>,
    metrics: Option<IngestMetrics>,
    closing: watch::Sender<bool>,
}

struct Entry {
    feed: Arc<Feed>,
    owner: Option<u64>,
    idle_since: Instant,
    /// The single-mode stream: never released or remade.
    fixed: bool,
}

/// The way into one stream's driver.
struct Feed {
    /// Claim id of the publisher whose events are taken (0: none).
    owner: AtomicU64,
    tx: mpsc::Sender<IngestEvent>,
    /// Held across the owner check and the send (see the module doc).
    order: tokio::sync::Mutex<()>,
}

/// Why a claim's event did not reach the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// Another publisher took the stream over.
    Replaced,
    /// The driver is gone (shutdown, or it failed).
    Closed,
}

/// Why a publish is refused: the reason to log (never with the key) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub why: String,
    pub kind: RefusedKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedKind {
    /// Not a usable stream name.
    BadName,
    /// A missing or wrong stream key.
    Key,
    /// Another publisher has the stream.
    Busy,
    /// Anything else (not this input's stream, a VOD stream, shutting down).
    Other,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// A publisher's hold on a stream; released when dropped.
pub struct Claim {
    hub: Arc<Hub>,
    name: String,
    id: u64,
    feed: Arc<Feed>,
    /// Counted as a publish in /metrics (see [`Claim::started`]).
    started: AtomicBool,
}

impl Claim {
    /// The publisher's connection is up and publishing: one publish in /metrics (counted
    /// once). A claim dropped before this (the SRT handshake failed after the name was
    /// claimed) is no publish.
    pub fn started(&self) {
        if !self.started.swap(true, Ordering::Relaxed) {
            if let Some(m) = &self.hub.metrics {
                m.publish_started();
            }
        }
    }

    /// The stream name (without the key).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends `event` to the stream's driver while this claim owns the stream.
    pub async fn send(&self, event: IngestEvent) -> Result<(), Lost> {
        let _order = self.feed.order.lock().await;
        if self.feed.owner.load(Ordering::Acquire) != self.id {
            return Err(Lost::Replaced);
        }
        self.feed.tx.send(event).await.map_err(|_| Lost::Closed)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.started.load(Ordering::Relaxed) {
            if let Some(m) = &self.hub.metrics {
                m.publish_ended();
            }
        }
        self.hub.release(&self.name, self.id);
    }
}

/// A stream name is one directory: letters, digits, `.`, `_`, `-`, not starting with `.`, at
/// most 64 bytes.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Hub {
    fn with(policy: Policy, factory: Option<Factory>, metrics: Option<IngestMetrics>) -> Self {
        Hub {
            policy,
            streams: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            factory,
            metrics,
            closing: watch::channel(false).0,
        }
    }

    /// Single mode: stream `name` only, fed through `tx`.
    pub fn single(
        policy: Policy,
        name: &str,
        tx: mpsc::Sender<IngestEvent>,
        metrics: Option<IngestMetrics>,
    ) -> Arc<Self> {
        let hub = Hub::with(policy, None, metrics);
        let entry = Entry {
            feed: Arc::new(Feed {
                owner: AtomicU64::new(0),
                tx,
                order: tokio::sync::Mutex::new(()),
            }),
            owner: None,
            idle_since: Instant::now(),
            fixed: true,
        };
        if let Ok(mut map) = hub.streams.lock() {
            map.insert(name.to_owned(), entry);
        }
        Arc::new(hub)
    }

    /// Server mode: any valid name, each stream's driver made by `factory`.
    pub fn server(policy: Policy, factory: Factory, metrics: Option<IngestMetrics>) -> Arc<Self> {
        Arc::new(Hub::with(policy, Some(factory), metrics))
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Turns true when the hub is closing: connections end.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// A connection was refused before publishing (too many connections).
    pub fn count_refused(&self) {
        if let Some(m) = &self.metrics {
            m.refused();
        }
    }

    /// A publish of `published` (`NAME` or `NAME?key=K`) in application `app`: the claim,
    /// or why it is refused (the reason never contains the key).
    pub fn claim(self: &Arc<Self>, app: &str, published: &str) -> Result<Claim, Refused> {
        let (name, key) = split_key(published);
        self.claim_key(app, name, key)
    }

    /// [`Hub::claim`] with the name and key apart (SRT's streamid carries them so).
    pub fn claim_key(
        self: &Arc<Self>,
        app: &str,
        name: &str,
        key: Option<&str>,
    ) -> Result<Claim, Refused> {
        let refused = |why: String, kind: RefusedKind| {
            if let Some(m) = &self.metrics {
                if kind == RefusedKind::Key {
                    m.refused_key();
                } else {
                    m.refused();
                }
            }
            Err(Refused { why, kind })
        };
        if !valid_name(name) {
            let shown: String = name.chars().take(64).collect();
            return refused(
                format!("publish to {app}/{shown:?} refused: a stream name is letters, digits, '.', '_' and '-'"),
                RefusedKind::BadName,
            );
        }
        if let Err(e) = self.policy.keys.check(name, key) {
            return refused(
                format!("publish to {app}/{name} refused: {e}"),
                RefusedKind::Key,
            );
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let feed = match self.take(name, id) {
            Ok(feed) => feed,
            Err((why, kind)) => {
                return refused(format!("publish to {app}/{name} refused: {why}"), kind)
            }
        };
        Ok(Claim {
            hub: Arc::clone(self),
            name: name.to_owned(),
            id,
            feed,
            started: AtomicBool::new(false),
        })
    }

    /// The stream of single mode (`None` in server mode).
    pub fn only(&self) -> Option<String> {
        let map = self.streams.lock().ok()?;
        map.iter().find(|(_, e)| e.fixed).map(|(n, _)| n.clone())
    }

    /// Makes `id` the owner of stream `name` (creating the stream if needed).
    fn take(&self, name: &str, id: u64) -> Result<Arc<Feed>, (String, RefusedKind)> {
        let other = |why: &str| (why.to_owned(), RefusedKind::Other);
        let mut map = self.streams.lock().map_err(|_| other("internal error"))?;
        if *self.closing.borrow() {
            return Err(other("shutting down"));
        }
        let needs_driver = match map.get(name) {
            Some(e) if e.fixed && e.feed.tx.is_closed() => {
                return Err(other("the stream has ended"))
            }
            Some(e) => e.feed.tx.is_closed(),
            None => true,
        };
        if needs_driver {
            let Some(factory) = &self.factory else {
                let only = map.keys().next().cloned().unwrap_or_default();
                return Err(other(&format!("this input takes stream {only} only")));
            };
            let tx = factory(name).map_err(|e| other(&format!("{e:#}")))?;
            let feed = Arc::new(Feed {
                owner: AtomicU64::new(0),
                tx,
                order: tokio::sync::Mutex::new(()),
            });
            let entry = Entry {
                feed,
                owner: None,
                idle_since: Instant::now(),
                fixed: false,
            };
            map.insert(name.to_owned(), entry);
        }
        let entry = map.get_mut(name).ok_or_else(|| other("internal error"))?;
        if entry.owner.is_some() && !self.policy.takeover {
            return Err(("another publisher has the stream".into(), RefusedKind::Busy));
        }
        if entry.owner.is_some() {
            tracing::info!(stream = %name, "publisher taken over (--takeover)");
        }
        entry.owner = Some(id);
        entry.feed.owner.store(id, Ordering::Release);
        Ok(Arc::clone(&entry.feed))
    }

    fn release(&self, name: &str, id: u64) {
        let Ok(mut map) = self.streams.lock() else {
            return;
        };
        if let Some(entry) = map.get_mut(name).filter(|e| e.owner == Some(id)) {
            entry.owner = None;
            entry.idle_since = Instant::now();
        }
    }

    /// Releases the streams without a publisher for the linger time: their drivers finish.
    /// Returns their names.
    pub fn reap(&self, now: Instant) -> Vec<String> {
        let (Some(linger), Ok(mut map)) = (self.policy.linger, self.streams.lock()) else {
            return Vec::new();
        };
        let old: Vec<String> = map
            .iter()
            .filter(|(_, e)| {
                !e.fixed
                    && (e.feed.tx.is_closed()
                        || (e.owner.is_none() && now.duration_since(e.idle_since) >= linger))
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in &old {
            map.remove(name);
        }
        old
    }

    /// Streams with a driver now.
    #[cfg(test)]
    pub fn streams(&self) -> usize {
        self.streams.lock().map_or(0, |m| m.len())
    }

    /// Connections end and the streams' senders are dropped (their drivers finish once the
    /// connections are gone): the listener stopped without [`Hub::close`].
    pub fn shut(&self) {
        self.closing.send_replace(true);
        if let Ok(mut map) = self.streams.lock() {
            map.clear();
        }
    }

    /// Shutdown: connections end and every stream's driver gets [`IngestEvent::End`] (it
    /// ends its playlist and returns).
    pub async fn close(&self) {
        self.closing.send_replace(true);
        let feeds: Vec<Arc<Feed>> = match self.streams.lock() {
            Ok(mut map) => map.drain().map(|(_, e)| e.feed).collect(),
            Err(_) => Vec::new(),
        };
        for feed in feeds {
            let _order = feed.order.lock().await;
            feed.owner.store(0, Ordering::Release);
            let _ =
                tokio::time::timeout(Duration::from_secs(5), feed.tx.send(IngestEvent::End)).await;
        }
    }
}

/// Shuts the hub ([`Hub::shut`]) when a listener task ends or is aborted (single mode's
/// shutdown aborts its input task).
pub struct ShutOnDrop(pub Arc<Hub>);

impl Drop for ShutOnDrop {
    fn drop(&mut self) {
        self.0.shut();
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
