// SPDX-License-Identifier: MIT OR Apache-2.0
//! Watching `media/` and deciding when to package what.
//!
//! The watcher only reports file names. Every report (re)arms that file's settle timer in one table
//! ([`Pending`]), so a copy that fires a thousand write events is one entry, checked once per
//! [`SETTLE`]: a file is packaged once its size and mtime stayed unchanged for a whole `SETTLE`, and a
//! file that is gone when its timer runs out has its stream removed. (Queueing every event and waiting
//! `SETTLE` for each in turn — the first design — left a backlog of one wait per write event behind
//! any copy that paused: minutes to hours of "up to date" while new files waited behind it.)

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use notify::{EventKind, RecursiveMode, Watcher};
use origin::events::{Events, Payload, StreamKind};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::naming::Names;
use super::progress_events::ProgressEvents;
use super::record::SourceRecord;
use super::{is_video, package_if_stale, remove_stream, usable_name};
use crate::cli::package::new_run_id;

/// How long a file's size and mtime must stay unchanged before it is packaged.
pub const SETTLE: Duration = Duration::from_millis(1500);

/// What a file looked like when last checked: size and mtime.
type Seen = (u64, Option<SystemTime>);

fn stat(path: &Path) -> Option<Seen> {
    let m = std::fs::metadata(path).ok()?;
    m.is_file().then(|| (m.len(), m.modified().ok()))
}

/// A file whose timer ran out.
#[derive(Debug, PartialEq, Eq)]
pub enum Ready {
    /// Unchanged for a whole [`SETTLE`]: package it (if stale).
    Settled(String),
    /// No longer there: remove its stream.
    Gone(String),
}

/// Files waiting to settle, one entry each however many events they fire.
#[derive(Debug, Default)]
pub struct Pending {
    items: HashMap<String, (Instant, Option<Seen>)>,
}

impl Pending {
    /// A file was reported (or found at start) looking like `seen`: check it again `SETTLE` later.
    pub fn touch(&mut self, file: String, seen: Option<Seen>, now: Instant) {
        self.items.insert(file, (now + SETTLE, seen));
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.items.values().map(|(due, _)| *due).min()
    }

    /// Files whose timer ran out by `now`, in file-name order; those still changing are re-armed.
    pub fn take_due(&mut self, now: Instant, stat: impl Fn(&str) -> Option<Seen>) -> Vec<Ready> {
        let mut due: Vec<String> = self
            .items
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(f, _)| f.clone())
            .collect();
        due.sort();
        let mut ready = Vec::new();
        for file in due {
            let current = stat(&file);
            let Some(current) = current else {
                self.items.remove(&file);
                ready.push(Ready::Gone(file));
                continue;
            };
            let entry = self.items.get_mut(&file).expect("listed above");
            if entry.1 == Some(current) && current.0 > 0 {
                self.items.remove(&file);
                ready.push(Ready::Settled(file));
            } else {
                *entry = (now + SETTLE, Some(current));
            }
        }
        ready
    }
}

/// Starts the watcher: it sends the name of every file in `dir` that is created, written, closed
/// after writing, renamed or removed.
pub fn watch(
    dir: &Path,
    tx: mpsc::UnboundedSender<OsString>,
) -> Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        let relevant = matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Modify(_)
                | EventKind::Remove(_)
                | EventKind::Access(notify::event::AccessKind::Close(
                    notify::event::AccessMode::Write
                ))
        );
        if relevant {
            for p in event.paths {
                if let Some(name) = p.file_name() {
                    let _ = tx.send(name.to_owned());
                }
            }
        }
    })
    .context("cannot start the file watcher")?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    Ok(watcher)
}

/// The packaging side of the default run: owns the names, the pending table and the log lines.
pub struct Scheduler {
    /// The media directory as given (for log lines) and canonical (for records).
    pub media: PathBuf,
    pub media_canon: PathBuf,
    pub playlists: PathBuf,
    /// `http://ADDR` of the origin, for the URLs in log lines.
    pub base: String,
    pub names: Names,
    pending: Pending,
    /// Files found at start and not yet checked: "up to date" is said for these only.
    at_start: HashSet<String>,
    /// File names already warned about (not usable), so a copy's events warn once.
    warned: HashSet<OsString>,
    /// The origin's event hub: `stream.added` when a file is packaged, `package.failed`,
    /// `stream.removed` (a hub of its own until the server's is set).
    pub events: Events,
    /// `--playlists s3://…`: streams go to object storage ([`super::storage`]).
    pub storage: Option<std::sync::Arc<super::storage::Stored>>,
}

