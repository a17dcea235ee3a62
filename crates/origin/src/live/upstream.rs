// SPDX-License-Identifier: MIT OR Apache-2.0
//! The packager's events, applied to followed storage playlists ([`super::follow`]):
//! `part.published` / `segment.published` poke the playlist of their rendition, the other
//! stream events (`stream.live`, `stream.discontinuity`, `stream.ended`) every playlist of
//! their stream, a `resync` every followed playlist.
//!
//! Two ways in: the WebSocket of a packager elsewhere (`serve s3://… --follow
//! http://PACKAGER:PORT`, [`follow_packager`]: reconnects with backoff and resumes with
//! `since`; while it is down the follow tasks poll at their fast rate), and the event hub of
//! the packager in this process (`live --root s3://… --listen`, [`follow_hub`]).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use super::follow::{Follow, Want};
use crate::events::{EventType, Events, Filter, Item};

/// The event types a follower asks for.
pub const TYPES: [EventType; 5] = [
    EventType::PartPublished,
    EventType::SegmentPublished,
    EventType::StreamLive,
    EventType::StreamDiscontinuity,
    EventType::StreamEnded,
];

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Applies one event (its JSON text) to `follow`; returns its `seq`.
pub fn apply(follow: &Follow, json: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let seq = v.get("seq")?.as_u64()?;
    let kind = v.get("type")?.as_str()?;
    if kind == "resync" {
        follow.poke_all();
        return Some(seq);
    }
    let stream = v.get("stream").and_then(|s| s.as_str()).unwrap_or_default();
    let data = v.get("data");
    let field = |name: &str| data.and_then(|d| d.get(name));
    let rendition = field("rendition").and_then(|r| r.as_str());
    let msn = field("msn").and_then(serde_json::Value::as_u64);
    match kind {
        "part.published" | "segment.published" => {
            let want = msn.map(|msn| Want {
                msn,
                part: (kind == "part.published")
                    .then(|| field("part").and_then(serde_json::Value::as_u64))
                    .flatten(),
            });
            follow.poke(stream, rendition, want);
        }
        _ => follow.poke(stream, None, None),
    }
    Some(seq)
}

/// The `/api/events` WebSocket URL of `packager` (`http://HOST:PORT` or `https://…`).
pub fn events_url(packager: &str, since: Option<u64>) -> String {
    let base = packager.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        format!("ws://{base}")
    };
    let types: Vec<&str> = TYPES.iter().map(|t| t.as_str()).collect();
    let mut url = format!("{base}/api/events?types={}", types.join(","));
    if let Some(since) = since {
        url.push_str(&format!("&since={since}"));
    }
    url
}

/// Follows the events of the packager at `packager` for ever: connects, applies every event,
/// reconnects after a failure (resuming after the last seq seen).
pub async fn follow_packager(packager: String, follow: Arc<Follow>) {
    let mut since = None;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let url = events_url(&packager, since);
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((mut ws, _)) => {
                tracing::info!(packager = %packager, "following the packager's events");
                follow.set_connected(true);
                // Whatever happened while disconnected: read every followed playlist again.
                follow.poke_all();
                backoff = FIRST_BACKOFF;
                while let Some(msg) = ws.next().await {
                    match msg {
                        Ok(Message::Text(text)) => {
                            if let Some(seq) = apply(&follow, text.as_str()) {
                                since = Some(seq);
                            }
                        }
                        Ok(Message::Close(_)) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                follow.set_connected(false);
                tracing::warn!(packager = %packager, "packager events lost; polling storage until they are back");
            }
            Err(e) => {
                follow.set_connected(false);
                // A packager that restarted has a new sequence: a `since` past its latest
                // event is refused (400); start from now.
                if matches!(e, tokio_tungstenite::tungstenite::Error::Http(_)) {
                    since = None;
                }
                tracing::debug!(packager = %packager, error = %e, "cannot reach the packager's events");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Follows the events of the hub of a packager in this process until the hub closes.
pub async fn follow_hub(events: Events, follow: Arc<Follow>) {
    let mut since = None;
    loop {
        let Ok(mut sub) = events.subscribe(since, Filter::types(TYPES)) else {
            return;
        };
        follow.set_connected(true);
        loop {
            match sub.recv().await {
                Ok(item @ (Item::Event(_) | Item::Resync(_))) => {
                    apply(&follow, &item.json());
                }
                Err(crate::events::Ended::Lagged { last_seq }) => {
                    since = Some(last_seq);
                    follow.poke_all();
                    break;
                }
                Err(crate::events::Ended::Closed) => {
                    follow.set_connected(false);
                    return;
                }
            }
        }
    }
}
