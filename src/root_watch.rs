// SPDX-License-Identifier: MIT OR Apache-2.0
//! `serve` as an event producer: watches ROOT (notify, recursive) and publishes
//! `stream.added` when a `NAME/master.m3u8` appears under it (written by another program:
//! ffmpeg, `hlsorigin package -o ROOT/NAME`…) or a media or mapping file served just in time
//! (`NAME.mp4`, stream `NAME.mp4`, playlist `NAME.mp4/master.m3u8`, kind `vod`), once it has
//! gone unwritten for [`QUIET`]; and `stream.removed` when it goes.
//!
//! - Only `serve` runs it: `live --listen` and the default run announce the streams they
//!   make themselves, so nothing is announced twice.
//! - Streams already there at start are not announced (the snapshot lists them); their
//!   removal is.
//! - `session` is derived from the master's identity (device, inode, modification time when
//!   first seen), so the same file gives the same id across restarts of the server; a master
//!   replaced by another file (a new packaging run renamed into place) is announced again with
//!   its new session; one rewritten in place is not.
//! - notify events only wake a rescan of ROOT's directories (after a short pause that
//!   collects a burst of writes); a rescan every [`RESCAN`] also catches what a watch set up
//!   too late for a new directory missed. Hidden directories (`.NAME.tmp-…` of a packaging
//!   run in progress) are skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use notify::{RecursiveMode, Watcher};
use origin::events::{Events, Payload, StreamKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Longest time between two rescans.
const RESCAN: Duration = Duration::from_secs(2);
/// Pause after a change before rescanning (writes come in bursts).
const SETTLE: Duration = Duration::from_millis(150);
/// How long a file must have gone unwritten to be announced (a copy in progress is not).
const QUIET: Duration = Duration::from_secs(1);
/// Most bytes of a playlist read to tell its kind.
const MAX_PLAYLIST: u64 = 1 << 20;

/// The running watcher; dropping it stops it.
pub struct RootWatch {
    _watcher: notify::RecommendedWatcher,
    task: JoinHandle<()>,
}

impl Drop for RootWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `root`, publishing into `events`.
pub fn start(root: &Path, events: Events) -> Result<RootWatch> {
    let (tx, rx) = mpsc::unbounded_channel();
    // notify calls this on its own thread: forward only.
    let mut watcher = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
        let _ = tx.send(());
    })
    .context("cannot watch the root for new streams")?;
    watcher
        .watch(root, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {} for new streams", root.display()))?;
    let known = scan(root, &Seen::new());
    let task = tokio::spawn(follow(root.to_path_buf(), events, known, rx));
    Ok(RootWatch {
        _watcher: watcher,
        task,
    })
}

/// A stream seen under the root, by name.
type Seen = BTreeMap<String, Master>;

/// The identity of a stream's master file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Master {
    /// Device and inode: a master replaced by another file (renamed into place) is a new run;
    /// one rewritten in place (new mtime) is not.
    file: (u64, u64),
    /// From the file's identity when first seen.
    session: String,
    /// A media or mapping file served just in time (a VOD), not a directory.
    just_in_time: bool,
}

async fn follow(
    root: PathBuf,
    events: Events,
    mut known: Seen,
    mut changes: mpsc::UnboundedReceiver<()>,
) {
    loop {
        if let Ok(None) = tokio::time::timeout(RESCAN, changes.recv()).await {
            return;
        }
        tokio::time::sleep(SETTLE).await;
        while changes.try_recv().is_ok() {}
        let scan_root = root.clone();
        let last = known.clone();
        let Ok(now) = tokio::task::spawn_blocking(move || scan(&scan_root, &last)).await else {
            return;
        };
        known = publish_changes(&root, &events, known, now);
    }
}

/// Publishes what changed from `known` to `now`; returns what is known now (a stream whose
/// master is the same file keeps its session).
fn publish_changes(root: &Path, events: &Events, known: Seen, now: Seen) -> Seen {
    for (name, old) in &known {
        if !now.contains_key(name) {
            events.publish(name, &old.session, Payload::StreamRemoved);
        }
    }
    now.into_iter()
        .map(|(name, master)| match known.get(&name) {
            Some(old) if old.file == master.file => (name, old.clone()),
            _ => {
                let kind = if master.just_in_time {
                    StreamKind::Vod
                } else {
                    stream_kind(&root.join(&name))
                };
                let playlist = format!("{name}/master.m3u8");
                let added = Payload::StreamAdded { kind, playlist };
                events.publish(&name, &master.session, added);
                (name, master)
            }
        })
        .collect()
}

