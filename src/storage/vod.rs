// SPDX-License-Identifier: MIT OR Apache-2.0
//! `package INPUT -o s3://BUCKET/PREFIX`: one run into object storage, then the collection of
//! runs it supersedes.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use media::package::{package_streaming, PackageOptions, PackageSummary, Progress, StreamStore};
use media::sample::Demuxer;
use object_store::ObjectStore;
use origin::source::store::{s3_from_env, Role};
use origin::StorageUrl;

use super::runs::{self, GcReport};
use super::sink::ObjectSink;
use crate::interrupt::{self, Interrupted, Interruptible};

/// Packages `demux` into `store` under `prefix` as run `opts.run_id`: see [`run_to_store`].
pub fn package_to_store(
    rt: &tokio::runtime::Handle,
    store: Arc<dyn ObjectStore>,
    prefix: &str,
    demux: &mut dyn Demuxer,
    opts: &PackageOptions,
    gc_grace: Duration,
    progress: &mut dyn FnMut(Progress),
) -> Result<(PackageSummary, GcReport)> {
    let run = Run {
        rt,
        store,
        prefix,
        id: &opts.run_id,
        gc_grace,
    };
    run_to_store(&run, |sink| {
        package_streaming(demux, opts, sink, progress).map_err(anyhow::Error::from)
    })
}

/// Where and how one run goes into storage.
pub struct Run<'a> {
    pub rt: &'a tokio::runtime::Handle,
    pub store: Arc<dyn ObjectStore>,
    pub prefix: &'a str,
    pub id: &'a str,
    pub gc_grace: Duration,
}

/// One run into storage: marker, then `write` (the packager: segments, init segments and key
/// files upload as they come, playlists are held back), then media playlists, master (the
/// commit point), then [`runs::collect`] with the grace. A run that fails or is interrupted
/// before its master deletes what it uploaded (the stored master still names the previous
/// run) and is an error; once the master is stored the run is done, whatever the collection.
pub fn run_to_store<T>(
    run: &Run<'_>,
    write: impl FnOnce(&mut dyn StreamStore) -> Result<T>,
) -> Result<(T, GcReport)> {
    let (rt, store, prefix, id) = (run.rt, &run.store, run.prefix, run.id);
    rt.block_on(runs::mark_started(store.as_ref(), prefix, id))
        .context("cannot write to storage")?;
    let mut sink = Interruptible(ObjectSink::new(rt.clone(), Arc::clone(store), prefix, id));
    let written = write(&mut sink).and_then(|t| {
        if interrupt::requested() {
            return Err(Interrupted.into());
        }
        sink.0.finish().context("uploading the playlists")?;
        Ok(t)
    });
    drop(sink);
    let written = match written {
        Ok(t) => t,
        Err(e) => {
            if let Err(cleanup) = rt.block_on(runs::discard(store, prefix, id)) {
                tracing::warn!(run = id, error = %cleanup, "cannot delete the failed run's objects");
            }
            if interrupt::requested() {
                return Err(Interrupted.into());
            }
            return Err(e);
        }
    };
    // The run is committed: a collection that fails leaves old runs for the next one (their
    // markers stay), it does not fail the run (its key files must still be reported).
    let collected = rt.block_on(runs::collect(
        store,
        prefix,
        id,
        run.gc_grace,
        SystemTime::now(),
    ));
    let report = collected.unwrap_or_else(|e| {
        tracing::warn!(run = id, error = %e, "committed; old runs not collected (the next run will)");
        GcReport::default()
    });
    Ok((written, report))
}

