// SPDX-License-Identifier: MIT OR Apache-2.0
//! Prometheus metrics, kept in atomics and written in the text exposition format by hand
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>).
//!
//! - `hlsorigin_http_requests_total{kind,status}` — counter; `kind` is
//!   playlist/segment/init/page/other, `status` the response code.
//! - `hlsorigin_http_response_bytes_total{kind}` — counter of body bytes declared by
//!   `Content-Length` (HEAD counts 0).
//! - `hlsorigin_http_request_duration_seconds{kind}` — histogram of the time until the
//!   response head is ready (body streaming excluded).
//! - `hlsorigin_open_connections` — gauge; `hlsorigin_connections_total` — counter.
//! - `hlsorigin_gzip_compressions_total` — counter of playlist versions gzipped (once per
//!   version, however many requests it serves).
//! - `hlsorigin_hot_cache_hits_total`, `hlsorigin_hot_cache_misses_total` — counters of
//!   segment responses sent from the hot-object cache or read into it (`source::hot`);
//!   `hlsorigin_hot_cache_bytes` — gauge of the bytes it holds.
//! - `hlsorigin_webhook_deliveries_total`, `hlsorigin_webhook_retries_total`,
//!   `hlsorigin_webhook_given_up_total` — counters of webhook events delivered (2xx), attempts
//!   that failed and were retried, and events given up after their retry time
//!   (`crate::webhook`); `hlsorigin_webhook_resyncs_total` — times a lagging webhook
//!   found events gone from the event ring (they were never sent).
//! - `hlsorigin_events_subscribers` — gauge of WebSocket and SSE clients of `/api/events`;
//!   `hlsorigin_events_sent_total` — counter of events written to them and in long-poll
//!   answers.
//! - `hlsorigin_signed_url_denied_total{reason}` — counter of requests refused by the
//!   signed-URL gate (`http::signed`): missing, malformed, bad_signature, expired, wrong_path.
//! - `hlsorigin_ingest_publishers` — gauge of RTMP/SRT publishers publishing now;
//!   `hlsorigin_ingest_publishes_total` — publishes accepted;
//!   `hlsorigin_ingest_refused_key_total` — publishes refused for a wrong or missing stream
//!   key; `hlsorigin_ingest_refused_total` — refused for another reason (name taken, bad
//!   name, too many connections, SRT encryption mismatch, RTMP connection closed for bad
//!   input). Counted by the ingest side through [`IngestMetrics`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// What kind of object a request is for; the `kind` label of the request metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    Playlist,
    Segment,
    Init,
    Page,
    Other,
}

impl RouteKind {
    pub(crate) const ALL: [RouteKind; 5] = [
        RouteKind::Playlist,
        RouteKind::Segment,
        RouteKind::Init,
        RouteKind::Page,
        RouteKind::Other,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            RouteKind::Playlist => "playlist",
            RouteKind::Segment => "segment",
            RouteKind::Init => "init",
            RouteKind::Page => "page",
            RouteKind::Other => "other",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Counters of the hot-object cache (`source::hot`), kept in [`Metrics`].
#[derive(Debug, Default)]
pub(crate) struct HotStats {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    /// Bytes of the objects currently cached (read or being read).
    pub(crate) bytes: AtomicU64,
}

/// Counters of webhook delivery (`crate::webhook`), kept in [`Metrics`].
#[derive(Debug, Default)]
pub(crate) struct WebhookStats {
    pub(crate) delivered: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) given_up: AtomicU64,
    pub(crate) resyncs: AtomicU64,
}

/// Counters of the `/api/events` edges (`http::events`), kept in [`Metrics`].
#[derive(Debug, Default)]
pub(crate) struct EventStats {
    /// WebSocket and SSE subscribers connected now.
    pub(crate) subscribers: AtomicU64,
    /// Events sent (frames, SSE blocks, long-poll array items).
    pub(crate) sent: AtomicU64,
}

/// Counters of live ingest (RTMP/SRT publishers), kept in [`Metrics`].
#[derive(Debug, Default)]
pub(crate) struct IngestStats {
    pub(crate) publishers: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) refused_key: AtomicU64,
    pub(crate) refused: AtomicU64,
}

/// The ingest side's handle on a server's ingest counters ([`crate::Server::ingest_metrics`]).
#[derive(Debug, Clone)]
pub struct IngestMetrics(Arc<Metrics>);

