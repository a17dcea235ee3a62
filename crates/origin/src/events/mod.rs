// SPDX-License-Identifier: MIT OR Apache-2.0
//! The server's event hub: one sequence of events, a bounded ring to resume from, filters
//! and fan-out to subscribers. Plain Rust, no HTTP: the edges are thin layers over it.
//!
//! Every event has one JSON shape ([`Event::json`]):
//! `{"seq":1234,"time":"2026-12-05T18:00:00.123Z","type":"segment.published","stream":"news","session":"RUNID","data":{…}}`
//!
//! - **Sequence.** [`Events::publish`] gives each event the next `seq` (1, 2, 3…, one
//!   counter for the whole server): a cursor a client resumes from. `session` is the run id
//!   ([`session_id`]) of the live run or packaging run the event belongs to, so a consumer
//!   can drop a late `stream.ended` of an older session when an encoder reconnects.
//! - **Ring.** The last [`EventsConfig::ring`] events are kept. A subscription or read
//!   `since=SEQ` gets every matching event after SEQ; if SEQ fell off the ring, it first gets
//!   [`Item::Resync`] (`{"type":"resync","seq":N}`: events after SEQ up to N are gone, take
//!   the snapshot again and follow on from N). A `since` after the latest event is an error
//!   ([`EventsError::SinceInFuture`]): it comes from another server or a restart.
//! - **Filters** ([`Filter`]): stream names and types; unknown types are an error naming
//!   them; `part.published` is delivered only to subscribers that ask for it by type.
//! - **Fan-out.** Each [`Subscription`] has a queue of [`EventsConfig::queue`] events.
//!   Publishing never waits: an event that does not fit in a subscriber's queue drops that
//!   subscriber (it gets what was queued, then [`Ended::Lagged`] with the last `seq` it got,
//!   and resumes with `since`). The media path calls [`Events::publish`] and goes on.
//! - **Waiting without a task.** [`Events::wait`] holds a long-poll request on
//!   [`tokio::sync::watch`] channels shared by all (the blocking-reload pattern of
//!   [`crate::live`]): thousands of held requests cost a waker or two each, no task and no
//!   polling. There is one channel per event type and one for every type delivered by
//!   default, so a request is woken only by events of its types (10,000 idle clients
//!   waiting for `stream.ended` are not woken five times a second by parts).
//!
//! The edges (`http/events/`): the WebSocket (RFC 6455) and SSE handlers of `/api/events` each hold a
//! [`Subscription`] and write one text frame / `id:`+`event:`+`data:` block per [`Item`]
//! (closing with 1013 / ending the stream on [`Ended::Lagged`], 1001 on
//! [`Events::close_subscribers`]); the long-poll handler calls [`Events::wait`] and answers
//! the items as a JSON array; webhooks are one more subscriber; `/api/streams` sends
//! [`Events::last_seq`] with its snapshot so a client follows on from it without a gap.
//!
//! Where the hub lives: one per [`crate::Server`] ([`crate::Server::events`]), taken from the
//! [`crate::LivePlaylists`] of its source, so an in-process packager reaches it from its
//! publisher ([`crate::LivePublisher::events`]) and the default run from the server; every
//! producer publishes through a clone of it.

mod event;
mod filter;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

pub use event::{resync_json, session_id, EndReason, Event, EventType, Payload, StreamKind};
pub use filter::Filter;

/// Sizes of the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventsConfig {
    /// Events kept for `since` (at least 1).
    pub ring: usize,
    /// Events queued per subscriber before it is dropped (at least 1).
    pub queue: usize,
    /// Most subscribers at once. The HTTP edges limit their own subscribers
    /// (`--events-max-subscribers`), so a server's hub leaves this unbounded by default.
    pub max_subscribers: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            // ~3 minutes of LL-HLS parts of four renditions (5 parts/s each).
            ring: 4096,
            queue: 256,
            max_subscribers: usize::MAX,
        }
    }
}

/// Why a request to the hub is refused (an edge answers 400, or 503 for too many).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    #[error("unknown event types: {}", .0.join(", "))]
    UnknownTypes(Vec<String>),
    #[error("types names no event type")]
    NoTypes,
    #[error("since={since} is after the latest event ({latest})")]
    SinceInFuture { since: u64, latest: u64 },
    #[error("too many event subscribers (at most {0})")]
    TooManySubscribers(usize),
}

/// What a subscriber or a read gets.
#[derive(Debug, Clone)]
pub enum Item {
    /// Events after the requested `since`, up to this seq, are no longer held.
    Resync(u64),
    Event(Arc<Event>),
}

impl Item {
    /// The seq a client continues from after this item.
    pub fn seq(&self) -> u64 {
        match self {
            Item::Resync(seq) => *seq,
            Item::Event(e) => e.seq,
        }
    }

    /// The item as one line of JSON.
    pub fn json(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Item::Resync(seq) => resync_json(*seq).into(),
            Item::Event(e) => e.json().into(),
        }
    }
}

