// SPDX-License-Identifier: MIT OR Apache-2.0
//! Webhooks: every event of the hub ([`crate::events`]), or the `webhook_types`, POSTed as
//! its JSON to each `--webhook URL`.
//!
//! - **Headers.** `Content-Type: application/json`, `X-Hlsorigin-Event: TYPE`,
//!   `X-Hlsorigin-Delivery: ID` (the same on every attempt of one event),
//!   `X-Hlsorigin-Signature: sha256=HEX` (HMAC-SHA256 of the body keyed with
//!   `webhook_secret`; absent without a secret).
//! - **Never in the media path.** Each webhook is one subscriber of the hub: publishing only
//!   queues the event. A dispatcher task moves the subscription's events into per-stream
//!   queues at once, so the hub's bounded queue does not fill while a receiver is slow; if it
//!   does fill anyway and the hub drops the subscriber, the dispatcher subscribes again with
//!   `since` = the last seq it got: nothing is lost while the events are in the ring (a
//!   `resync` is logged and counted otherwise).
//! - **In order per stream.** One delivery task per stream with pending events sends them one
//!   after the other: an event that fails holds the later events of its stream until it is
//!   delivered or given up. Other streams go on.
//! - **Retries.** Any answer but 2xx, a connection error or no answer within 10 s is retried
//!   with exponential backoff (0.5 s, 1 s, 2 s… at most 15 s apart) until a minute after the
//!   event reached the webhook; then it is given up (logged, `hlsorigin_webhook_given_up_total`).
//!   At most [`MAX_PENDING`] events wait per webhook; more are given up at once.
//! - **Shutdown.** When the server stops, each webhook gets [`FINISH`] to send what is pending.

mod client;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper::Uri;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::config::ServeConfig;
use crate::error::OriginError;
use crate::events::{session_id, Ended, Event, Events, Filter, Item};
use crate::metrics::Metrics;
use client::Client;

/// Events waiting per webhook (all streams) before new ones are given up at once.
pub(crate) const MAX_PENDING: usize = 10_000;
/// Time the webhooks get at shutdown to deliver what is pending.
pub(crate) const FINISH: Duration = Duration::from_secs(5);

/// When to try an event again and when to give it up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    /// Wait after the first failed attempt; doubles after each further one.
    pub(crate) first: Duration,
    /// Longest wait between attempts.
    pub(crate) max: Duration,
    /// An event is given up this long after the webhook got it.
    pub(crate) give_up_after: Duration,
    /// Longest wait for an answer's head.
    pub(crate) attempt_timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            first: Duration::from_millis(500),
            max: Duration::from_secs(15),
            give_up_after: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

/// The configured webhooks of a server (none: nothing runs).
#[derive(Debug, Clone)]
pub(crate) struct Webhooks {
    urls: Vec<Uri>,
    filter: Filter,
    secret: Option<Arc<[u8]>>,
    pub(crate) retry: Retry,
}

impl Webhooks {
    /// The webhooks of `config`; a URL that is not absolute `http://` / `https://` or an
    /// unknown type is a configuration error naming it.
    pub(crate) fn from_config(config: &ServeConfig) -> Result<Self, OriginError> {
        let urls = config
            .webhooks
            .iter()
            .map(|u| parse_url(u))
            .collect::<Result<Vec<_>, _>>()?;
        let types = config.webhook_types.as_deref();
        let filter = Filter::parse(std::iter::empty(), types)
            .map_err(|e| OriginError::Config(format!("webhook_types: {e}")))?;
        Ok(Webhooks {
            urls,
            filter,
            secret: config
                .webhook_secret
                .as_deref()
                .map(|s| Arc::from(s.as_bytes())),
            retry: Retry::default(),
        })
    }

    /// Starts delivering the events published after `since` (the seq at bind time, so an
    /// event published before the server runs is not missed).
    pub(crate) fn start(&self, events: &Events, since: u64, metrics: &Arc<Metrics>) -> Running {
        if self.urls.is_empty() {
            return Running { tasks: Vec::new() };
        }
        let client = match Client::new() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhooks disabled");
                return Running { tasks: Vec::new() };
            }
        };
        let run = session_id();
        let tasks = self
            .urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let hook = Arc::new(Hook {
                    url: url.clone(),
                    secret: self.secret.clone(),
                    retry: self.retry,
                    client: client.clone(),
                    metrics: Arc::clone(metrics),
                    delivery_prefix: format!("{run}-{i}"),
                    queues: Mutex::default(),
                });
                let dispatch = dispatch(hook, events.clone(), self.filter.clone(), since);
                tokio::spawn(dispatch)
            })
            .collect();
        Running { tasks }
    }
}

fn parse_url(url: &str) -> Result<Uri, OriginError> {
    let bad = |why: &str| OriginError::Config(format!("webhook {url:?}: {why}"));
    let uri: Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
    let scheme = uri.scheme_str().ok_or_else(|| bad("not an absolute URL"))?;
    if !client::scheme_supported(scheme) {
        return Err(bad(
            "the scheme must be http or https (https needs the tls feature)",
        ));
    }
    if uri.authority().is_none() {
        return Err(bad("no host"));
    }
    Ok(uri)
}

/// The delivery tasks of a running server's webhooks.
#[derive(Debug)]
pub(crate) struct Running {
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// After the hub closed its subscribers: waits up to `within` for pending events to be
    /// delivered or given up, then stops the rest.
    pub(crate) async fn finish(self, within: Duration) {
        let deadline = Instant::now() + within;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!("webhooks: shutdown with events still pending");
                task.abort();
            }
        }
    }
}

