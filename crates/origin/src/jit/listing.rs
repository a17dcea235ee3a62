// SPDX-License-Identifier: MIT OR Apache-2.0
//! The just-in-time streams the index page and `/api/streams` offer: every media file and
//! mapping file of the inner source outside the directories of HLS streams
//! ([`ObjectSource::list_offered`]), each as `FILE/master.m3u8` beside the packaged streams.
//! A mapping file is offered only if it parses and resolves as one. Listing plans nothing:
//! until a stream's master is first asked for, its entry carries no details
//! ([`ObjectSource::would_package`]).

use std::io;

use super::ladder::{read_whole, MAX_MAPPING_BYTES};
use super::{mapping, url};
use crate::path::ObjectPath;
use crate::source::ObjectSource;

/// Most streams listed (as the sources' own listings).
const LIST_MAX_STREAMS: usize = 1000;

/// The streams of `inner` and the just-in-time streams of its files, sorted.
pub(super) async fn list_streams<S: ObjectSource>(inner: &S) -> io::Result<Vec<String>> {
    let listing = inner.list_offered(url::offered).await?;
    let mut streams = listing.streams;
    // The packaged streams first: the files fill what room the bound leaves.
    for file in listing.files {
        if streams.len() >= LIST_MAX_STREAMS {
            break;
        }
        let name = file.rsplit('/').next().unwrap_or(&file);
        if url::is_mapping(name) && !is_mapping_object(inner, &file).await {
            continue;
        }
        streams.push(format!("{file}/master.m3u8"));
    }
    streams.sort();
    Ok(streams)
}

/// Whether the JSON file at `file` is a mapping file whose paths resolve.
async fn is_mapping_object<S: ObjectSource>(inner: &S, file: &str) -> bool {
    let Ok(path) = ObjectPath::from_request_path(&format!("/{file}")) else {
        return false;
    };
    let Ok(object) = inner.open(&path).await else {
        return false;
    };
    read_whole(&object, file, MAX_MAPPING_BYTES)
        .await
        .is_ok_and(|text| is_mapping_file(file, &text))
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
