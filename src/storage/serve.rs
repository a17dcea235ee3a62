// SPDX-License-Identifier: MIT OR Apache-2.0
//! Origins over a storage prefix that hold live streams: `serve s3://… [--follow URL]` and
//! the packager's own `live --root s3://… --listen`.
//!
//! Both serve [`origin::StoreSource`] with live playlists that follow storage
//! ([`origin::LivePlaylists::following`]): a blocking reload is answered once the playlist
//! in storage lists the part it waits for (so storage has it). A separate origin learns of new
//! parts from the packager's `/api/events` WebSocket (`--follow`), or polls without it; the
//! packager's own origin from its event hub in the same process.

use std::io;
use std::sync::Arc;

use origin::{LivePlaylists, LiveSource, Object, ObjectSource, StoreSource};

use super::uploader::UploadStats;

/// A storage source with live playlists that follow it, and (for the packager) its upload
/// counters in `/metrics`.
#[derive(Debug, Clone)]
pub struct FollowingSource {
    inner: LiveSource<StoreSource>,
    uploads: Option<Arc<UploadStats>>,
}

impl FollowingSource {
    /// `source` and the live playlists that follow it.
    pub fn new(source: StoreSource, uploads: Option<Arc<UploadStats>>) -> (Self, LivePlaylists) {
        let live = LivePlaylists::following(source.playlist_fetch());
        let inner = LiveSource::new(source, live.clone());
        (FollowingSource { inner, uploads }, live)
    }
}

impl ObjectSource for FollowingSource {
    async fn open(&self, path: &origin::path::ObjectPath) -> io::Result<Object> {
        self.inner.open(path).await
    }

    async fn list_streams(&self) -> io::Result<Vec<String>> {
        self.inner.list_streams().await
    }

    async fn list_offered(&self, offer: fn(&str) -> bool) -> io::Result<origin::source::Listing> {
        self.inner.list_offered(offer).await
    }

    fn live(&self) -> Option<&LivePlaylists> {
        self.inner.live()
    }

    fn render_metrics(&self, out: &mut String) {
        self.inner.render_metrics(out);
        if let Some(uploads) = &self.uploads {
            uploads.render(out);
        }
    }
}

/// Follows the packager at `packager` (`http://HOST:PORT`) for ever.
pub async fn follow_packager(live: LivePlaylists, packager: String) {
    if let Some(follow) = live.follow() {
        origin::live::upstream::follow_packager(packager, Arc::clone(follow)).await;
    }
}

/// Follows the event hub of the packager in this process until it closes.
pub async fn follow_own_events(live: LivePlaylists) {
    if let Some(follow) = live.follow() {
        let events = live.events().clone();
        origin::live::upstream::follow_hub(events, Arc::clone(follow)).await;
    }
}