/// [`run_to_store`] with an S3 client from the AWS environment (or the config file) and a
/// runtime of its own; logs what the collection of old runs did.
pub fn run_to_url<T>(
    url: &StorageUrl,
    run_id: &str,
    gc_grace: Duration,
    write: impl FnOnce(&mut dyn StreamStore) -> Result<T>,
) -> Result<T> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let run = Run {
        rt: rt.handle(),
        store: s3_from_env(url, Role::Write)?,
        prefix: &url.prefix,
        id: run_id,
        gc_grace,
    };
    let (written, report) = run_to_store(&run, write).with_context(|| url.to_string())?;
    for run in &report.superseded {
        tracing::info!(
            run,
            grace_secs = gc_grace.as_secs(),
            "previous run superseded; deleted by a later run after the grace"
        );
    }
    for run in &report.deleted {
        tracing::info!(run, "old run deleted");
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{self, OpenOptions};
    use object_store::path::Path;
    use object_store::ObjectStoreExt;
    use origin::source::store::counting::CountingStore;
    use std::path::Path as FsPath;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn run(
        rt: &tokio::runtime::Runtime,
        store: &Arc<CountingStore>,
        run: &str,
        single_file: bool,
        grace: Duration,
    ) -> GcReport {
        let mut demux = input::open(
            FsPath::new("media/sample.mp4"),
            &OpenOptions {
                allow_truncated: false,
                drop_bad_samples: false,
            },
        )
        .expect("open");
        let opts = PackageOptions {
            run_id: run.into(),
            single_file,
            segment_duration: 2.0,
            ..PackageOptions::default()
        };
        let dyn_store: Arc<dyn ObjectStore> = Arc::clone(store) as _;
        let (summary, report) = package_to_store(
            rt.handle(),
            dyn_store,
            "vod/clip",
            demux.as_mut(),
            &opts,
            grace,
            &mut |_| {},
        )
        .expect("package");
        assert!(summary.segments > 1);
        report
    }

    fn text(rt: &tokio::runtime::Runtime, store: &CountingStore, key: &str) -> String {
        rt.block_on(async {
            let got = store.get(&Path::from(key)).await.expect(key);
            String::from_utf8(got.bytes().await.expect("bytes").to_vec()).expect("utf-8")
        })
    }

    fn exists(rt: &tokio::runtime::Runtime, store: &CountingStore, key: &str) -> bool {
        rt.block_on(store.head(&Path::from(key))).is_ok()
    }

    #[test]
    fn upload_order_and_the_master_names_the_run() {
        let rt = runtime();
        for single_file in [false, true] {
            let store = Arc::new(CountingStore::default());
            run(&rt, &store, "r1", single_file, Duration::from_secs(600));
            let puts: Vec<String> = store
                .log()
                .into_iter()
                .filter_map(|l| l.strip_prefix("put ").map(str::to_owned))
                .collect();
            let pos = |key: &str| puts.iter().position(|p| p == key).expect(key);
            let master = pos("vod/clip/master.m3u8");
            assert_eq!(master, puts.len() - 1, "master last: {puts:?}");
            let media = pos("vod/clip/r1/stream.m3u8");
            let iframes = pos("vod/clip/r1/stream_iframes.m3u8");
            let media_objects: Vec<usize> = puts
                .iter()
                .enumerate()
                .filter(|(_, p)| p.ends_with(".m4s") || p.ends_with(".mp4"))
                .map(|(i, _)| i)
                .collect();
            assert!(!media_objects.is_empty());
            assert!(
                media_objects.iter().all(|&i| i < media && i < iframes),
                "segments before playlists: {puts:?}"
            );
            // Every object the playlists name exists (m3u8-rs reads them).
            let m = text(&rt, &store, "vod/clip/master.m3u8");
            let master = m3u8_rs::parse_master_playlist_res(m.as_bytes()).expect("master");
            assert_eq!(master.variants[0].uri, "r1/stream.m3u8");
            let p = text(&rt, &store, "vod/clip/r1/stream.m3u8");
            let media = m3u8_rs::parse_media_playlist_res(p.as_bytes()).expect("media");
            for seg in &media.segments {
                assert!(
                    exists(&rt, &store, &format!("vod/clip/r1/{}", seg.uri)),
                    "{}",
                    seg.uri
                );
            }
            assert!(exists(&rt, &store, "vod/clip/.hlsorigin/runs/r1"));
        }
    }

    #[test]
    fn old_runs_are_deleted_after_the_grace_never_before() {
        let rt = runtime();
        let store = Arc::new(CountingStore::default());
        let hour = Duration::from_secs(3600);
        assert_eq!(run(&rt, &store, "r1", false, hour), GcReport::default());
        let r2 = run(&rt, &store, "r2", false, hour);
        assert_eq!(r2.superseded, ["r1"]);
        assert!(
            exists(&rt, &store, "vod/clip/r1/stream.m3u8"),
            "within the grace"
        );
        let r3 = run(&rt, &store, "r3", false, hour);
        assert_eq!(
            (r3.superseded, r3.waiting),
            (vec!["r2".to_owned()], vec!["r1".to_owned()])
        );
        assert!(exists(&rt, &store, "vod/clip/r1/stream.m3u8"));
        // Grace 0: runs superseded before are deleted, the one superseded now waits.
        let r4 = run(&rt, &store, "r4", false, Duration::ZERO);
        let mut deleted = r4.deleted.clone();
        deleted.sort();
        assert_eq!(deleted, ["r1", "r2"]);
        assert_eq!(r4.superseded, ["r3"]);
        let left: Vec<String> = rt.block_on(async {
            use futures_util::TryStreamExt;
            let all: Vec<_> = store.list(None).try_collect().await.expect("list");
            all.into_iter().map(|m| m.location.to_string()).collect()
        });
        assert!(
            left.iter()
                .all(|k| !k.contains("/r1/") && !k.contains("/r2/")),
            "{left:?}"
        );
        assert!(left.iter().any(|k| k.contains("/r3/")));
        assert!(!exists(&rt, &store, "vod/clip/.hlsorigin/runs/r1"));
        assert!(text(&rt, &store, "vod/clip/master.m3u8").contains("r4/stream.m3u8"));
    }

    #[test]
    fn a_failed_collection_does_not_fail_the_committed_run() {
        let rt = runtime();
        let store = Arc::new(CountingStore::default());
        run(&rt, &store, "r1", false, Duration::ZERO);
        // Listing the run markers fails: r2 is committed all the same, r1 stays for later.
        store.fail_matching(Some("list vod/clip/.hlsorigin/runs"));
        let report = run(&rt, &store, "r2", false, Duration::ZERO);
        assert_eq!(report, GcReport::default());
        assert!(store.count("list vod/clip/.hlsorigin/runs") > 0);
        assert!(text(&rt, &store, "vod/clip/master.m3u8").contains("r2/stream.m3u8"));
        assert!(exists(&rt, &store, "vod/clip/r1/stream.m3u8"));
        // The next run collects: r1 marked superseded (never before it was), then deleted.
        store.fail_matching(None);
        assert_eq!(
            run(&rt, &store, "r3", false, Duration::ZERO)
                .superseded
                .len(),
            2
        );
        let r4 = run(&rt, &store, "r4", false, Duration::ZERO);
        assert!(r4.deleted.contains(&"r1".to_owned()), "{r4:?}");
    }

    #[test]
    fn a_failed_run_leaves_the_old_master_and_nothing_else() {
        let rt = runtime();
        let store = Arc::new(CountingStore::default());
        run(&rt, &store, "r1", false, Duration::ZERO);
        let before = text(&rt, &store, "vod/clip/master.m3u8");
        // The input fails half-way: packaging stops after some uploads.
        let inner = input::open(
            FsPath::new("media/sample.mp4"),
            &OpenOptions {
                allow_truncated: false,
                drop_bad_samples: false,
            },
        )
        .expect("open");
        let mut demux = FailAfter { inner, left: 200 };
        let opts = PackageOptions {
            run_id: "r2".into(),
            ..PackageOptions::default()
        };
        let dyn_store: Arc<dyn ObjectStore> = Arc::clone(&store) as _;
        let got = package_to_store(
            rt.handle(),
            dyn_store,
            "vod/clip",
            &mut demux,
            &opts,
            Duration::ZERO,
            &mut |_| {},
        );
        assert!(
            store.count("put vod/clip/r2/") > 0,
            "some objects were uploaded"
        );
        assert!(got.is_err());
        assert_eq!(text(&rt, &store, "vod/clip/master.m3u8"), before);
        let left: Vec<String> = rt.block_on(async {
            use futures_util::TryStreamExt;
            let all: Vec<_> = store.list(None).try_collect().await.expect("list");
            all.into_iter().map(|m| m.location.to_string()).collect()
        });
        assert!(left.iter().all(|k| !k.contains("r2")), "{left:?}");
    }

    /// A demuxer whose input fails after `left` samples.
    struct FailAfter {
        inner: Box<dyn Demuxer>,
        left: usize,
    }

    impl Demuxer for FailAfter {
        fn tracks(&self) -> &[media::sample::TrackInfo] {
            self.inner.tracks()
        }
        fn next_sample(&mut self) -> media::Result<Option<media::sample::Sample>> {
            if self.left == 0 {
                return Err(media::Error::io("test input", std::io::Error::other("cut")));
            }
            self.left -= 1;
            self.inner.next_sample()
        }
    }
}
