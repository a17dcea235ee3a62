// SPDX-License-Identifier: MIT OR Apache-2.0
//! The one event shape every edge sends:
//! `{"seq":1234,"time":"2026-12-05T18:00:00.123Z","type":"segment.published","stream":"NAME","session":"RUNID","data":{…}}`
//!
//! The JSON text is made once, when the event is published, and shared by every subscriber
//! (10,000 WebSocket clients must not mean 10,000 serializations).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;

/// What happened. The wire name (`"stream.added"`…) is [`EventType::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// A new stream appeared under the root: VOD packaged, live started, or a
    /// `master.m3u8` written by another program.
    StreamAdded,
    /// The first segment of a live run is published.
    StreamLive,
    /// A media segment is in the playlist.
    SegmentPublished,
    /// An LL-HLS part is in the playlist. Five a second per rendition: delivered only to
    /// subscribers that name it in their `types` filter.
    PartPublished,
    /// The next segment starts after an EXT-X-DISCONTINUITY.
    StreamDiscontinuity,
    /// EXT-X-ENDLIST written, or the input was lost.
    StreamEnded,
    /// The stream was deleted from the root.
    StreamRemoved,
    /// The default run's packaging of a dropped file advanced.
    PackageProgress,
    /// The default run could not package a dropped file.
    PackageFailed,
    /// The estimated number of viewers changed.
    StreamViewers,
}

impl EventType {
    /// Every type, in wire-name order of the issue.
    pub const ALL: [EventType; 10] = [
        EventType::StreamAdded,
        EventType::StreamLive,
        EventType::SegmentPublished,
        EventType::PartPublished,
        EventType::StreamDiscontinuity,
        EventType::StreamEnded,
        EventType::StreamRemoved,
        EventType::PackageProgress,
        EventType::PackageFailed,
        EventType::StreamViewers,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::StreamAdded => "stream.added",
            EventType::StreamLive => "stream.live",
            EventType::SegmentPublished => "segment.published",
            EventType::PartPublished => "part.published",
            EventType::StreamDiscontinuity => "stream.discontinuity",
            EventType::StreamEnded => "stream.ended",
            EventType::StreamRemoved => "stream.removed",
            EventType::PackageProgress => "package.progress",
            EventType::PackageFailed => "package.failed",
            EventType::StreamViewers => "stream.viewers",
        }
    }

    /// Whether a subscriber without a `types` filter gets it (all but `part.published`).
    pub fn delivered_by_default(self) -> bool {
        self != EventType::PartPublished
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(())
    }
}

/// What kind of stream `stream.added` announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    /// Packaged, ends with EXT-X-ENDLIST from the start.
    Vod,
    /// A sliding live window.
    Live,
    /// A live playlist that keeps every segment (EXT-X-PLAYLIST-TYPE:EVENT).
    Event,
}

/// Why a stream ended (`stream.ended`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// EXT-X-ENDLIST was written (the input ended or the run was stopped).
    Endlist,
    /// The input was lost (encoder gone, timeout) and the run gave up.
    InputLost,
}

/// What happened, with the fields of its `data` object.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `{"kind":"vod","playlist":"name/master.m3u8"}`
    StreamAdded { kind: StreamKind, playlist: String },
    /// `{"rendition":"720p","msn":0}`: the first segment of the run.
    StreamLive { rendition: String, msn: u64 },
    /// A media segment (RFC 8216bis 4.4.4.1 EXTINF duration in seconds); `parts` is the
    /// LL-HLS part count (None without LL-HLS).
    SegmentPublished {
        rendition: String,
        msn: u64,
        duration: f64,
        bytes: u64,
        discontinuity: bool,
        parts: Option<u64>,
    },
    /// An LL-HLS part (RFC 8216bis 4.4.4.9 EXT-X-PART): index within segment `msn`.
    PartPublished {
        rendition: String,
        msn: u64,
        part: u64,
        duration: f64,
        independent: bool,
    },
    /// `{"rendition":"720p","msn":12}`: segment `msn` starts after a discontinuity.
    StreamDiscontinuity { rendition: String, msn: u64 },
    /// `{"reason":"endlist"}`
    StreamEnded { reason: EndReason },
    /// `{}`
    StreamRemoved,
    /// `{"file":"talk.mp4","percent":42.5}`
    PackageProgress { file: String, percent: f64 },
    /// `{"file":"talk.mp4","error":"…"}`
    PackageFailed { file: String, error: String },
    /// `{"viewers":12}` (an estimate, see the viewers documentation).
    StreamViewers { viewers: u64 },
}

