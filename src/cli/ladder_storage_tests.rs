// SPDX-License-Identifier: MIT OR Apache-2.0
//! A ladder into object storage (in memory, every request recorded): the upload order readers
//! rely on — segments, init segments, subtitles and keys first, media playlists next,
//! `master.m3u8` last (the commit point) — and every URI the playlists name is stored.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use origin::source::store::counting::CountingStore;

use super::*;
use crate::storage::vod::{run_to_store, Run};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: PackageArgs,
}

fn text(rt: &tokio::runtime::Runtime, store: &CountingStore, key: &str) -> String {
    rt.block_on(async {
        let got = store.get(&Path::from(key)).await.expect(key);
        String::from_utf8(got.bytes().await.expect("bytes").to_vec()).expect("utf-8")
    })
}

#[test]
fn an_encrypted_ladder_uploads_the_master_last() {
    for single_file in [false, true] {
        one_ladder(single_file);
    }
}

fn one_ladder(single_file: bool) {
    let dir = std::env::temp_dir().join(format!(
        "hlsorigin-ladder-s3-{}-{single_file}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let vtt = dir.join("en.vtt");
    std::fs::write(&vtt, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhello\n").expect("vtt");
    let mut argv = vec![
        "t".to_owned(),
        "media/sample.mp4".into(),
        "media/sample.mp4".into(),
        "-o".into(),
        "s3://b/v".into(),
        "--format".into(),
        "ts".into(),
        "--segment-duration".into(),
        "2".into(),
        "--encrypt".into(),
        "aes-128".into(),
        "--subtitles".into(),
        format!("{},lang=en", vtt.display()),
    ];
    if single_file {
        argv.push("--single-file".into());
    }
    let cli = Cli::parse_from(argv);
    let args = cli.args;
    let keys = args.encrypt.keys().expect("keys").expect("asked for");
    let mut opts = super::super::package::options(&args);
    opts.run_id = "r1".into();
    opts.encryption = Some(keys.encryption.clone());
    let open = OpenOptions {
        allow_truncated: false,
        drop_bad_samples: false,
    };
    let subs = vec![
        subtitles::read(parse_all(&args.subtitles, true).expect("spec").remove(0))
            .expect("subtitles"),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = Arc::new(CountingStore::default());
    let run = Run {
        rt: rt.handle(),
        store: Arc::clone(&store) as Arc<dyn ObjectStore>,
        prefix: "v",
        id: "r1",
        gc_grace: Duration::from_secs(600),
    };
    let (written, _) = run_to_store(&run, |sink| {
        let w = build(&args, &opts, &open, Vec::new(), subs, sink)?;
        storage_keys::write(&keys, sink, &dir, "r1", w.segments)?;
        Ok(w)
    })
    .expect("package");
    assert_eq!(written.videos.len(), 2);
    let puts: Vec<String> = store
        .log()
        .into_iter()
        .filter_map(|l| l.strip_prefix("put v/r1/").map(str::to_owned))
        .collect();
    let last = store.log().into_iter().rfind(|l| l.starts_with("put "));
    assert_eq!(last.as_deref(), Some("put v/master.m3u8"), "{puts:?}");
    let first_playlist = puts
        .iter()
        .position(|p| p.ends_with(".m3u8"))
        .expect("playlists");
    assert!(
        puts[first_playlist..].iter().all(|p| p.ends_with(".m3u8")),
        "single file {single_file}: every segment, subtitle and key before the first playlist: {puts:?}"
    );
    assert!(
        puts[..first_playlist].contains(&"key_0.bin".to_owned()),
        "{puts:?}"
    );
    assert!(puts.iter().any(|p| p.ends_with(".vtt")), "{puts:?}");
    // Every URI the playlists name is stored (m3u8-rs reads them).
    let master = text(&rt, &store, "v/master.m3u8");
    let master = m3u8_rs::parse_master_playlist_res(master.as_bytes()).expect("master");
    let mut named: Vec<String> = master.variants.iter().map(|v| v.uri.clone()).collect();
    named.extend(master.alternatives.iter().filter_map(|a| a.uri.clone()));
    for uri in named.clone() {
        let pl = text(&rt, &store, &format!("v/{uri}"));
        let pl = m3u8_rs::parse_media_playlist_res(pl.as_bytes()).expect("media");
        for s in &pl.segments {
            named.push(format!("r1/{}", s.uri));
            named.extend(
                s.key
                    .as_ref()
                    .and_then(|k| k.uri.clone())
                    .map(|u| format!("r1/{u}")),
            );
        }
    }
    named.extend(master.session_key.iter().filter_map(|k| k.0.uri.clone()));
    assert!(named.contains(&"r1/key_0.bin".to_owned()), "{named:?}");
    for uri in named {
        assert!(
            rt.block_on(store.head(&Path::from(format!("v/{uri}"))))
                .is_ok(),
            "{uri}"
        );
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
