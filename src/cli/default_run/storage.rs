// SPDX-License-Identifier: MIT OR Apache-2.0
//! The default run with `--playlists s3://BUCKET/PREFIX`: every video of `media/` is packaged
//! into `PREFIX/NAME/` in object storage (as `package FILE -o s3://BUCKET/PREFIX/NAME` does:
//! runs, `master.m3u8` last, old runs collected after the grace), the source record goes
//! beside it as the dot-object `PREFIX/NAME/.hlsorigin-source` (never served), and the page
//! and origin serve the prefix from storage. Live ingest goes there too (server mode into
//! storage). README "Scaling out".

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use media::package::{PackageOptions, Progress};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use origin::source::store::{s3_from_env, Role};
use origin::{LivePlaylists, ServeConfig, StorageUrl};
use tokio::runtime::Handle;

use super::record::{SourceRecord, STAMP};
use super::scheduler::Scheduler;
use crate::input::{self, OpenOptions};
use crate::storage::live::LiveTarget;
use crate::storage::serve::{follow_own_events, FollowingSource};

/// The playlists prefix in object storage.
#[derive(Debug, Clone)]
pub struct Stored {
    rt: Handle,
    store: Arc<dyn ObjectStore>,
    /// `PREFIX` (no slashes around it; empty for the whole bucket).
    prefix: String,
    /// How long a superseded run of a re-packaged video stays (`--gc-grace`).
    gc_grace: Duration,
}

impl Stored {
    /// S3 clients for `url` from the AWS environment: one that retries for packaging, and the
    /// live target the ingest writes through (and the origin serves from).
    /// Superseded runs are deleted `gc_grace` after, by a later packaging of the same video.
    pub fn connect(rt: Handle, url: &StorageUrl, gc_grace: Duration) -> Result<(Self, LiveTarget)> {
        let store = s3_from_env(url, Role::Write).with_context(|| url.to_string())?;
        let target = LiveTarget::from_url(rt.clone(), url).with_context(|| url.to_string())?;
        let stored = Stored {
            rt,
            store,
            prefix: url.prefix.trim_matches('/').to_owned(),
            gc_grace,
        };
        Ok((stored, target))
    }

    /// The origin of the default run over the prefix: live playlists there follow storage
    /// (the ingest's events wake blocking reloads), as `live --root s3://… --listen` does.
    pub async fn bind(
        &self,
        config: &ServeConfig,
        target: &LiveTarget,
    ) -> Result<(origin::Server, LivePlaylists)> {
        let source = origin::StoreSource::new(target.object_store(), &self.prefix);
        let (source, live) = FollowingSource::new(source, Some(target.stats()));
        let server = origin::Server::bind_with_source(config, source)
            .await
            .map_err(crate::cli::serve::bind_error)?;
        tokio::spawn(follow_own_events(live.clone()));
        Ok((server, live))
    }

    /// `PREFIX/NAME` (the stream's prefix).
    fn stream(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    fn record_key(&self, name: &str) -> Key {
        Key::from(format!("{}/{STAMP}", self.stream(name)))
    }

    /// The source record of stream `name`, if storage has one (a failure counts as none).
    async fn record(&self, name: &str) -> Option<SourceRecord> {
        let got = self.store.get(&self.record_key(name)).await.ok()?;
        let bytes = got.bytes().await.ok()?;
        SourceRecord::parse(&String::from_utf8_lossy(&bytes))
    }

    /// Packages `src` into `PREFIX/NAME` as run `run_id` unless its record says it is up to
    /// date; the line to print when it did. Blocking: call it off the runtime's workers.
    pub fn package_if_stale(
        &self,
        src: &Path,
        name: &str,
        record: &SourceRecord,
        run_id: String,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<Option<String>> {
        if self
            .rt
            .block_on(self.record(name))
            .is_some_and(|old| old.up_to_date(record))
        {
            return Ok(None);
        }
        let opts = PackageOptions {
            run_id,
            ..Default::default()
        };
        let open = OpenOptions {
            allow_truncated: false,
            drop_bad_samples: false,
        };
        let mut demux = input::open(src, &open)?;
        let prefix = self.stream(name);
        let (summary, _) = crate::storage::vod::package_to_store(
            &self.rt,
            Arc::clone(&self.store),
            &prefix,
            demux.as_mut(),
            &opts,
            self.gc_grace,
            on_progress,
        )?;
        let body = PutPayload::from(record.render().into_bytes());
        self.rt
            .block_on(self.store.put(&self.record_key(name), body))
            .with_context(|| format!("cannot store the source record of {name}"))?;
        Ok(Some(super::packaged_line(src, &summary)))
    }

    /// Every `(stream name, record)` under the prefix, sorted by name.
    pub async fn records(&self) -> Vec<(String, SourceRecord)> {
        let prefix = (!self.prefix.is_empty()).then(|| Key::from(self.prefix.as_str()));
        let mut listing = self.store.list(prefix.as_ref());
        let strip = prefix.map(|p| format!("{p}/")).unwrap_or_default();
        let mut names = Vec::new();
        while let Some(meta) = listing.next().await {
            let Ok(meta) = meta else {
                tracing::warn!("cannot list the playlists in storage");
                break;
            };
            let rel = meta.location.as_ref().strip_prefix(strip.as_str());
            if let Some((name, STAMP)) = rel.and_then(|r| r.split_once('/')) {
                if !name.starts_with('.') {
                    names.push(name.to_owned());
                }
            }
        }
        let mut out = Vec::new();
        for name in names {
            if let Some(rec) = self.record(&name).await {
                out.push((name, rec));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Removes stream `name` whose source `src` is gone, when its record names that file:
    /// `master.m3u8` first (the listing and players stop seeing it), then every other object
    /// under `PREFIX/NAME/`. True when it did.
    pub async fn remove_stream(&self, name: &str, src: &Path) -> bool {
        let owned = self
            .record(name)
            .await
            .is_some_and(|r| Some(std::ffi::OsStr::new(&r.file)) == src.file_name());
        if !owned {
            return false;
        }
        let stream = Key::from(self.stream(name));
        let master = Key::from(format!("{stream}/master.m3u8"));
        if let Err(e) = self.store.delete(&master).await {
            tracing::error!(
                "cannot remove {name} from storage (source {} is gone): {e}",
                src.display()
            );
            return false;
        }
        let keys: Vec<Key> = self
            .store
            .list(Some(&stream))
            .filter_map(|m| async move { m.ok().map(|m| m.location) })
            .collect()
            .await;
        for key in keys {
            if let Err(e) = self.store.delete(&key).await {
                tracing::warn!(object = %key, error = %e, "cannot delete an object of a removed stream");
            }
        }
        println!(
            "removed stream {name}: its source {} is gone",
            src.display()
        );
        true
    }
}

/// [`super::adopt_outputs`] over storage: a stream whose source is still in `media/` keeps
/// its name; one whose source was deleted while hlsorigin was not running is removed.
pub async fn adopt_outputs(s: &mut Scheduler, stored: &Stored) {
    let here = s.media_canon.to_string_lossy().into_owned();
    for (name, rec) in stored.records().await {
        let src = s.media.join(&rec.file);
        if src.is_file() {
            s.names.claim(&name, &rec.file);
        } else if rec.media == here && stored.remove_stream(&name, &src).await {
            s.removed(&name);
        }
    }
}