impl Payload {
    /// The event type this payload is sent as.
    pub fn event_type(&self) -> EventType {
        match self {
            Payload::StreamAdded { .. } => EventType::StreamAdded,
            Payload::StreamLive { .. } => EventType::StreamLive,
            Payload::SegmentPublished { .. } => EventType::SegmentPublished,
            Payload::PartPublished { .. } => EventType::PartPublished,
            Payload::StreamDiscontinuity { .. } => EventType::StreamDiscontinuity,
            Payload::StreamEnded { .. } => EventType::StreamEnded,
            Payload::StreamRemoved => EventType::StreamRemoved,
            Payload::PackageProgress { .. } => EventType::PackageProgress,
            Payload::PackageFailed { .. } => EventType::PackageFailed,
            Payload::StreamViewers { .. } => EventType::StreamViewers,
        }
    }

    /// The `data` object.
    pub fn data(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Payload::StreamAdded { kind, playlist } => json!({"kind": kind, "playlist": playlist}),
            Payload::StreamLive { rendition, msn } => json!({"rendition": rendition, "msn": msn}),
            Payload::SegmentPublished {
                rendition,
                msn,
                duration,
                bytes,
                discontinuity,
                parts,
            } => json!({
                "rendition": rendition, "msn": msn, "duration": duration, "bytes": bytes,
                "discontinuity": discontinuity, "parts": parts,
            }),
            Payload::PartPublished {
                rendition,
                msn,
                part,
                duration,
                independent,
            } => json!({
                "rendition": rendition, "msn": msn, "part": part, "duration": duration,
                "independent": independent,
            }),
            Payload::StreamDiscontinuity { rendition, msn } => {
                json!({"rendition": rendition, "msn": msn})
            }
            Payload::StreamEnded { reason } => json!({ "reason": reason }),
            Payload::StreamRemoved => json!({}),
            Payload::PackageProgress { file, percent } => json!({"file": file, "percent": percent}),
            Payload::PackageFailed { file, error } => json!({"file": file, "error": error}),
            Payload::StreamViewers { viewers } => json!({ "viewers": viewers }),
        }
    }
}

/// One published event: its fields and its JSON text (made once).
#[derive(Debug, Clone)]
pub struct Event {
    /// Position in the server's sequence: 1, 2, 3… with no gap.
    pub seq: u64,
    /// When it was published.
    pub time: SystemTime,
    pub event_type: EventType,
    /// The stream's name under the root (`news`); empty for events about no stream.
    pub stream: String,
    /// Run id of the live run or packaging run the event belongs to ([`session_id`]).
    pub session: String,
    /// The JSON text (valid UTF-8: made from a `String`), shared by every frame that
    /// carries it.
    json: Bytes,
}

#[derive(Serialize)]
struct Wire<'a> {
    seq: u64,
    time: &'a str,
    #[serde(rename = "type")]
    event_type: &'static str,
    stream: &'a str,
    session: &'a str,
    data: serde_json::Value,
}

impl Event {
    pub(crate) fn new(
        seq: u64,
        time: SystemTime,
        stream: String,
        session: String,
        payload: &Payload,
    ) -> Self {
        let event_type = payload.event_type();
        let wire = Wire {
            seq,
            time: &rfc3339_millis(time),
            event_type: event_type.as_str(),
            stream: &stream,
            session: &session,
            data: payload.data(),
        };
        // Serializing strings, numbers and a Value to a String cannot fail; a float that is
        // not finite becomes `null` (serde_json's rule), never an error.
        let json = serde_json::to_string(&wire).unwrap_or_default();
        Event {
            seq,
            time,
            event_type,
            stream,
            session,
            json: Bytes::from(json),
        }
    }

    /// The event as one line of JSON.
    pub fn json(&self) -> &str {
        std::str::from_utf8(&self.json).unwrap_or_default()
    }

    /// The JSON text, shared: a clone is a reference count, not a copy (one WebSocket frame
    /// per subscriber).
    pub fn json_bytes(&self) -> Bytes {
        self.json.clone()
    }
}

/// `{"type":"resync","seq":SEQ}`: events after the requested `since` up to `seq` are no
/// longer held; the client takes the snapshot (`/api/streams`) again and follows on from
/// `seq`.
pub fn resync_json(seq: u64) -> String {
    format!("{{\"type\":\"resync\",\"seq\":{seq}}}")
}

/// A new run id: unique within this process and, with overwhelming likelihood, across runs
/// (start time in ms, process id and a counter, hex), e.g. `19b0b4f8e2b-3f1a-1`.
pub fn session_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let n = COUNTER.fetch_add(1, Relaxed).saturating_add(1);
    format!("{ms:x}-{:x}-{n:x}", std::process::id())
}

/// `time` as RFC 3339 UTC with milliseconds (`2026-12-05T18:00:00.123Z`); times before
/// 1970 are written as 1970-01-01T00:00:00.000Z.
pub(crate) fn rfc3339_millis(time: SystemTime) -> String {
    let ms = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let (secs, milli) = (ms / 1000, ms % 1000);
    let (days, sod) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(u64::try_from(days).unwrap_or(u64::MAX));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Year, month, day of `days` after 1970-01-01 in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`, for days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days.saturating_add(719_468);
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}