/// How a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It fell behind by a full queue and was dropped; resume with `since=last_seq`.
    Lagged { last_seq: u64 },
    /// The hub closed its subscribers (server shutdown) or is gone.
    Closed,
}

/// The event hub of one server. Cheap to clone (shared); every clone publishes into the same
/// sequence.
#[derive(Debug, Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: EventsConfig,
    state: Mutex<State>,
    /// Long-poll wake-ups ([`Wake`]).
    wake: Wake,
}

/// The seq of the latest event of each kind; long-poll requests wait on `changed()` of
/// their own receivers of the one or two channels that cover their filter's types.
#[derive(Debug)]
struct Wake {
    /// Every type delivered by default (all but `part.published`).
    default: watch::Sender<u64>,
    /// One per [`EventType::ALL`] entry.
    by_type: [watch::Sender<u64>; EventType::ALL.len()],
}

impl Wake {
    fn new() -> Self {
        Wake {
            default: watch::Sender::new(0),
            by_type: std::array::from_fn(|_| watch::Sender::new(0)),
        }
    }

    fn index(t: EventType) -> usize {
        EventType::ALL.iter().position(|&a| a == t).unwrap_or(0)
    }

    fn publish(&self, t: EventType, seq: u64) {
        self.by_type[Self::index(t)].send_replace(seq);
        if t.delivered_by_default() {
            self.default.send_replace(seq);
        }
    }

    /// One or two receivers whose changes cover every event `filter` may match.
    fn receivers(&self, filter: &Filter) -> Vec<watch::Receiver<u64>> {
        let part = EventType::PartPublished;
        match filter.named_types() {
            None => vec![self.default.subscribe()],
            Some(types) if types.len() <= 2 => types
                .iter()
                .map(|&t| self.by_type[Self::index(t)].subscribe())
                .collect(),
            Some(types) if types.contains(&part) => vec![
                self.default.subscribe(),
                self.by_type[Self::index(part)].subscribe(),
            ],
            Some(_) => vec![self.default.subscribe()],
        }
    }
}

/// Whether one of `rx` changed (false: the hub is gone).
async fn any_changed(rx: &mut [watch::Receiver<u64>]) -> bool {
    match rx {
        [a] => a.changed().await.is_ok(),
        [a, b] => tokio::select! {
            r = a.changed() => r.is_ok(),
            r = b.changed() => r.is_ok(),
        },
        _ => false,
    }
}

#[derive(Debug, Default)]
struct State {
    last_seq: u64,
    ring: VecDeque<Arc<Event>>,
    subscribers: Vec<Subscriber>,
}

#[derive(Debug)]
struct Subscriber {
    filter: Filter,
    tx: mpsc::Sender<Arc<Event>>,
    lagged: Arc<AtomicBool>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new(EventsConfig::default())
    }
}

