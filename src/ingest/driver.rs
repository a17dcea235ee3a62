// SPDX-License-Identifier: MIT OR Apache-2.0
//! The live driver: [`IngestEvent`]s → `TsDemuxer` or `FlvDemuxer` (RTMP) → `LiveStream` → files in the stream's
//! directory, and every new playlist state to the origin (which wakes blocked requests).
//!
//! - The first samples start the stream; a playlist an earlier run left in the directory is
//!   continued (`LiveStream::recover`: MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE go on, the
//!   gap is marked with EXT-X-DISCONTINUITY), so a packager killed with `kill -9` and
//!   restarted keeps its players.
//! - A new encoder session (TCP reconnect, new UDP sender), a timeline break the demuxer
//!   reports (timestamp jump, signalled discontinuity, PMT change) or an input that comes
//!   back after a silence → EXT-X-DISCONTINUITY (RFC 8216bis 6.2.1), and new tracks →
//!   a new initialization section.
//! - No input for the input timeout → EXT-X-ENDLIST, or (wait policy) the segment in
//!   progress is closed and the playlist waits for the encoder. Input after an ENDLIST
//!   continues the same playlist with a new run.
//! - Garbage and lost packets: the demuxer resyncs and drops what is damaged; the driver
//!   counts and carries on.
//!
//! - One of several renditions ([`DriverConfig::group`]): the stream's playlists report the
//!   other renditions as they stand when fed (EXT-X-RENDITION-REPORT), and every
//!   publication is recorded in the group, which writes the shared `master.m3u8`. Input
//!   loss, ENDLIST and recovery stay per rendition.
//!
//! Objects are written before the playlist that lists them (the order of `Output`s), and
//! the state is published after the whole batch is on disk.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use media::live::{LiveConfig, LiveStream, Output};
use media::sample::{Sample, TrackInfo};
use media::store::Store;
use origin::events::EndReason;
use origin::LivePublisher;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::time::Instant;

use super::demux::{DemuxEvent, LiveDemux};
use super::events::LiveEvents;
use super::group::GroupMember;
use super::IngestEvent;
use crate::fs_store::FsStore;

/// What to do when the input is gone for the input timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnInputLoss {
    /// End the playlist (EXT-X-ENDLIST); input that comes back continues it.
    End,
    /// Close the segment in progress and wait for the encoder.
    Wait,
}

#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Packaging settings (`run_id` is replaced by a fresh one for every run).
    pub live: LiveConfig,
    /// The stream's directory (ROOT/NAME).
    pub dir: PathBuf,
    pub input_timeout: Duration,
    pub on_loss: OnInputLoss,
    /// This input is one rendition of several sharing `master.m3u8` (`live.write_master`
    /// off); `None`: the only one.
    pub group: Option<GroupMember>,
    /// Write into object storage instead of `dir` (`--root s3://…`, see `crate::storage::live`).
    pub storage: Option<crate::storage::live::LiveTarget>,
}

/// Writes outputs and publishes states.
struct Sink {
    store: Box<dyn Store + Send>,
    publisher: Option<LivePublisher>,
    events: Option<LiveEvents>,
    group: Option<GroupMember>,
    errors: u64,
}

/// Gives a rendition of a group the other renditions' reports before it is fed.
fn sync_reports(group: Option<&GroupMember>, stream: &mut LiveStream) {
    if let Some(g) = group {
        stream.set_rendition_reports(g.reports());
    }
}

/// Runs `feed` on `stream`; for a rendition of a group, so that every rendition settles on
/// the same EXT-X-TARGETDURATION (see [`GroupMember::settle_target`]).
fn settled<R>(
    group: Option<&GroupMember>,
    stream: &mut LiveStream,
    feed: impl FnOnce(&mut LiveStream) -> R,
) -> R {
    match group {
        Some(g) => g.settle_target(stream, feed),
        None => feed(stream),
    }
}