/// The streams under `root`: directories with a `master.m3u8`, and the files served just in
/// time ([`origin::jit::offered`]: media files, mapping files that parse as one) unless a
/// top-level playlist makes the root a stream's directory (as `/api/streams` lists them).
/// A file written in the last [`QUIET`] is not yet seen (a copy in progress). `known`: what
/// the last scan saw.
fn scan(root: &Path, known: &Seen) -> Seen {
    let Ok(dir) = std::fs::read_dir(root) else {
        return Seen::new();
    };
    let mut seen = Seen::new();
    let mut files = Seen::new();
    let mut root_playlist = false;
    for entry in dir.filter_map(Result::ok) {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !kind.is_file() {
            // A directory, or a link to one: a stream if it has a master.
            let Ok(meta) = std::fs::metadata(entry.path().join("master.m3u8")) else {
                continue;
            };
            if meta.is_file() {
                seen.insert(name, master_of(&meta));
            }
        } else if name.ends_with(".m3u8") {
            root_playlist = true;
        } else if origin::jit::offered(&name) {
            let Ok(meta) = entry.metadata() else { continue };
            let quiet = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age >= QUIET);
            let file = Master {
                just_in_time: true,
                ..master_of(&meta)
            };
            // A mapping file is read once per file: the same one seen before is one still.
            let json = name.to_ascii_lowercase().ends_with(".json");
            let seen_before = known.get(&name).is_some_and(|k| k == &file);
            if quiet && (!json || seen_before || mapping(&entry.path(), meta.len())) {
                files.insert(name, file);
            }
        }
    }
    if !root_playlist {
        seen.extend(files);
    }
    seen
}

/// Whether the JSON file at `path`, `len` bytes long, is a mapping file (one larger than
/// the origin reads is not).
fn mapping(path: &Path, len: u64) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    len <= origin::jit::MAX_MAPPING_BYTES
        && std::fs::read(path).is_ok_and(|text| origin::jit::is_mapping_file(name, &text))
}

