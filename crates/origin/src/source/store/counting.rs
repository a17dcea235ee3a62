// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`CountingStore`]: an in-memory object store that records every request and can be
//! switched "down", for tests of request collapsing, upload order and outages (here and in
//! the binary's tests).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Mutex;

use async_trait::async_trait;
use futures_util::stream::{self, BoxStream, StreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// [`InMemory`] with a log of requests (`"get KEY"`, `"get KEY a-b"` for a range, `"head
/// KEY"`, `"put KEY"`, `"delete KEY"`, `"list PREFIX"`) and an outage switch.
#[derive(Debug, Default)]
pub struct CountingStore {
    inner: InMemory,
    log: std::sync::Arc<Mutex<Vec<String>>>,
    down: AtomicBool,
    /// Requests whose log line starts with this fail (see [`CountingStore::fail_matching`]).
    failing: Mutex<Option<String>>,
}

impl CountingStore {
    /// Every request so far, in order.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Requests whose log line starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.log().iter().filter(|l| l.starts_with(prefix)).count()
    }

    /// While `down`, every request fails as a server that does not answer.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, SeqCst);
    }

    /// While `Some(prefix)`, requests whose log line starts with `prefix` fail as in an outage
    /// (e.g. `"list vod/.hlsorigin/runs"`: one kind of request only).
    pub fn fail_matching(&self, prefix: Option<&str>) {
        if let Ok(mut f) = self.failing.lock() {
            *f = prefix.map(str::to_owned);
        }
    }

    fn record(&self, line: String) -> Result<()> {
        let failing = self
            .failing
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|p| line.starts_with(p.as_str())))
            .unwrap_or(false);
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
        if self.down.load(SeqCst) || failing {
            return Err(object_store::Error::Generic {
                store: "counting",
                source: "connection refused (test outage)".into(),
            });
        }
        Ok(())
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingStore")
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.record(format!("put {location}"))?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.record(format!("put {location}"))?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let line = match (&options.range, options.head) {
            (_, true) => format!("head {location}"),
            (Some(GetRange::Bounded(r)), _) => format!("get {location} {}-{}", r.start, r.end),
            (Some(_), _) => format!("get {location} range"),
            (None, _) => format!("get {location}"),
        };
        self.record(line)?;
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        if self.down.load(SeqCst) {
            let _ = self.record("delete (down)".into());
            return stream::once(async {
                Err(object_store::Error::Generic {
                    store: "counting",
                    source: "connection refused (test outage)".into(),
                })
            })
            .boxed();
        }
        let log = std::sync::Arc::clone(&self.log);
        self.inner
            .delete_stream(locations)
            .map(move |r| {
                if let (Ok(p), Ok(mut log)) = (&r, log.lock()) {
                    log.push(format!("delete {p}"));
                }
                r
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let line = format!("list {}", prefix.map(|p| p.to_string()).unwrap_or_default());
        if let Err(e) = self.record(line) {
            return stream::once(async { Err(e) }).boxed();
        }
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let line = format!(
            "list/ {}",
            prefix.map(|p| p.to_string()).unwrap_or_default()
        );
        self.record(line)?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.record(format!("copy {from} {to}"))?;
        self.inner.copy_opts(from, to, options).await
    }
}