impl Sink {
    /// Performs `outputs` in order; publishes `stream`'s state if a playlist came out (and
    /// records it in the group).
    fn apply(&mut self, outputs: Vec<Output>, stream: Option<&LiveStream>, wall: SystemTime) {
        let mut updated = false;
        for output in outputs {
            let (name, result) = match &output {
                Output::Put { name, bytes } => {
                    let result = self.store.put(name, bytes);
                    // A part streamed while it was written is complete (and stored) now.
                    if let Some(publisher) = &self.publisher {
                        publisher.part_stored(name);
                    }
                    (name, result)
                }
                Output::Delete { name } => (name, self.store.delete(name)),
                Output::Chunk { name, bytes } => {
                    if let Some(publisher) = &self.publisher {
                        publisher.part_chunk(name, bytes.clone());
                    }
                    continue;
                }
                Output::Abandon { name } => {
                    if let Some(publisher) = &self.publisher {
                        publisher.part_abandoned(name);
                    }
                    continue;
                }
                Output::Updated { .. } => {
                    updated = true;
                    continue;
                }
            };
            if let Err(e) = result {
                self.errors = self.errors.saturating_add(1);
                if self.errors == 1 || self.errors.is_multiple_of(100) {
                    tracing::error!(object = %name, error = %e, count = self.errors, "cannot write live object");
                }
            }
        }
        let Some(stream) = stream.filter(|_| updated) else {
            return;
        };
        if let Some(publisher) = &self.publisher {
            publisher.publish(stream.state().clone());
        }
        if let Some(events) = &mut self.events {
            events.updated(stream);
        }
        if let Some(group) = &self.group {
            group.record(stream, wall);
        }
    }
}

pub struct Driver {
    cfg: DriverConfig,
    sink: Sink,
    /// MPEG-TS or FLV (RTMP), following the input.
    demux: LiveDemux,
    stream: Option<LiveStream>,
    /// Tracks the stream was set up with.
    tracks: Vec<TrackInfo>,
    /// Ended streams whose expired objects are still to be deleted.
    retired: Vec<LiveStream>,
    /// The next sample starts a new timeline.
    break_next: bool,
    /// Last input (bytes or a session change); `None` before the first.
    last_input: Option<Instant>,
    /// The input timeout fired and no input came since.
    lost: bool,
    packet_losses: u64,
    push_errors: u64,
    /// Into storage: the gap list of the uploads (a continued playlist's gaps go there).
    gaps: Option<crate::storage::live::Gaps>,
}

impl Driver {
    pub fn new(cfg: DriverConfig, publisher: Option<LivePublisher>) -> Result<Self> {
        let mut gaps = None;
        let store: Box<dyn Store + Send> = match &cfg.storage {
            Some(target) => {
                let store = target.store();
                gaps = Some(store.gaps());
                Box::new(store)
            }
            None => {
                std::fs::create_dir_all(&cfg.dir)
                    .with_context(|| format!("cannot create {}", cfg.dir.display()))?;
                Box::new(FsStore::new(&cfg.dir))
            }
        };
        Ok(Driver {
            sink: Sink {
                store,
                publisher,
                events: None,
                group: cfg.group.clone(),
                errors: 0,
            },
            cfg,
            demux: LiveDemux::default(),
            stream: None,
            tracks: Vec::new(),
            retired: Vec::new(),
            break_next: false,
            last_input: None,
            lost: false,
            packet_losses: 0,
            push_errors: 0,
            gaps,
        })
    }

    /// Reports the run to the origin's event hub (see [`LiveEvents`]).
    pub fn with_events(mut self, events: LiveEvents) -> Self {
        self.sink.events = Some(events);
        self
    }