/// A master's identity; its session is FNV-1a over device, inode and modification time.
fn master_of(meta: &std::fs::Metadata) -> Master {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    #[cfg(unix)]
    let (dev, ino) = {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let (dev, ino) = (0u64, mtime.as_nanos() as u64);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let words = [dev, ino, mtime.as_secs(), u64::from(mtime.subsec_nanos())];
    for byte in words.iter().flat_map(|w| w.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Master {
        file: (dev, ino),
        session: format!("{hash:016x}"),
        just_in_time: false,
    }
}

/// VOD, EVENT or live, from the first media playlist the master lists (RFC 8216bis 4.4.3.5
/// EXT-X-PLAYLIST-TYPE, 4.4.3.4 EXT-X-ENDLIST); a master that is itself a media playlist is
/// read as one. Unreadable: live (a live packager writes the master before its playlists).
fn stream_kind(dir: &Path) -> StreamKind {
    let Some(master) = read_playlist(&dir.join("master.m3u8")) else {
        return StreamKind::Live;
    };
    let media = if master.contains("#EXTINF:") {
        Some(master)
    } else {
        first_uri(&master).and_then(|uri| read_playlist(&dir.join(uri)))
    };
    match media {
        Some(text) if text.contains("#EXT-X-PLAYLIST-TYPE:EVENT") => StreamKind::Event,
        Some(text) if text.contains("#EXT-X-ENDLIST") => StreamKind::Vod,
        Some(text) if text.contains("#EXT-X-PLAYLIST-TYPE:VOD") => StreamKind::Vod,
        _ => StreamKind::Live,
    }
}

/// The first URI line of a multivariant playlist (RFC 8216bis 4.1: lines not starting with
/// `#`), if it is a relative path below the stream's directory.
fn first_uri(master: &str) -> Option<&str> {
    let uri = master
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    let below =
        !uri.contains("://") && !uri.starts_with('/') && !uri.split('/').any(|part| part == "..");
    below.then(|| uri.split(['?', '#']).next().unwrap_or(uri))
}

fn read_playlist(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_PLAYLIST)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use origin::events::{Filter, Item, Subscription};

    async fn next(sub: &mut Subscription) -> serde_json::Value {
        let item = tokio::time::timeout(Duration::from_secs(20), sub.recv())
            .await
            .expect("an event within 20 s")
            .expect("subscribed");
        match item {
            Item::Event(e) => serde_json::from_str(e.json()).expect("JSON"),
            Item::Resync(s) => panic!("resync {s}"),
        }
    }

    fn write_stream(dir: &Path, media: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("v.m3u8"), media).unwrap();
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nv.m3u8\n";
        std::fs::write(dir.join("master.m3u8"), master).unwrap();
    }

    #[tokio::test]
    async fn streams_appearing_and_going_are_announced() {
        let root = tempfile::tempdir().unwrap();
        let vod = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n";
        write_stream(&root.path().join("old"), vod);
        let events = Events::default();
        let mut sub = events.subscribe(None, Filter::default()).unwrap();
        let _watch = start(root.path(), events.clone()).unwrap();

        write_stream(&root.path().join("talk"), vod);
        let added = next(&mut sub).await;
        assert_eq!(added["type"], "stream.added");
        assert_eq!(added["stream"], "talk");
        assert_eq!(added["data"]["kind"], "vod");
        assert_eq!(added["data"]["playlist"], "talk/master.m3u8");
        let event = "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:2,\na.ts\n";
        write_stream(&root.path().join("show"), event);
        let show = next(&mut sub).await;
        assert_eq!(
            (&show["stream"], &show["data"]["kind"]),
            (&"show".into(), &"event".into())
        );

        // Rewritten in place: the same stream. Replaced by another file: a new run.
        let master = root.path().join("show/master.m3u8");
        let text = std::fs::read_to_string(&master).unwrap();
        std::fs::write(&master, format!("{text}\n")).unwrap();
        let tmp = root.path().join("talk/.master.tmp");
        std::fs::copy(root.path().join("talk/master.m3u8"), &tmp).unwrap();
        std::fs::rename(&tmp, root.path().join("talk/master.m3u8")).unwrap();
        let again = next(&mut sub).await;
        assert_eq!(
            (&again["type"], &again["stream"]),
            (&"stream.added".into(), &"talk".into())
        );
        assert_ne!(again["session"], added["session"]);

        std::fs::remove_dir_all(root.path().join("talk")).unwrap();
        let removed = next(&mut sub).await;
        assert_eq!(removed["type"], "stream.removed");
        assert_eq!(removed["stream"], "talk");
        assert_eq!(removed["session"], again["session"]);
        // A stream there before the start is not announced, but its removal is.
        std::fs::remove_dir_all(root.path().join("old")).unwrap();
        let old = next(&mut sub).await;
        assert_eq!(
            (&old["type"], &old["stream"]),
            (&"stream.removed".into(), &"old".into())
        );
        assert!(sub.try_recv().is_none(), "nothing else");
    }

    /// Files served just in time are streams too, once written (not while being written);
    /// a JSON file that is not a mapping file is not, nor a file in a stream's directory.
    #[tokio::test]
    async fn files_served_just_in_time_are_announced() {
        let root = tempfile::tempdir().unwrap();
        let events = Events::default();
        let mut sub = events.subscribe(None, Filter::default()).unwrap();
        let _watch = start(root.path(), events.clone()).unwrap();

        let vod = "#EXTM3U\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n";
        write_stream(&root.path().join("pkg"), vod);
        std::fs::write(root.path().join("pkg/init.mp4"), b"x").unwrap();
        assert_eq!(next(&mut sub).await["stream"], "pkg");
        let started = std::time::Instant::now();
        std::fs::write(root.path().join("movie.MP4"), b"not yet planned").unwrap();
        std::fs::write(root.path().join("package.json"), br#"{"name": "x"}"#).unwrap();
        let movie = next(&mut sub).await;
        // A rescan follows a write within a fraction of a second: this one waited.
        assert!(
            started.elapsed() >= QUIET / 2,
            "announced while being written"
        );
        assert_eq!(
            (&movie["type"], &movie["stream"], &movie["data"]["kind"]),
            (&"stream.added".into(), &"movie.MP4".into(), &"vod".into())
        );
        assert_eq!(movie["data"]["playlist"], "movie.MP4/master.m3u8");
        let mapping = br#"{"videos": ["movie.MP4"], "audio": [{"file": "fr.m4a", "lang": "fr"}]}"#;
        std::fs::write(root.path().join("ladder.json"), mapping).unwrap();
        let ladder = next(&mut sub).await;
        assert_eq!(
            (&ladder["stream"], &ladder["data"]["playlist"]),
            (&"ladder.json".into(), &"ladder.json/master.m3u8".into())
        );
        std::fs::remove_file(root.path().join("movie.MP4")).unwrap();
        let removed = next(&mut sub).await;
        assert_eq!(
            (&removed["type"], &removed["stream"], &removed["session"]),
            (
                &"stream.removed".into(),
                &"movie.MP4".into(),
                &movie["session"]
            )
        );
        assert!(sub.try_recv().is_none(), "nothing else");
    }

    #[test]
    fn kinds_and_uris() {
        let cases = [
            ("#EXTM3U\nhttp://x/a.m3u8\n", None),
            ("#EXTM3U\n../a.m3u8\n", None),
            (
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n\n v/a.m3u8?x=1 \n",
                Some("v/a.m3u8"),
            ),
        ];
        for (master, want) in cases {
            assert_eq!(first_uri(master), want, "{master:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let live = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n";
        write_stream(dir.path(), live);
        assert_eq!(stream_kind(dir.path()), StreamKind::Live);
        assert_eq!(stream_kind(&dir.path().join("none")), StreamKind::Live);
    }
}