impl IngestMetrics {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        IngestMetrics(metrics)
    }

    /// A publish was accepted: one more publisher.
    pub fn publish_started(&self) {
        self.0.ingest.accepted.fetch_add(1, Relaxed);
        self.0.ingest.publishers.fetch_add(1, Relaxed);
    }

    /// A publisher counted by [`Self::publish_started`] is gone.
    pub fn publish_ended(&self) {
        let _ = self
            .0
            .ingest
            .publishers
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
    }

    /// A publish was refused for a wrong or missing stream key.
    pub fn refused_key(&self) {
        self.0.ingest.refused_key.fetch_add(1, Relaxed);
    }

    /// A publish or connection was refused for another reason.
    pub fn refused(&self) {
        self.0.ingest.refused.fetch_add(1, Relaxed);
    }
}

/// Status codes with their own counter; anything else is counted under its class (`2xx`…).
const STATUSES: [u16; 13] = [
    200, 204, 206, 304, 400, 403, 404, 405, 412, 416, 500, 503, 0,
];
const STATUS_OTHER: usize = STATUSES.len() - 1;
const KINDS: usize = RouteKind::ALL.len();
/// Histogram upper bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Per-bucket (non-cumulative) counts; the last slot is +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

/// All counters of one server.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: [[AtomicU64; STATUSES.len()]; KINDS],
    /// Requests whose status is not in [`STATUSES`], by class 1xx..5xx.
    requests_other_class: [[AtomicU64; 5]; KINDS],
    bytes: [AtomicU64; KINDS],
    latency: [Histogram; KINDS],
    open_connections: AtomicU64,
    connections_total: AtomicU64,
    gzip_compressions: AtomicU64,
    /// Hot-object cache counters (`source::hot`).
    pub(crate) hot: HotStats,
    /// Webhook delivery counters (`crate::webhook`).
    pub(crate) webhook: WebhookStats,
    /// `/api/events` counters (`http::events`).
    pub(crate) events: EventStats,
    /// Requests refused for want of a valid signed URL (`http::signed`).
    pub(crate) signed: crate::http::signed::SignedStats,
    /// Live ingest counters ([`IngestMetrics`]).
    pub(crate) ingest: IngestStats,
}

impl Metrics {
    pub(crate) fn record(&self, kind: RouteKind, status: u16, bytes: u64, elapsed: Duration) {
        let k = kind.index();
        let slot = STATUSES[..STATUS_OTHER].iter().position(|&s| s == status);
        match slot {
            Some(i) => add(self.requests.get(k).and_then(|r| r.get(i)), 1),
            None => {
                let class = usize::from(status / 100).saturating_sub(1);
                add(
                    self.requests_other_class.get(k).and_then(|r| r.get(class)),
                    1,
                );
            }
        }
        add(self.bytes.get(k), bytes);
        if let Some(h) = self.latency.get(k) {
            let secs = elapsed.as_secs_f64();
            let b = BUCKETS
                .iter()
                .position(|&ub| secs <= ub)
                .unwrap_or(BUCKETS.len());
            add(h.buckets.get(b), 1);
            add(
                Some(&h.sum_micros),
                u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            );
        }
    }

    pub(crate) fn connection_opened(&self) {
        self.open_connections.fetch_add(1, Relaxed);
        self.connections_total.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        // Never below zero, even if a close were counted twice.
        let _ = self
            .open_connections
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
    }

    /// A playlist version was gzipped.
    pub(crate) fn gzip_compressed(&self) {
        self.gzip_compressions.fetch_add(1, Relaxed);
    }

    #[cfg(test)]
    pub(crate) fn gzip_compressions(&self) -> u64 {
        self.gzip_compressions.load(Relaxed)
    }

