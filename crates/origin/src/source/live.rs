// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`LiveSource`]: any [`ObjectSource`] plus the live playlists ([`crate::live`]) whose
//! requests may block.

use std::io;

use tokio::time::Instant;

use super::{Object, ObjectSource};
use crate::live::LivePlaylists;
use crate::path::ObjectPath;

/// An [`ObjectSource`] with live playlists: playlist requests may block (see
/// `http::reload`), and a request for a published playlist's preload-hinted part that
/// does not exist yet is held until it does (RFC 8216bis 6.2.6), then served.
#[derive(Debug, Clone)]
pub struct LiveSource<S> {
    inner: S,
    live: LivePlaylists,
}

impl<S: ObjectSource> LiveSource<S> {
    pub fn new(inner: S, live: LivePlaylists) -> Self {
        LiveSource { inner, live }
    }
}

impl<S: ObjectSource> ObjectSource for LiveSource<S> {
    async fn open(&self, path: &ObjectPath) -> io::Result<Object> {
        let first = self.inner.open(path).await;
        match &first {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            _ => return first,
        }
        let Some(mut rx) = self.live.sibling(path).await else {
            return first;
        };
        let mut deadline = None;
        loop {
            let (hinted, hold) = {
                let snap = rx.borrow_and_update();
                (
                    snap.hint.as_deref() == Some(path.as_str()),
                    snap.block_timeout(),
                )
            };
            if !hinted {
                break;
            }
            let until = *deadline.get_or_insert_with(|| Instant::now() + hold);
            match tokio::time::timeout_at(until, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
        // Produced meanwhile (or never hinted: it may have been written since the first try).
        self.inner.open(path).await
    }

    async fn list_streams(&self) -> io::Result<Vec<String>> {
        self.inner.list_streams().await
    }

    async fn list_offered(&self, offer: fn(&str) -> bool) -> io::Result<super::Listing> {
        self.inner.list_offered(offer).await
    }

    fn live(&self) -> Option<&LivePlaylists> {
        Some(&self.live)
    }

    fn render_metrics(&self, out: &mut String) {
        self.inner.render_metrics(out);
    }
}