    /// Handles one input event (not [`IngestEvent::End`]: see [`Driver::finish`]).
    pub fn handle(&mut self, event: IngestEvent, wall: SystemTime, now: Instant) -> Result<()> {
        self.last_input = Some(now);
        if std::mem::take(&mut self.lost) {
            tracing::info!("input is back");
            self.break_next = true;
        }
        match event {
            IngestEvent::Data(bytes) => {
                if let Err(e) = self.demux.push_ts(&bytes) {
                    tracing::warn!(error = %e, "input is not MPEG-TS; waiting for a transport stream");
                    self.demux = LiveDemux::default();
                    self.break_next = true;
                }
                self.drain(wall)
            }
            IngestEvent::Messages(messages) => {
                for m in messages {
                    // A bad message is dropped; the demuxer goes on with the next one.
                    if let Err(e) = self.demux.push_message(m.tag_type, m.timestamp, &m.body) {
                        self.push_errors = self.push_errors.saturating_add(1);
                        if self.push_errors == 1 || self.push_errors.is_multiple_of(100) {
                            tracing::warn!(error = %e, count = self.push_errors, "RTMP message dropped");
                        }
                    }
                    self.drain(wall)?;
                }
                Ok(())
            }
            IngestEvent::Session { peer } => {
                tracing::info!(%peer, "encoder session starts");
                self.close_session(wall)?;
                Ok(())
            }
            IngestEvent::Closed => {
                // Publish what the encoder sent up to here instead of holding it until it
                // comes back: the segment in progress ends now.
                self.close_session(wall)?;
                self.close_segment(wall);
                Ok(())
            }
            IngestEvent::End => self.finish(wall),
        }
    }

    /// Timeouts and deletions: call at [`Driver::next_wakeup`] (and after events).
    pub fn tick(&mut self, wall: SystemTime, now: Instant) -> Result<()> {
        let timed_out = !self.lost
            && self
                .last_input
                .is_some_and(|t| now.duration_since(t) >= self.cfg.input_timeout);
        if timed_out {
            self.lost = true;
            tracing::warn!(
                seconds = self.cfg.input_timeout.as_secs_f64(),
                policy = ?self.cfg.on_loss,
                "no input"
            );
            match self.cfg.on_loss {
                OnInputLoss::End => self.end_stream(wall, EndReason::InputLost)?,
                OnInputLoss::Wait => {
                    self.close_session(wall)?;
                    self.close_segment(wall);
                }
            }
        }
        if let Some(stream) = self.stream.as_mut() {
            let out = stream.poll(wall);
            self.sink.apply(out, Some(&*stream), wall);
        }
        for old in &mut self.retired {
            let out = old.poll(wall);
            self.sink.apply(out, None, wall);
        }
        self.retired.retain(|s| s.next_deadline().is_some());
        if let Some(group) = &self.cfg.group {
            group.tick(wall);
        }
        Ok(())
    }

    /// Publishes what the encoder sent up to here instead of holding it until it comes
    /// back: the segment in progress ends now.
    fn close_segment(&mut self, wall: SystemTime) {
        if let Some(stream) = self.stream.as_mut() {
            sync_reports(self.cfg.group.as_ref(), stream);
            match settled(self.cfg.group.as_ref(), stream, |s| s.discontinuity(wall)) {
                Ok(out) => self.sink.apply(out, Some(&*stream), wall),
                Err(e) => tracing::warn!(error = %e, "cannot close the segment in progress"),
            }
        }
    }