    /// The text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing to a String cannot fail.
        let _ = self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "# HELP hlsorigin_http_requests_total HTTP requests by route kind and status."
        )?;
        writeln!(out, "# TYPE hlsorigin_http_requests_total counter")?;
        for kind in RouteKind::ALL {
            let k = kind.index();
            let label = kind.label();
            for (i, status) in STATUSES.iter().take(STATUS_OTHER).enumerate() {
                let n = load(self.requests.get(k).and_then(|r| r.get(i)));
                if n > 0 {
                    writeln!(
                        out,
                        "hlsorigin_http_requests_total{{kind=\"{label}\",status=\"{status}\"}} {n}"
                    )?;
                }
            }
            for class in 0..5u8 {
                let n = load(
                    self.requests_other_class
                        .get(k)
                        .and_then(|r| r.get(usize::from(class))),
                );
                if n > 0 {
                    let c = class.saturating_add(1);
                    writeln!(
                        out,
                        "hlsorigin_http_requests_total{{kind=\"{label}\",status=\"{c}xx\"}} {n}"
                    )?;
                }
            }
        }
        writeln!(
            out,
            "# HELP hlsorigin_http_response_bytes_total Response body bytes by route kind."
        )?;
        writeln!(out, "# TYPE hlsorigin_http_response_bytes_total counter")?;
        for kind in RouteKind::ALL {
            let n = load(self.bytes.get(kind.index()));
            writeln!(
                out,
                "hlsorigin_http_response_bytes_total{{kind=\"{}\"}} {n}",
                kind.label()
            )?;
        }
        writeln!(
            out,
            "# HELP hlsorigin_http_request_duration_seconds Time to response head."
        )?;
        writeln!(
            out,
            "# TYPE hlsorigin_http_request_duration_seconds histogram"
        )?;
        for kind in RouteKind::ALL {
            let Some(h) = self.latency.get(kind.index()) else {
                continue;
            };
            let label = kind.label();
            let mut cumulative = 0u64;
            for (i, ub) in BUCKETS.iter().enumerate() {
                cumulative = cumulative.saturating_add(load(h.buckets.get(i)));
                writeln!(
                    out,
                    "hlsorigin_http_request_duration_seconds_bucket{{kind=\"{label}\",le=\"{ub}\"}} {cumulative}"
                )?;
            }
            cumulative = cumulative.saturating_add(load(h.buckets.get(BUCKETS.len())));
            writeln!(
                out,
                "hlsorigin_http_request_duration_seconds_bucket{{kind=\"{label}\",le=\"+Inf\"}} {cumulative}"
            )?;
            let sum = load(Some(&h.sum_micros)) as f64 / 1e6;
            writeln!(
                out,
                "hlsorigin_http_request_duration_seconds_sum{{kind=\"{label}\"}} {sum}"
            )?;
            writeln!(
                out,
                "hlsorigin_http_request_duration_seconds_count{{kind=\"{label}\"}} {cumulative}"
            )?;
        }
        let scalars = [
            (
                "open_connections",
                "gauge",
                "Client connections currently open.",
                &self.open_connections,
            ),
            (
                "connections_total",
                "counter",
                "Client connections accepted.",
                &self.connections_total,
            ),
            (
                "gzip_compressions_total",
                "counter",
                "Playlist versions gzipped (once each).",
                &self.gzip_compressions,
            ),
            (
                "hot_cache_hits_total",
                "counter",
                "Segment responses sent from the hot-object cache.",
                &self.hot.hits,
            ),
            (
                "hot_cache_misses_total",
                "counter",
                "Segments read into the hot-object cache.",
                &self.hot.misses,
            ),
            (
                "hot_cache_bytes",
                "gauge",
                "Bytes held by the hot-object cache.",
                &self.hot.bytes,
            ),
            (
                "webhook_deliveries_total",
                "counter",
                "Events delivered to a webhook (2xx answer).",
                &self.webhook.delivered,
            ),
            (
                "webhook_retries_total",
                "counter",
                "Webhook attempts that failed and were retried.",
                &self.webhook.retries,
            ),
            (
                "webhook_given_up_total",
                "counter",
                "Events a webhook never accepted within their retry time.",
                &self.webhook.given_up,
            ),
            (
                "webhook_resyncs_total",
                "counter",
                "Times a lagging webhook found events gone from the event ring.",
                &self.webhook.resyncs,
            ),
            (
                "events_subscribers",
                "gauge",
                "WebSocket and SSE subscribers of /api/events.",
                &self.events.subscribers,
            ),
            (
                "events_sent_total",
                "counter",
                "Events sent to /api/events clients (WebSocket, SSE, long-poll).",
                &self.events.sent,
            ),
            (
                "ingest_publishers",
                "gauge",
                "RTMP/SRT publishers publishing now.",
                &self.ingest.publishers,
            ),
            (
                "ingest_publishes_total",
                "counter",
                "RTMP/SRT publishes accepted.",
                &self.ingest.accepted,
            ),
            (
                "ingest_refused_key_total",
                "counter",
                "RTMP/SRT publishes refused for a wrong or missing stream key.",
                &self.ingest.refused_key,
            ),
            (
                "ingest_refused_total",
                "counter",
                "RTMP/SRT publishes or connections refused for another reason.",
                &self.ingest.refused,
            ),
        ];
        for (name, kind, help, value) in scalars {
            writeln!(out, "# HELP hlsorigin_{name} {help}")?;
            writeln!(out, "# TYPE hlsorigin_{name} {kind}")?;
            writeln!(out, "hlsorigin_{name} {}", value.load(Relaxed))?;
        }
        self.render_signed(out)
    }

    /// Counts one request refused by the signed-URL gate.
    pub(crate) fn signed_denied(&self, why: crate::signing::Denied) {
        self.signed.add(why);
    }

    fn render_signed(&self, out: &mut String) -> std::fmt::Result {
        let name = "hlsorigin_signed_url_denied_total";
        writeln!(
            out,
            "# HELP {name} Requests refused (403) for want of a valid signed URL, by reason."
        )?;
        writeln!(out, "# TYPE {name} counter")?;
        for why in crate::signing::Denied::ALL {
            let n = load(self.signed.denied.get(why as usize));
            writeln!(out, "{name}{{reason=\"{}\"}} {n}", why.label())?;
        }
        Ok(())
    }
}

