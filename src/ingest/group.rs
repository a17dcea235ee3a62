// SPDX-License-Identifier: MIT OR Apache-2.0
//! Several inputs as the renditions of one live stream (`hlsorigin live --input A --input B`):
//! each input has its own driver task, `LiveStream` and media playlist; what they share
//! is a [`RenditionGroup`] behind a mutex — the multivariant playlist `master.m3u8`, written
//! here whenever the group says it changed, and the EXT-X-RENDITION-REPORTs each driver
//! hands its stream before feeding it (RFC 8216bis 4.4.5.4).

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use media::live::{LiveStream, RenditionGroup};
use media::playlist::ll::RenditionReport;
use media::store::Store;

use crate::fs_store::FsStore;

const MASTER: &str = "master.m3u8";

struct Shared {
    group: RenditionGroup,
    /// The stream's directory (or storage prefix), for `master.m3u8`.
    store: Box<dyn Store + Send>,
}

/// One rendition's handle on the group. Cheap to clone.
#[derive(Clone)]
pub struct GroupMember {
    shared: Arc<Mutex<Shared>>,
    index: usize,
}

impl fmt::Debug for GroupMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupMember")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// The members of a group of `count` renditions writing `master.m3u8` into `dir`; `grace`
/// is how long the first multivariant playlist waits for renditions without a segment.
pub fn members(count: usize, dir: &Path, grace: Duration) -> Vec<GroupMember> {
    let shared = Arc::new(Mutex::new(Shared {
        group: RenditionGroup::new(count, grace),
        store: Box::new(FsStore::new(dir)),
    }));
    (0..count)
        .map(|index| GroupMember {
            shared: Arc::clone(&shared),
            index,
        })
        .collect()
}

impl GroupMember {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panicking driver task leaves consistent data: every update is one assignment.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `master.m3u8` into `store` instead of the directory (`--root s3://…`).
    pub fn write_into(&self, store: Box<dyn Store + Send>) {
        self.lock().store = store;
    }

    /// The other renditions' reports as they stand now.
    pub fn reports(&self) -> Vec<RenditionReport> {
        self.lock().group.reports_for(self.index)
    }

    /// Records this rendition after a publication (or its start) and writes the
    /// multivariant playlist if that changed it.
    pub fn record(&self, stream: &LiveStream, wall: SystemTime) {
        let mut shared = self.lock();
        shared.group.record_stream(self.index, stream, wall);
        shared.write_master(wall);
    }

    /// Runs `feed` (a push, discontinuity or end of `stream`) so that the renditions settle on
    /// one EXT-X-TARGETDURATION (RFC 8216bis 6.2.4, Apple 8.2): while `stream`'s target is not
    /// final it gets the group's, if one is settled, and `feed` runs under the group's lock
    /// with the target it fixes recorded before the lock is released — two renditions
    /// cannot settle on different ones at the same moment. Once final, `feed` just runs.
    pub fn settle_target<R>(
        &self,
        stream: &mut LiveStream,
        feed: impl FnOnce(&mut LiveStream) -> R,
    ) -> R {
        if stream.target_is_final() {
            return feed(stream);
        }
        let mut shared = self.lock();
        stream.share_target(shared.group.target());
        let result = feed(stream);
        if stream.target_is_final() {
            shared.group.settle_target(stream.target_duration());
        }
        result
    }

    /// Writes the multivariant playlist if it is due without a new record (end of the
    /// grace period).
    pub fn tick(&self, wall: SystemTime) {
        self.lock().write_master(wall);
    }

    /// When [`GroupMember::tick`] has work, if ever.
    pub fn next_deadline(&self) -> Option<SystemTime> {
        self.lock().group.next_deadline()
    }
}

impl Shared {
    fn write_master(&mut self, wall: SystemTime) {
        let Some(text) = self.group.master(wall) else {
            return;
        };
        let variants = text.matches("#EXT-X-STREAM-INF:").count();
        match self.store.put(MASTER, text.as_bytes()) {
            Ok(()) => tracing::info!(variants, "multivariant playlist written"),
            Err(e) => tracing::error!(error = %e, "cannot write {MASTER}"),
        }
    }
}
