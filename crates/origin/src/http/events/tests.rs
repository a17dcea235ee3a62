// SPDX-License-Identifier: MIT OR Apache-2.0
use axum::http::header::{ACCEPT, UPGRADE};
use axum::http::{HeaderMap, HeaderValue};

use super::*;
use crate::events::EventType;

/// Query string, `Last-Event-ID`, then `(since, timeout)` or a piece of the error.
type Case<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Result<(Option<u64>, u64), &'a str>,
);

#[test]
fn query_parses() {
    let cases: &[Case] = &[
        (None, None, Ok((None, DEFAULT_TIMEOUT_SECS))),
        (Some("since=7&timeout=3"), None, Ok((Some(7), 3))),
        (
            Some("since=7"),
            Some("9"),
            Ok((Some(7), DEFAULT_TIMEOUT_SECS)),
        ),
        (Some(""), Some(" 9 "), Ok((Some(9), DEFAULT_TIMEOUT_SECS))),
        (
            Some("since=-1"),
            None,
            Err("since must be a non-negative integer"),
        ),
        (Some("since=x"), None, Err("since must be")),
        (None, Some("abc"), Err("Last-Event-ID must be")),
        (Some("timeout=61"), None, Err("timeout must be at most 60")),
        (
            Some("types=stream.live,bogus,nope"),
            None,
            Err("unknown event types: bogus, nope"),
        ),
        (Some("types=,"), None, Err("types names no event type")),
        (Some("other=1"), None, Ok((None, DEFAULT_TIMEOUT_SECS))),
    ];
    for (query, last_id, want) in cases {
        let got = Query::parse(*query, *last_id).map(|q| (q.since, q.timeout.as_secs()));
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, *want, "{query:?}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{query:?}: {got}"),
            (got, want) => panic!("{query:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn query_filters_streams_and_types() {
    let q = Query::parse(
        Some("stream=a%20b&stream=c+d&types=stream.live&types=part.published"),
        None,
    );
    let want = Filter::parse(["a b", "c d"], Some("stream.live,part.published"));
    assert_eq!(q.map(|q| q.filter), want.map_err(|e| e.to_string()));
    let only = Filter::types([EventType::StreamLive]);
    assert_ne!(
        Query::parse(Some("types=stream.live"), None).map(|q| q.filter),
        Ok(Filter::default())
    );
    assert_eq!(
        Query::parse(Some("types=stream.live"), None).map(|q| q.filter),
        Ok(only)
    );
}

#[test]
fn dispatch_headers() {
    let h = |name, value: &'static str| {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_static(value));
        m
    };
    assert!(wants_websocket(&h(UPGRADE, "websocket")));
    assert!(wants_websocket(&h(UPGRADE, "foo, WebSocket")));
    assert!(!wants_websocket(&h(UPGRADE, "h2c")));
    assert!(!wants_websocket(&HeaderMap::new()));
    assert!(accepts_event_stream(&h(ACCEPT, "text/event-stream")));
    assert!(accepts_event_stream(&h(
        ACCEPT,
        "application/json, text/event-stream;q=0.9"
    )));
    assert!(!accepts_event_stream(&h(ACCEPT, "*/*")));
}