impl Events {
    pub fn new(config: EventsConfig) -> Self {
        let config = EventsConfig {
            ring: config.ring.max(1),
            queue: config.queue.max(1),
            ..config
        };
        Events {
            inner: Arc::new(Inner {
                config,
                state: Mutex::default(),
                wake: Wake::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the ring or the list half-changed in a
        // way that matters more than losing the hub; keep serving.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes an event about `stream` of run `session`; returns its seq. Never waits for
    /// a subscriber: one whose queue is full is dropped.
    pub fn publish(&self, stream: &str, session: &str, payload: Payload) -> u64 {
        let event_type = payload.event_type();
        let seq = {
            let mut state = self.state();
            let seq = state.last_seq.saturating_add(1);
            let event = Arc::new(Event::new(
                seq,
                SystemTime::now(),
                stream.to_owned(),
                session.to_owned(),
                &payload,
            ));
            state.last_seq = seq;
            if state.ring.len() >= self.inner.config.ring {
                state.ring.pop_front();
            }
            state.ring.push_back(Arc::clone(&event));
            state.subscribers.retain(|s| s.offer(&event));
            seq
        };
        self.inner.wake.publish(event_type, seq);
        seq
    }

    /// The seq of the latest event (0 before the first): what a snapshot is taken at.
    pub fn last_seq(&self) -> u64 {
        self.state().last_seq
    }

    /// Subscribers currently attached (dropped ones are counted until the next publish or
    /// subscribe notices them).
    pub fn subscriber_count(&self) -> usize {
        self.state().subscribers.len()
    }

    /// A subscription to the events matching `filter`: those after `since` still in the
    /// ring first (after an [`Item::Resync`] if some are gone), then every new one.
    /// `since: None` starts with the next event.
    pub fn subscribe(
        &self,
        since: Option<u64>,
        filter: Filter,
    ) -> Result<Subscription, EventsError> {
        let mut state = self.state();
        let backlog = match since {
            Some(since) => read_ring(&state, since, &filter, usize::MAX)?,
            None => VecDeque::new(),
        };
        state.subscribers.retain(|s| !s.tx.is_closed());
        let max = self.inner.config.max_subscribers;
        if state.subscribers.len() >= max {
            return Err(EventsError::TooManySubscribers(max));
        }
        let (tx, rx) = mpsc::channel(self.inner.config.queue);
        let lagged = Arc::new(AtomicBool::new(false));
        state.subscribers.push(Subscriber {
            filter,
            tx,
            lagged: Arc::clone(&lagged),
        });
        Ok(Subscription {
            last_seq: since.unwrap_or(state.last_seq),
            backlog,
            rx,
            lagged,
        })
    }

    /// The matching events after `since` still in the ring (at most `max` items, a leading
    /// [`Item::Resync`] included), without waiting.
    pub fn read(&self, since: u64, filter: &Filter, max: usize) -> Result<Vec<Item>, EventsError> {
        read_ring(&self.state(), since, filter, max).map(Vec::from)
    }

    /// Long-poll: [`Events::read`], or if that is empty, waits until a matching event is
    /// published or `timeout` passes (then an empty list). At most [`EventsConfig::queue`]
    /// items. Holds no task: the caller's future waits on the hub's watch channel.
    pub async fn wait(
        &self,
        since: u64,
        filter: &Filter,
        timeout: Duration,
    ) -> Result<Vec<Item>, EventsError> {
        let deadline = Instant::now() + timeout;
        let max = self.inner.config.queue;
        let mut woken = self.inner.wake.receivers(filter);
        let mut from = since;
        loop {
            // Marked seen before reading: a publish after the read wakes `changed()`.
            woken.iter_mut().for_each(|r| {
                r.borrow_and_update();
            });
            let (items, latest) = {
                let state = self.state();
                (read_ring(&state, from, filter, max)?, state.last_seq)
            };
            if !items.is_empty() {
                return Ok(Vec::from(items));
            }
            // Everything up to `latest` was read and did not match.
            from = from.max(latest);
            match tokio::time::timeout_at(deadline, any_changed(&mut woken)).await {
                Ok(true) => {}
                Ok(false) | Err(_) => return Ok(Vec::new()),
            }
        }
    }

    /// Ends every subscription ([`Ended::Closed`] once its queue is read): server shutdown.
    pub fn close_subscribers(&self) {
        self.state().subscribers.clear();
    }
}

impl Subscriber {
    /// Queues `event` if it matches; false when this subscriber is to be dropped (queue
    /// full: lagged; or its subscription is gone).
    fn offer(&self, event: &Arc<Event>) -> bool {
        if !self.filter.matches(event) {
            return !self.tx.is_closed();
        }
        match self.tx.try_send(Arc::clone(event)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.lagged.store(true, Relaxed);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Matching events after `since` (a leading resync if some are gone), at most `max` items.
fn read_ring(
    state: &State,
    since: u64,
    filter: &Filter,
    max: usize,
) -> Result<VecDeque<Item>, EventsError> {
    if since > state.last_seq {
        return Err(EventsError::SinceInFuture {
            since,
            latest: state.last_seq,
        });
    }
    let oldest = state
        .ring
        .front()
        .map_or(state.last_seq.saturating_add(1), |e| e.seq);
    let mut items = VecDeque::new();
    if since.saturating_add(1) < oldest {
        items.push_back(Item::Resync(oldest.saturating_sub(1)));
    }
    let skip =
        usize::try_from(since.saturating_add(1).saturating_sub(oldest)).unwrap_or(usize::MAX);
    let events = state.ring.iter().skip(skip).filter(|e| filter.matches(e));
    items.extend(events.map(|e| Item::Event(Arc::clone(e))));
    items.truncate(max);
    Ok(items)
}

/// One subscriber's stream of items. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    /// The seq of the last item handed out (the `since` to resume with).
    last_seq: u64,
    /// Ring events due at subscription time, before anything queued.
    backlog: VecDeque<Item>,
    rx: mpsc::Receiver<Arc<Event>>,
    lagged: Arc<AtomicBool>,
}

impl Subscription {
    /// The next item; once the queue is drained after the hub dropped this subscriber, how
    /// it ended.
    pub async fn recv(&mut self) -> Result<Item, Ended> {
        let item = match self.backlog.pop_front() {
            Some(item) => item,
            None => match self.rx.recv().await {
                Some(event) => Item::Event(event),
                None => return Err(self.ended()),
            },
        };
        self.last_seq = item.seq();
        Ok(item)
    }

    /// [`Subscription::recv`] without waiting: `None` when nothing is queued yet.
    pub fn try_recv(&mut self) -> Option<Result<Item, Ended>> {
        let item = match self.backlog.pop_front() {
            Some(item) => item,
            None => match self.rx.try_recv() {
                Ok(event) => Item::Event(event),
                Err(mpsc::error::TryRecvError::Empty) => return None,
                Err(mpsc::error::TryRecvError::Disconnected) => return Some(Err(self.ended())),
            },
        };
        self.last_seq = item.seq();
        Some(Ok(item))
    }

    /// The seq of the last item received (the `since` to resume with).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    fn ended(&self) -> Ended {
        if self.lagged.load(Relaxed) {
            Ended::Lagged {
                last_seq: self.last_seq,
            }
        } else {
            Ended::Closed
        }
    }
}