impl Scheduler {
    pub fn new(media: PathBuf, media_canon: PathBuf, playlists: PathBuf, base: String) -> Self {
        Self {
            media,
            media_canon,
            playlists,
            base,
            names: Names::default(),
            pending: Pending::default(),
            at_start: HashSet::new(),
            warned: HashSet::new(),
            events: Events::default(),
            storage: None,
        }
    }

    /// A file found at start: named now (in file-name order: deterministic), packaged once settled.
    pub fn found_at_start(&mut self, file: String) {
        self.assign(&file);
        self.at_start.insert(file.clone());
        self.touch(file);
    }

    fn touch(&mut self, file: String) {
        let seen = stat(&self.media.join(&file));
        self.pending.touch(file, seen, Instant::now());
    }

    fn reported(&mut self, name: OsString) {
        match usable_name(&name) {
            Ok(file) if is_video(Path::new(&file)) => self.touch(file),
            Ok(_) => {}
            Err(why) => {
                if is_video(Path::new(&name)) && self.warned.insert(name.clone()) {
                    tracing::warn!("{}: skipped: {why}", self.media.join(&name).display());
                }
            }
        }
    }

    /// Runs until the watcher's channel closes.
    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<OsString>) {
        loop {
            let next = self.pending.next_due();
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(name) => self.reported(name),
                    None => break,
                },
                _ = sleep_until(next), if next.is_some() => {
                    let media = self.media.clone();
                    let ready = self.pending.take_due(Instant::now(), |f| stat(&media.join(f)));
                    for r in ready {
                        match r {
                            Ready::Settled(file) => self.package(file).await,
                            Ready::Gone(file) => self.gone(&file),
                        }
                    }
                }
            }
        }
    }

    fn assign(&mut self, file: &str) -> String {
        let a = self.names.assign(file);
        if let Some((plain, owner)) = &a.clash {
            println!(
                "{} is served as {}: the name {plain} belongs to {}",
                self.media.join(file).display(),
                a.name,
                self.media.join(owner).display()
            );
        }
        a.name
    }

    async fn package(&mut self, file: String) {
        let name = self.assign(&file);
        let src = self.media.join(&file);
        let out = self.playlists.join(&name);
        let url = format!("{}/{name}/master.m3u8", self.base);
        let first_check = self.at_start.remove(&file);
        let record = match SourceRecord::of(&self.media_canon, &file) {
            Ok(r) => r,
            Err(e) => return tracing::error!("{}: {e}", src.display()),
        };
        let span = tracing::warn_span!("source", file = %src.display());
        let (s, o) = (src.clone(), out.clone());
        let run = new_run_id();
        let run_here = run.clone();
        let mut progress = ProgressEvents::new(self.events.clone(), &name, &run, &file);
        let (stored, stream) = (self.storage.clone(), name.clone());
        let res = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut on_progress = |p| progress.update(p, Instant::now());
            match stored {
                Some(st) => st.package_if_stale(&s, &stream, &record, run_here, &mut on_progress),
                None => package_if_stale(&s, &o, &record, run_here, &mut on_progress),
            }
        })
        .await;
        let error = match res {
            Ok(Ok(Some(line))) => {
                println!("{line} → {url}");
                let playlist = format!("{name}/master.m3u8");
                let added = Payload::StreamAdded {
                    kind: StreamKind::Vod,
                    playlist,
                };
                self.events.publish(&name, &run, added);
                return;
            }
            Ok(Ok(None)) if first_check => {
                return println!("up to date: {} → {url}", src.display())
            }
            Ok(Ok(None)) => return tracing::debug!("{}: unchanged", src.display()),
            Ok(Err(e)) => one_line(&src, &e),
            Err(e) => format!("{}: packaging task failed: {e}", src.display()),
        };
        tracing::error!("{error}");
        let failed = Payload::PackageFailed { file, error };
        self.events.publish(&name, &run, failed);
    }

    /// The stream `name` left `playlists/` (its source is gone). No run: empty session.
    pub fn removed(&self, name: &str) {
        self.events.publish(name, "", Payload::StreamRemoved);
    }

    fn gone(&mut self, file: &str) {
        self.at_start.remove(file);
        if let Some(name) = self.names.release(file) {
            let src = self.media.join(file);
            let removed = match &self.storage {
                Some(st) => tokio::task::block_in_place(|| {
                    Handle::current().block_on(st.remove_stream(&name, &src))
                }),
                None => remove_stream(&self.playlists, &name, &src),
            };
            if removed {
                self.removed(&name);
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// One log line for a failed source, naming it once: the path contexts the packager adds (`PATH: …`)
/// are dropped from the chain, and the path is put in front unless a message names it already.
pub fn one_line(src: &Path, e: &anyhow::Error) -> String {
    let path = src.display().to_string();
    let msg = e
        .chain()
        .map(|c| c.to_string())
        .filter(|c| *c != path)
        .collect::<Vec<_>>()
        .join(": ");
    if msg.contains(&path) {
        msg
    } else {
        format!("{path}: {msg}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_of_events_is_one_check_per_settle() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        // A copy writing 10 000 pieces, then pausing: one entry, armed from the last event.
        for i in 0..10_000u64 {
            p.touch("big.mp4".into(), Some((i * 8192, None)), t0);
        }
        p.touch("later.mp4".into(), Some((100, None)), t0);
        assert_eq!(p.items.len(), 2);
        let t1 = t0 + SETTLE;
        let ready = p.take_due(t1, |f| {
            Some(if f == "big.mp4" {
                (9_999 * 8192, None)
            } else {
                (100, None)
            })
        });
        assert_eq!(
            ready,
            [
                Ready::Settled("big.mp4".into()),
                Ready::Settled("later.mp4".into())
            ]
        );
        assert_eq!(p.next_due(), None, "nothing left behind");
    }

    #[test]
    fn a_growing_file_waits_and_a_vanished_one_is_gone() {
        let t0 = Instant::now();
        let mut p = Pending::default();
        p.touch("growing.mp4".into(), Some((10, None)), t0);
        p.touch("deleted.mp4".into(), Some((10, None)), t0);
        p.touch("empty.mp4".into(), Some((0, None)), t0);
        let stat = |f: &str| match f {
            "growing.mp4" => Some((20, None)),
            "empty.mp4" => Some((0, None)),
            _ => None,
        };
        assert_eq!(
            p.take_due(t0 + SETTLE, stat),
            [Ready::Gone("deleted.mp4".into())]
        );
        assert_eq!(p.next_due(), Some(t0 + 2 * SETTLE), "re-armed");
        assert_eq!(p.take_due(t0 + SETTLE, stat), [], "not due yet");
        let ready = p.take_due(t0 + 2 * SETTLE, stat);
        assert_eq!(ready, [Ready::Settled("growing.mp4".into())]);
        assert_eq!(p.items.len(), 1, "an empty file is never packaged");
    }

    /// A 2 s H.264 MP4 made by ffmpeg; `None` when ffmpeg (with libx264) is missing.
    fn small_video(path: &Path) -> Option<()> {
        std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi"])
            .args(["-i", "testsrc2=size=160x120:rate=30", "-t", "2"])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "30"])
            .args(["-pix_fmt", "yuv420p"])
            .arg(path)
            .status()
            .ok()?
            .success()
            .then_some(())
    }

    #[tokio::test]
    async fn packaging_reports_stream_added_package_failed_and_stream_removed() {
        use origin::events::{Event, EventType, Filter, Item};
        let tmp = tempfile::tempdir().unwrap();
        let (media, playlists) = (tmp.path().join("media"), tmp.path().join("playlists"));
        std::fs::create_dir_all(&media).unwrap();
        std::fs::create_dir_all(&playlists).unwrap();
        if small_video(&media.join("good.mp4")).is_none() {
            return;
        }
        std::fs::write(media.join("bad.mp4"), b"not a video at all").unwrap();
        let canon = std::fs::canonicalize(&media).unwrap();
        let mut s = Scheduler::new(media.clone(), canon, playlists.clone(), "http://x".into());
        let hub = Events::default();
        s.events = hub.clone();
        let types = [
            EventType::StreamAdded,
            EventType::PackageFailed,
            EventType::StreamRemoved,
        ];
        let mut sub = hub.subscribe(None, Filter::types(types)).unwrap();
        let progress = Filter::types([EventType::PackageProgress]);
        let mut progress = hub.subscribe(None, progress).unwrap();
        let mut next = || match sub.try_recv() {
            Some(Ok(Item::Event(e))) => Some(e),
            _ => None,
        };
        let data = |e: &Event| {
            serde_json::from_str::<serde_json::Value>(e.json()).unwrap()["data"].clone()
        };

        s.package("good.mp4".into()).await;
        let added = next().expect("stream.added");
        assert_eq!(
            (added.event_type, added.stream.as_str()),
            (EventType::StreamAdded, "good")
        );
        assert_eq!(
            data(&added),
            serde_json::json!({"kind": "vod", "playlist": "good/master.m3u8"})
        );
        // The stream is there when it is announced, and the session is the packaging run's
        // id (it names the segments).
        let master = std::fs::read(playlists.join("good/master.m3u8")).unwrap();
        assert!(matches!(
            m3u8_rs::parse_playlist_res(&master),
            Ok(m3u8_rs::Playlist::MasterPlaylist(_))
        ));
        let names: Vec<String> = std::fs::read_dir(playlists.join("good"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .any(|n| n.contains(&format!("_{}", added.session))),
            "{names:?} vs session {}",
            added.session
        );

        // package.progress came first, of the same run (at most once a second: a 2 s
        // video packages in well under a second, so once).
        let Some(Ok(Item::Event(p))) = progress.try_recv() else {
            panic!("package.progress before stream.added");
        };
        assert_eq!((p.stream.as_str(), &p.session), ("good", &added.session));
        assert!(p.seq < added.seq);
        let d = data(&p);
        assert_eq!(d["file"], "good.mp4");
        assert!(
            (0.0..=100.0).contains(&d["percent"].as_f64().unwrap()),
            "{d}"
        );

        // Unchanged: no event.
        s.package("good.mp4".into()).await;
        assert!(next().is_none());

        s.package("bad.mp4".into()).await;
        let failed = next().expect("package.failed");
        assert_eq!(
            (failed.event_type, failed.stream.as_str()),
            (EventType::PackageFailed, "bad")
        );
        let d = data(&failed);
        assert_eq!(d["file"], "bad.mp4");
        let error = d["error"].as_str().unwrap();
        assert_eq!(
            error.matches("bad.mp4").count(),
            1,
            "names the file once: {error}"
        );

        std::fs::remove_file(media.join("good.mp4")).unwrap();
        s.gone("good.mp4");
        let removed = next().expect("stream.removed");
        assert_eq!(
            (removed.event_type, removed.stream.as_str()),
            (EventType::StreamRemoved, "good")
        );
        assert!(!playlists.join("good").exists());
        assert!(next().is_none());
        assert!(added.seq < failed.seq && failed.seq < removed.seq);
        // The file that failed to open reported no progress.
        assert!(progress.try_recv().is_none());
    }

    #[test]
    fn errors_name_the_file_once() {
        let src = Path::new("media/one.mp4");
        let cases = [
            (
                anyhow::anyhow!("MP4: track 1: sample 295 lies beyond end of file")
                    .context("media/one.mp4"),
                "media/one.mp4: MP4: track 1: sample 295 lies beyond end of file",
            ),
            (
                anyhow::anyhow!("No such file or directory").context("cannot open media/one.mp4"),
                "cannot open media/one.mp4: No such file or directory",
            ),
            (anyhow::anyhow!("disk full"), "media/one.mp4: disk full"),
        ];
        for (e, want) in cases {
            assert_eq!(one_line(src, &e), want);
        }
    }
}
