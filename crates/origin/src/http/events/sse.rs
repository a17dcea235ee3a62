// SPDX-License-Identifier: MIT OR Apache-2.0
//! The Server-Sent Events edge (HTML Living Standard 9.2): one `id:`/`event:`/`data:` block
//! per event, a comment line every [`EventsEdge::sse_keepalive`] so proxies keep the
//! response open, `Last-Event-ID` to resume. The stream ends when the subscriber falls
//! behind (the browser reconnects with `Last-Event-ID`) or the server shuts down.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::Response;
use bytes::Bytes;
use tokio::time::{interval_at, Instant, Interval};

use super::{refused, EventsEdge, Query, SubscriberGauge};
use crate::events::{Ended, Item, Subscription};

/// Browser reconnection delay announced with the first block (ms).
const RETRY_MS: u32 = 2000;

struct Feed {
    sub: Subscription,
    keepalive: Interval,
    gauge: SubscriberGauge,
    first: bool,
    done: bool,
}

pub(super) fn stream(edge: &EventsEdge, query: Query) -> Response {
    let subscribed = SubscriberGauge::reserve(edge).and_then(|gauge| {
        let sub = edge.events.subscribe(query.since, query.filter)?;
        Ok((sub, gauge))
    });
    let (sub, gauge) = match subscribed {
        Ok(s) => s,
        Err(e) => return refused(&e),
    };
    let feed = Feed {
        sub,
        keepalive: interval_at(Instant::now() + edge.sse_keepalive, edge.sse_keepalive),
        gauge,
        first: true,
        done: false,
    };
    let body = futures_util::stream::unfold(feed, |mut feed| async move {
        let chunk = feed.next().await?;
        Some((Ok::<_, Infallible>(Bytes::from(chunk)), feed))
    });
    let mut res = Response::new(Body::from_stream(body));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // nginx: pass the stream through unbuffered.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

impl Feed {
    /// The next chunk of the body; `None` ends it.
    async fn next(&mut self) -> Option<String> {
        if self.done {
            return None;
        }
        if self.first {
            self.first = false;
            // Sent at once so the client sees the response start (and its retry delay).
            return Some(format!("retry: {RETRY_MS}\n\n"));
        }
        tokio::select! {
            item = self.sub.recv() => match item {
                Ok(item) => {
                    self.gauge.sent();
                    Some(block(&item))
                }
                Err(Ended::Lagged { last_seq }) => {
                    self.done = true;
                    Some(format!(": lagged; resume with Last-Event-ID {last_seq}\n\n"))
                }
                Err(Ended::Closed) => None,
            },
            _ = self.keepalive.tick() => Some(": keep-alive\n\n".to_owned()),
        }
    }
}

/// One event block; the JSON is a single line.
fn block(item: &Item) -> String {
    let kind = match item {
        Item::Resync(_) => "resync",
        Item::Event(e) => e.event_type.as_str(),
    };
    format!(
        "id: {}\nevent: {kind}\ndata: {}\n\n",
        item.seq(),
        item.json()
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::ServeConfig;
    use crate::events::{Events, EventsConfig, Filter, Payload};
    use crate::metrics::Metrics;

    fn edge(events: &Events) -> EventsEdge {
        EventsEdge::new(
            &ServeConfig::default(),
            events.clone(),
            Arc::new(Metrics::default()),
        )
    }

    fn feed(edge: &EventsEdge) -> Feed {
        let query = Query {
            since: None,
            filter: Filter::default(),
            timeout: Duration::ZERO,
        };
        let sub = edge
            .events
            .subscribe(query.since, query.filter)
            .expect("subscribe");
        Feed {
            sub,
            keepalive: interval_at(Instant::now() + edge.sse_keepalive, edge.sse_keepalive),
            gauge: SubscriberGauge::reserve(edge).expect("place"),
            first: true,
            done: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn comment_every_15_s_then_events() {
        let events = Events::default();
        let edge = edge(&events);
        let mut feed = feed(&edge);
        assert_eq!(feed.next().await.as_deref(), Some("retry: 2000\n\n"));
        let start = Instant::now();
        assert_eq!(feed.next().await.as_deref(), Some(": keep-alive\n\n"));
        assert_eq!(start.elapsed(), Duration::from_secs(15));
        let seq = events.publish("s", "run", Payload::StreamRemoved);
        let block = feed.next().await.unwrap_or_default();
        assert!(
            block.starts_with(&format!("id: {seq}\nevent: stream.removed\ndata: {{")),
            "{block}"
        );
        assert!(block.ends_with("}\n\n"), "{block}");
        assert_eq!(feed.next().await.as_deref(), Some(": keep-alive\n\n"));
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn lagging_subscriber_ends_the_stream() {
        let events = Events::new(EventsConfig {
            queue: 2,
            ..EventsConfig::default()
        });
        let edge = edge(&events);
        let mut feed = feed(&edge);
        let _ = feed.next().await;
        for _ in 0..3 {
            events.publish("s", "run", Payload::StreamRemoved);
        }
        let mut chunks = Vec::new();
        while let Some(chunk) = feed.next().await {
            chunks.push(chunk);
        }
        assert_eq!(chunks.len(), 3, "{chunks:?}");
        assert_eq!(chunks[2], ": lagged; resume with Last-Event-ID 2\n\n");
        drop(feed);
        assert_eq!(
            edge.metrics
                .events
                .subscribers
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
    }
}