/// One webhook.
#[derive(Debug)]
struct Hook {
    url: Uri,
    secret: Option<Arc<[u8]>>,
    retry: Retry,
    client: Client,
    metrics: Arc<Metrics>,
    /// Delivery ids are `PREFIX-SEQ`: unique per server run and webhook.
    delivery_prefix: String,
    /// Pending events by stream; a stream is here while its delivery task runs.
    queues: Mutex<Queues>,
}

#[derive(Debug, Default)]
struct Queues {
    by_stream: HashMap<String, VecDeque<Pending>>,
    /// Events in all queues.
    pending: usize,
}

#[derive(Debug)]
struct Pending {
    event: Arc<Event>,
    give_up_at: Instant,
}

impl Hook {
    fn queues(&self) -> MutexGuard<'_, Queues> {
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn give_up(&self, event: &Event, attempts: u32, why: &str) {
        self.metrics.webhook.given_up.fetch_add(1, Relaxed);
        tracing::warn!(
            url = %self.url, seq = event.seq, r#type = %event.event_type, stream = %event.stream,
            attempts, "webhook gave up on an event: {why}"
        );
    }
}

/// Follows the hub and hands each event to its stream's queue; at the end (the hub closed
/// its subscribers), waits for the queues to drain.
async fn dispatch(hook: Arc<Hook>, events: Events, filter: Filter, since: u64) {
    let mut workers = JoinSet::new();
    let mut since = Some(since);
    'subscriptions: loop {
        let mut sub = match events.subscribe(since, filter.clone()) {
            Ok(sub) => sub,
            Err(e) => {
                tracing::warn!(url = %hook.url, error = %e, "webhook cannot subscribe; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            match sub.recv().await {
                Ok(Item::Event(event)) => enqueue(&hook, event, &mut workers),
                Ok(Item::Resync(seq)) => {
                    hook.metrics.webhook.resyncs.fetch_add(1, Relaxed);
                    tracing::warn!(url = %hook.url, up_to = seq, "webhook fell behind: events lost");
                }
                Err(Ended::Lagged { last_seq }) => {
                    since = Some(last_seq);
                    continue 'subscriptions;
                }
                Err(Ended::Closed) => break 'subscriptions,
            }
            // Reap the delivery tasks that ended.
            while workers.try_join_next().is_some() {}
        }
    }
    while workers.join_next().await.is_some() {}
}

/// Queues `event` behind its stream's pending events (starting the stream's delivery task
/// when there are none).
fn enqueue(hook: &Arc<Hook>, event: Arc<Event>, workers: &mut JoinSet<()>) {
    let mut q = hook.queues();
    if q.pending >= MAX_PENDING {
        drop(q);
        hook.give_up(&event, 0, "too many events pending");
        return;
    }
    q.pending += 1;
    let pending = Pending {
        give_up_at: Instant::now() + hook.retry.give_up_after,
        event: Arc::clone(&event),
    };
    match q.by_stream.get_mut(&event.stream) {
        Some(queue) => queue.push_back(pending),
        None => {
            q.by_stream
                .insert(event.stream.clone(), VecDeque::from([pending]));
            workers.spawn(deliver_stream(Arc::clone(hook), event.stream.clone()));
        }
    }
}

/// Delivers the pending events of `stream` in order until its queue is empty.
async fn deliver_stream(hook: Arc<Hook>, stream: String) {
    loop {
        let head = {
            let q = hook.queues();
            q.by_stream
                .get(&stream)
                .and_then(|queue| queue.front())
                .map(|p| (Arc::clone(&p.event), p.give_up_at))
        };
        let Some((event, give_up_at)) = head else {
            return;
        };
        deliver(&hook, &event, give_up_at).await;
        let mut q = hook.queues();
        q.pending = q.pending.saturating_sub(1);
        if let Some(queue) = q.by_stream.get_mut(&stream) {
            queue.pop_front();
            if queue.is_empty() {
                q.by_stream.remove(&stream);
                return;
            }
        }
    }
}

/// Sends one event until it is accepted (2xx) or `give_up_at` passes.
async fn deliver(hook: &Hook, event: &Event, give_up_at: Instant) {
    let signature = hook
        .secret
        .as_deref()
        .map(|key| client::signature(key, event.json().as_bytes()));
    let delivery = format!("{}-{}", hook.delivery_prefix, event.seq);
    let mut wait = hook.retry.first;
    let mut attempts = 0u32;
    loop {
        if Instant::now() >= give_up_at {
            let why = if attempts == 0 {
                "its retry time passed while earlier events of its stream were retried"
            } else {
                "no 2xx answer within its retry time"
            };
            hook.give_up(event, attempts, why);
            return;
        }
        attempts = attempts.saturating_add(1);
        let post = hook
            .client
            .post(&hook.url, event, &delivery, signature.as_deref());
        let why = match tokio::time::timeout(hook.retry.attempt_timeout, post).await {
            Ok(Ok(status)) if status.is_success() => {
                hook.metrics.webhook.delivered.fetch_add(1, Relaxed);
                return;
            }
            Ok(Ok(status)) => format!("answered {status}"),
            Ok(Err(e)) => e,
            Err(_) => "no answer in time".to_owned(),
        };
        tracing::debug!(url = %hook.url, seq = event.seq, attempts, "webhook attempt failed: {why}");
        let retry_at = Instant::now() + wait;
        if retry_at >= give_up_at {
            hook.give_up(event, attempts, &why);
            return;
        }
        hook.metrics.webhook.retries.fetch_add(1, Relaxed);
        tokio::time::sleep_until(retry_at).await;
        wait = wait.saturating_mul(2).min(hook.retry.max);
    }
}
