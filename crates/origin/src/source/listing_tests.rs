// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`ObjectSource::list_offered`]: the files a directory tree offers beside its streams, the
//! same from files under a root ([`FsSource`]) and from object storage ([`StoreSource`]).

use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::store::StoreSource;
use super::{FsSource, Listing, ObjectSource};

/// (tree, streams listed, files offered): the offer is the just-in-time one (media files and
/// `.json`).
const CASES: &[(&[&str], &[&str], &[&str])] = &[
    (
        &[
            "a.mp4",
            "lib/b.MOV",
            "lib/notes.txt",
            "lib/deep/c.json",
            ".hidden/d.mp4",
            "lib/.e.mp4",
            "pkg/master.m3u8",
            "pkg/init.mp4",
            "pkg/v/stream.m3u8",
            "pkg/v/seg.m4s",
            "pkg/audio/seg.ts",
            "rec/show.ts",
            "x/y/z/w/deep.mp4",
            "x/y/z/w/u/deeper.mp4",
        ],
        &["pkg/master.m3u8"],
        &[
            "a.mp4",
            "lib/b.MOV",
            "lib/deep/c.json",
            "rec/show.ts",
            "x/y/z/w/deep.mp4",
        ],
    ),
    // A top-level playlist hides the root's own files (its segments), not its directories'.
    (
        &["top.m3u8", "top0.ts", "a.mp4", "lib/b.m4v"],
        &["top.m3u8"],
        &["lib/b.m4v"],
    ),
    (&["empty.txt"], &[], &[]),
];

fn want(streams: &[&str], files: &[&str]) -> Listing {
    Listing {
        streams: streams.iter().map(|s| s.to_string()).collect(),
        files: files.iter().map(|s| s.to_string()).collect(),
    }
}

#[tokio::test]
async fn files_under_a_root_offer_what_no_stream_holds() {
    for (n, (tree, streams, files)) in CASES.iter().enumerate() {
        let root =
            std::env::temp_dir().join(format!("hlsorigin-listing-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for path in *tree {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"x").unwrap();
        }
        let source = FsSource::new(&root).unwrap();
        let got = source.list_offered(crate::jit::offered).await.unwrap();
        assert_eq!(got, want(streams, files), "case {n}: {tree:?}");
        assert_eq!(source.list_streams().await.unwrap(), got.streams);
        let _ = std::fs::remove_dir_all(&root);
    }
}

#[tokio::test]
async fn object_storage_offers_the_same() {
    for (n, (tree, streams, files)) in CASES.iter().enumerate() {
        let store = Arc::new(InMemory::new());
        for path in *tree {
            let key = Key::from(format!("vod/{path}"));
            store
                .put(&key, PutPayload::from_static(b"x"))
                .await
                .unwrap();
        }
        store
            .put(&Key::from("other/z.mp4"), PutPayload::from_static(b"x"))
            .await
            .unwrap();
        let source = StoreSource::new(store as Arc<dyn ObjectStore>, "vod");
        let got = source.list_offered(crate::jit::offered).await.unwrap();
        assert_eq!(got, want(streams, files), "case {n}: {tree:?}");
        assert_eq!(source.list_streams().await.unwrap(), got.streams);
    }
}
