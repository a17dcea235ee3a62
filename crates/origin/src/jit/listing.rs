// SPDX-License-Identifier: MIT OR Apache-2.0
//! The just-in-time streams the index page and `/api/streams` offer: every media file and
//! mapping file of the inner source outside the directories of HLS streams
//! ([`ObjectSource::list_offered`]), each as `FILE/master.m3u8` beside the packaged streams.
//! A mapping file is offered only if it parses and resolves as one. Listing plans nothing:
//! until a stream's master is first asked for, its entry carries no details
//! ([`ObjectSource::would_package`]). A JSON file is read to tell a mapping file only when it
//! is new or its ETag changed ([`Verdicts`]).

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Mutex;

use axum::http::HeaderValue;

use super::ladder::{read_whole, MAX_MAPPING_BYTES};
use super::{mapping, url};
use crate::path::ObjectPath;
use crate::source::ObjectSource;

/// Most streams listed (as the sources' own listings).
const LIST_MAX_STREAMS: usize = 1000;

/// Whether each JSON file listed is a mapping file, with the ETag of the version judged: a
/// listing (every `/api/streams` request) opens each JSON file but reads only new or changed
/// ones. Holds the files of the last listing only.
#[derive(Debug, Default)]
pub(super) struct Verdicts(Mutex<HashMap<String, (HeaderValue, bool)>>);

impl Verdicts {
    fn get(&self, file: &str, etag: &HeaderValue) -> Option<bool> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(file).filter(|(e, _)| e == etag).map(|&(_, v)| v)
    }

    fn put(&self, file: &str, etag: HeaderValue, verdict: bool) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(file.to_owned(), (etag, verdict));
    }

    /// Forgets the files not in `listed`.
    fn keep(&self, listed: &HashSet<&str>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|file, _| listed.contains(file.as_str()));
    }
}

/// The streams of `inner` and the just-in-time streams of its files, sorted.
pub(super) async fn list_streams<S: ObjectSource>(
    inner: &S,
    verdicts: &Verdicts,
) -> io::Result<Vec<String>> {
    let listing = inner.list_offered(url::offered).await?;
    let mut streams = listing.streams;
    let mut judged = HashSet::new();
    // The packaged streams first: the files fill what room the bound leaves.
    for file in &listing.files {
        if streams.len() >= LIST_MAX_STREAMS {
            break;
        }
        let name = file.rsplit('/').next().unwrap_or(file);
        if url::is_mapping(name) {
            judged.insert(file.as_str());
            if !is_mapping_object(inner, file, verdicts).await {
                continue;
            }
        }
        streams.push(format!("{file}/master.m3u8"));
    }
    verdicts.keep(&judged);
    streams.sort();
    Ok(streams)
}

/// Whether the JSON file at `file` is a mapping file whose paths resolve (read only if
/// `verdicts` has no verdict for its ETag).
async fn is_mapping_object<S: ObjectSource>(inner: &S, file: &str, verdicts: &Verdicts) -> bool {
    let Ok(path) = ObjectPath::from_request_path(&format!("/{file}")) else {
        return false;
    };
    let Ok(object) = inner.open(&path).await else {
        return false;
    };
    let etag = object.meta.etag.clone();
    if let Some(verdict) = verdicts.get(file, &etag) {
        return verdict;
    }
    let verdict = read_whole(&object, file, MAX_MAPPING_BYTES)
        .await
        .is_ok_and(|text| is_mapping_file(file, &text));
    verdicts.put(file, etag, verdict);
    verdict
}

/// Whether `text`, the JSON file `name`, is a mapping file (README "Just-in-time packaging")
/// whose paths resolve.
pub fn is_mapping_file(name: &str, text: &[u8]) -> bool {
    let Ok(path) = ObjectPath::from_request_path(&format!("/{name}")) else {
        return false;
    };
    mapping::parse(name, text)
        .and_then(|m| mapping::resolve(&m, &path))
        .is_ok()
}