    /// When [`Driver::tick`] has work next.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        let timeout = (!self.lost)
            .then_some(self.last_input)
            .flatten()
            .map(|t| t + self.cfg.input_timeout);
        let wall = SystemTime::now();
        let master = self.cfg.group.as_ref().and_then(GroupMember::next_deadline);
        let deletions = self
            .stream
            .iter()
            .chain(&self.retired)
            .filter_map(LiveStream::next_deadline)
            .chain(master)
            .map(|d| now + d.duration_since(wall).unwrap_or(Duration::ZERO));
        timeout.into_iter().chain(deletions).min()
    }

    /// End of input: the stream ends with EXT-X-ENDLIST.
    pub fn finish(&mut self, wall: SystemTime) -> Result<()> {
        self.end_stream(wall, EndReason::Endlist)
    }

    /// Flushes the current demuxer (its last samples go into the stream) and starts a new
    /// one for the next session.
    fn close_session(&mut self, wall: SystemTime) -> Result<()> {
        self.demux.finish();
        self.drain(wall)?;
        self.demux = self.demux.renew();
        self.break_next = true;
        Ok(())
    }

    fn end_stream(&mut self, wall: SystemTime, reason: EndReason) -> Result<()> {
        self.close_session(wall)?;
        if let Some(mut stream) = self.stream.take() {
            sync_reports(self.cfg.group.as_ref(), &mut stream);
            let out = settled(self.cfg.group.as_ref(), &mut stream, |s| s.end(wall));
            self.sink.apply(out, Some(&stream), wall);
            if let Some(events) = &mut self.sink.events {
                events.ended(reason);
            }
            tracing::info!(playlist = %self.cfg.dir.join(format!("{}.m3u8", self.cfg.live.rendition)).display(), "stream ended (EXT-X-ENDLIST)");
            self.retired.push(stream);
        }
        Ok(())
    }

    /// The text of the stream's object `name` an earlier run left (in its directory, or in
    /// storage), `None` when there is none. Storage that does not answer is not fatal: the
    /// stream starts anew (ingest never waits for storage).
    fn previous(&self, name: &str) -> Result<Option<String>> {
        if let Some(target) = &self.cfg.storage {
            return Ok(target.read_blocking(name).unwrap_or_else(|e| {
                tracing::warn!(object = name, error = %e, "cannot read the playlist of an earlier run from storage; starting anew");
                None
            }));
        }
        let path = self.cfg.dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Moves every finished sample from the demuxer into the stream.
    fn drain(&mut self, wall: SystemTime) -> Result<()> {
        while let Some(sample) = self.demux.pop_sample() {
            // A timeline break is queued right after the sample it applies to.
            while let Some(event) = self.demux.pop_event() {
                self.note(event);
            }
            self.ingest(sample, wall)?;
        }
        while let Some(event) = self.demux.pop_event() {
            self.note(event);
        }
        Ok(())
    }

    fn note(&mut self, event: DemuxEvent) {
        match event {
            DemuxEvent::Discontinuity { track, cause } => {
                tracing::info!(track, ?cause, "input timeline breaks");
                self.break_next = true;
            }
            DemuxEvent::PacketLoss { pid, offset } => {
                self.packet_losses = self.packet_losses.saturating_add(1);
                tracing::debug!(
                    pid,
                    offset,
                    count = self.packet_losses,
                    "input packets lost"
                );
            }
            DemuxEvent::Other => {}
        }
    }

    fn ingest(&mut self, sample: Sample, wall: SystemTime) -> Result<()> {
        if self.stream.is_none() {
            self.start(wall)?;
        } else if self.demux.tracks() != self.tracks.as_slice() {
            let tracks = self.demux.tracks().to_vec();
            if let Some(stream) = self.stream.as_mut() {
                sync_reports(self.cfg.group.as_ref(), stream);
                let out = settled(self.cfg.group.as_ref(), stream, |s| {
                    s.set_tracks(tracks.clone(), wall)
                })
                .context("the input's new tracks cannot be packaged")?;
                tracing::info!(
                    tracks = tracks.len(),
                    "input tracks changed: new initialization section"
                );
                self.sink.apply(out, Some(&*stream), wall);
            }
            self.tracks = tracks;
            self.break_next = false;
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        sync_reports(self.cfg.group.as_ref(), stream);
        if std::mem::take(&mut self.break_next) {
            match settled(self.cfg.group.as_ref(), stream, |s| s.discontinuity(wall)) {
                Ok(out) => self.sink.apply(out, Some(&*stream), wall),
                Err(e) => tracing::warn!(error = %e, "discontinuity"),
            }
        }
        match settled(self.cfg.group.as_ref(), stream, |s| s.push(sample, wall)) {
            Ok(out) => self.sink.apply(out, Some(&*stream), wall),
            Err(e) => {
                self.push_errors = self.push_errors.saturating_add(1);
                if self.push_errors == 1 || self.push_errors.is_multiple_of(100) {
                    tracing::warn!(error = %e, count = self.push_errors, "sample not packaged; continuing at the next keyframe");
                }
            }
        }
        Ok(())
    }

    /// Starts the stream on the demuxer's tracks, continuing an earlier run's playlist.
    fn start(&mut self, wall: SystemTime) -> Result<()> {
        let tracks = self.demux.tracks().to_vec();
        let mut config = self.cfg.live.clone();
        // A fresh id per run: a restarted stream never reuses a URL with other bytes.
        config.run_id = format!("{:08x}", rand::random::<u32>());
        let run_id = config.run_id.clone();
        let name = format!("{}.m3u8", self.cfg.live.rendition);
        let stream = match self.previous(&name)? {
            Some(text) => match LiveStream::recover(config.clone(), tracks.clone(), &text, wall) {
                Ok(mut s) => {
                    tracing::info!(playlist = %name, "continuing the playlist of an earlier run");
                    let iframes = s.i_frame_playlist_name();
                    if let Some(text) = self.previous(&iframes).ok().flatten() {
                        if let Err(e) = s.recover_i_frames(&text) {
                            tracing::warn!(playlist = %iframes, error = %e, "cannot continue the old I-frame playlist; it restarts after the old segments");
                        }
                    }
                    if let Some(gaps) = &self.gaps {
                        // RFC 8216bis 4.4.4.7: what the old run never stored stays a gap.
                        gaps.add(crate::storage::live::gap_uris(&text));
                    }
                    s
                }
                Err(e) => {
                    tracing::warn!(playlist = %name, error = %e, "cannot continue the old playlist; starting anew");
                    LiveStream::new(config, tracks.clone())?
                }
            },
            None => LiveStream::new(config, tracks.clone())?,
        };
        if !stream.state().full.is_empty() {
            if let Some(p) = &self.sink.publisher {
                p.publish(stream.state().clone());
            }
        }
        if let Some(events) = &mut self.sink.events {
            events.started(&run_id, &stream);
        }
        if let Some(group) = &self.cfg.group {
            group.record(&stream, wall);
        }
        tracing::info!(tracks = tracks.len(), run = %self.cfg.dir.display(), "live stream starts");
        self.tracks = tracks;
        self.stream = Some(stream);
        self.break_next = false;
        Ok(())
    }
}

/// Events [`run`] handles between two ticks at most.
const BURST: usize = 64;

/// Runs the driver as a task until the input ends or every sender of `rx` is gone
/// (shutdown); either way the stream ends with EXT-X-ENDLIST.
///
/// A task, not a thread: the input's task hands events over to it on the same runtime, so a
/// hand-over is a task wake-up (often on the same worker) rather than a thread switch, the
/// largest per-channel cost an RTMP profile showed. Its writes are page-cache writes (no
/// fsync), short enough for a worker, as nginx-rtmp does them in its event loop; the one
/// read that may wait on the network (a playlist to continue from object storage) runs in
/// `block_in_place`.
pub async fn run(mut driver: Driver, mut rx: mpsc::Receiver<IngestEvent>) -> Result<()> {
    loop {
        let wake = driver.next_wakeup(Instant::now());
        let received = match wake {
            Some(t) => tokio::time::timeout_at(t, rx.recv()).await.ok(),
            None => Some(rx.recv().await),
        };
        let mut event = match received {
            Some(Some(event)) => Some(event),
            Some(None) => return driver.finish(SystemTime::now()),
            None => None,
        };
        // Everything already queued is handled before the next tick and sleep: one wake-up
        // per burst, not per event (at most BURST, so that ticks still come under a backlog).
        let mut handled = 0;
        while let Some(e) = event.take() {
            let (wall, now) = (SystemTime::now(), Instant::now());
            if matches!(e, IngestEvent::End) {
                return driver.finish(wall);
            }
            driver.handle(e, wall, now)?;
            handled += 1;
            if handled < BURST {
                event = match rx.try_recv() {
                    Ok(e) => Some(e),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return driver.finish(SystemTime::now()),
                };
            }
        }
        driver.tick(SystemTime::now(), Instant::now())?;
        if handled >= BURST {
            // A backlog: let the other tasks of this worker (HTTP, other streams) run.
            tokio::task::yield_now().await;
        }
    }
}