fn add(counter: Option<&AtomicU64>, n: u64) {
    if let Some(c) = counter {
        c.fetch_add(n, Relaxed);
    }
}

fn load(counter: Option<&AtomicU64>) -> u64 {
    counter.map_or(0, |c| c.load(Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_histogram() {
        let m = Metrics::default();
        m.record(RouteKind::Segment, 200, 1000, Duration::from_micros(300));
        m.record(RouteKind::Segment, 206, 10, Duration::from_millis(2));
        m.record(RouteKind::Playlist, 418, 0, Duration::from_secs(10));
        m.connection_opened();
        m.connection_opened();
        m.connection_closed();
        m.gzip_compressed();
        m.hot.hits.fetch_add(3, Relaxed);
        m.webhook.given_up.fetch_add(2, Relaxed);
        m.events.subscribers.fetch_add(2, Relaxed);
        m.events.sent.fetch_add(7, Relaxed);
        let m = Arc::new(m);
        let ingest = IngestMetrics::new(Arc::clone(&m));
        ingest.publish_started();
        ingest.publish_started();
        ingest.publish_ended();
        ingest.refused_key();
        let text = m.render();
        for want in [
            "hlsorigin_http_requests_total{kind=\"segment\",status=\"200\"} 1\n",
            "hlsorigin_http_requests_total{kind=\"segment\",status=\"206\"} 1\n",
            "hlsorigin_http_requests_total{kind=\"playlist\",status=\"4xx\"} 1\n",
            "hlsorigin_http_response_bytes_total{kind=\"segment\"} 1010\n",
            "hlsorigin_http_request_duration_seconds_bucket{kind=\"segment\",le=\"0.0005\"} 1\n",
            "hlsorigin_http_request_duration_seconds_bucket{kind=\"segment\",le=\"0.0025\"} 2\n",
            "hlsorigin_http_request_duration_seconds_bucket{kind=\"playlist\",le=\"5\"} 0\n",
            "hlsorigin_http_request_duration_seconds_bucket{kind=\"playlist\",le=\"+Inf\"} 1\n",
            "hlsorigin_http_request_duration_seconds_count{kind=\"segment\"} 2\n",
            "hlsorigin_open_connections 1\n",
            "hlsorigin_connections_total 2\n",
            "hlsorigin_gzip_compressions_total 1\n",
            "hlsorigin_hot_cache_hits_total 3\n",
            "hlsorigin_hot_cache_misses_total 0\n",
            "# TYPE hlsorigin_hot_cache_bytes gauge\n",
            "hlsorigin_webhook_given_up_total 2\n",
            "hlsorigin_webhook_deliveries_total 0\n",
            "# TYPE hlsorigin_events_subscribers gauge\nhlsorigin_events_subscribers 2\n",
            "hlsorigin_events_sent_total 7\n",
            "hlsorigin_ingest_publishers 1\n",
            "hlsorigin_ingest_publishes_total 2\n",
            "hlsorigin_ingest_refused_key_total 1\n",
            "hlsorigin_ingest_refused_total 0\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }
}
