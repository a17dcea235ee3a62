// SPDX-License-Identifier: MIT OR Apache-2.0
//! Requests a cleartext HTTP/1.1 connection holds before hyper sees them ([`super::cycle`]),
//! so that a waiting request keeps no hyper buffers: a long-poll until an event matches it
//! ([`EventsEdge::hold`](super::events::EventsEdge::hold)), an LL-HLS blocking playlist reload
//! until its delivery directives are met, refused, or its time is up (RFC 8216bis 6.2.5.2,
//! [`reload::hold`]). hyper then gets the request, and the handler answers at once from what
//! the wait ended with ([`Held`], in the request's extensions): the same `since`, the same
//! deadline. Every check of the route runs again there; a request the route would refuse at
//! once (a signed URL that does not open it, a path it rejects, directives it refuses) is not
//! held.

use std::future::Future;
use std::pin::Pin;

use axum::extract::Request;
use axum::http::{Extensions, Method};

use super::files::AppState;
use super::policy::classify;
use super::{events, reload, signed};
use crate::metrics::RouteKind;
use crate::path::ObjectPath;
use crate::source::ObjectSource;

/// What a held request's wait ended with, for its handler.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Held {
    Poll(events::Held),
    Reload(reload::HeldReload),
}

impl Held {
    pub(crate) fn insert_into(self, extensions: &mut Extensions) {
        match self {
            Held::Poll(h) => extensions.insert(h).map(|_| ()),
            Held::Reload(h) => extensions.insert(h).map(|_| ()),
        };
    }
}

/// The server's requests that wait: the router's state, behind its source type.
pub(crate) trait Holder: Send + Sync + 'static {
    /// Waits as `req` would in its handler, keeping nothing of it; `None`: not a request
    /// that waits (its handler answers at once).
    fn hold(&self, req: Request) -> Pin<Box<dyn Future<Output = Option<Held>> + Send + '_>>;
}

impl std::fmt::Debug for dyn Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Holder")
    }
}

impl<S: ObjectSource> Holder for AppState<S> {
    fn hold(&self, req: Request) -> Pin<Box<dyn Future<Output = Option<Held>> + Send + '_>> {
        Box::pin(hold(self, req))
    }
}

async fn hold<S: ObjectSource>(state: &AppState<S>, req: Request) -> Option<Held> {
    if req.method() != Method::GET {
        return None;
    }
    if req.uri().path() == "/api/events" {
        return state.events.hold(req).await.map(Held::Poll);
    }
    signed::gate(state.events.signed.as_deref(), &req).ok()?;
    let path = ObjectPath::from_request_path(req.uri().path()).ok()?;
    if classify(path.extension()).1 != RouteKind::Playlist {
        return None;
    }
    let query = req.uri().query().map(str::to_owned);
    drop(req);
    reload::hold(&state.source, &path, query.as_deref())
        .await
        .map(Held::Reload)
}
