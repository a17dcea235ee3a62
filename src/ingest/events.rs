// SPDX-License-Identifier: MIT OR Apache-2.0
//! What a live rendition tells the origin's event hub (`origin::events`): `stream.added` when
//! the run starts, `stream.live` with its first segment, `part.published` and
//! `segment.published` as the playlist lists them (`stream.discontinuity` before a segment
//! that starts one), `stream.ended` with EXT-X-ENDLIST. The stream-level events (added, live,
//! ended) come from one rendition of a group, the lead, so a consumer gets each once per
//! stream; every rendition reports its own parts, segments and discontinuities. Each run of the rendition is a session (its run id), so a consumer can
//! tell a late `stream.ended` of an older run from the current one.
//!
//! Events are derived from the stream's state after every publication, by cursors over
//! (msn, part): nothing is reported twice, and a playlist that lists several new parts or
//! segments at once reports each of them, in order.

use media::live::{LiveStream, WindowKind};
use origin::events::{EndReason, Events, Payload, StreamKind};

/// The event side of one live rendition.
#[derive(Debug)]
pub struct LiveEvents {
    events: Events,
    /// The stream's name under the root.
    stream: String,
    rendition: String,
    kind: StreamKind,
    /// Speaks for the stream: sends `stream.added`, `stream.live` and `stream.ended` (one
    /// rendition per stream).
    lead: bool,
    run: Option<Run>,
}

/// Cursors of the current run.
#[derive(Debug)]
struct Run {
    session: String,
    live_sent: bool,
    /// The next segment to report.
    next_segment: u64,
    /// The next part to report: (msn, part index).
    next_part: (u64, u64),
}

impl LiveEvents {
    /// Events of rendition `rendition` of stream `stream` (its directory under the root).
    pub fn new(
        events: Events,
        stream: &str,
        rendition: &str,
        window: WindowKind,
        lead: bool,
    ) -> Self {
        let kind = match window {
            WindowKind::Event => StreamKind::Event,
            WindowKind::Sliding | WindowKind::Dvr(_) => StreamKind::Live,
        };
        LiveEvents {
            events,
            stream: stream.to_owned(),
            rendition: rendition.to_owned(),
            kind,
            lead,
            run: None,
        }
    }

    fn publish(&self, session: &str, payload: Payload) {
        self.events.publish(&self.stream, session, payload);
    }

    /// A run with id `session` starts on `stream` (new, or continuing an earlier run's
    /// playlist: what that one listed is not reported again).
    pub fn started(&mut self, session: &str, stream: &LiveStream) {
        let state = stream.state();
        let run = Run {
            session: session.to_owned(),
            live_sent: false,
            next_segment: state
                .last_msn
                .map_or(state.next_msn, |m| m.saturating_add(1)),
            next_part: (state.next_msn, state.next_parts),
        };
        if self.lead {
            let playlist = format!("{}/master.m3u8", self.stream);
            self.publish(
                session,
                Payload::StreamAdded {
                    kind: self.kind,
                    playlist,
                },
            );
        }
        self.run = Some(run);
    }

    /// `stream` published a new playlist: reports what it lists that was not reported yet.
    pub fn updated(&mut self, stream: &LiveStream) {
        let Some(mut run) = self.run.take() else {
            return;
        };
        let state = stream.state();
        let first = run.next_part.0.min(run.next_segment);
        for msn in first..=state.next_msn {
            if msn >= run.next_part.0 {
                let from = if msn == run.next_part.0 {
                    run.next_part.1
                } else {
                    0
                };
                let parts = stream.listed_parts(msn);
                for (index, part) in parts.iter().enumerate().skip(from as usize) {
                    self.publish(
                        &run.session,
                        Payload::PartPublished {
                            rendition: self.rendition.clone(),
                            msn,
                            part: index as u64,
                            duration: part.duration,
                            independent: part.independent,
                        },
                    );
                }
                run.next_part = (msn, parts.len() as u64);
            }
            if msn >= run.next_segment && state.last_msn.is_some_and(|last| msn <= last) {
                self.segment(&mut run, stream, msn);
            }
        }
        self.run = Some(run);
    }

    fn segment(&self, run: &mut Run, stream: &LiveStream, msn: u64) {
        run.next_segment = msn.saturating_add(1);
        // Gone from the window already (a publication that listed it never came): skipped.
        let Some(seg) = stream.segment_summary(msn) else {
            return;
        };
        let rendition = || self.rendition.clone();
        if !run.live_sent && self.lead {
            run.live_sent = true;
            let payload = Payload::StreamLive {
                rendition: rendition(),
                msn,
            };
            self.publish(&run.session, payload);
        }
        if seg.discontinuity {
            let payload = Payload::StreamDiscontinuity {
                rendition: rendition(),
                msn,
            };
            self.publish(&run.session, payload);
        }
        let payload = Payload::SegmentPublished {
            rendition: rendition(),
            msn,
            duration: seg.duration,
            bytes: seg.bytes,
            discontinuity: seg.discontinuity,
            parts: seg.parts,
        };
        self.publish(&run.session, payload);
    }

    /// The run ended: EXT-X-ENDLIST is written.
    pub fn ended(&mut self, reason: EndReason) {
        if let Some(run) = self.run.take().filter(|_| self.lead) {
            self.publish(&run.session, Payload::StreamEnded { reason });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use bytes::Bytes;
    use origin::events::{Event, EventType, Filter, Item, Subscription};
    use tokio::time::Instant;

    use super::*;
    use crate::ingest::driver::Driver;
    use crate::ingest::driver_tests::{config, source};
    use crate::ingest::IngestEvent;

    fn received(sub: &mut Subscription) -> Vec<Arc<Event>> {
        let mut out = Vec::new();
        while let Some(Ok(item)) = sub.try_recv() {
            match item {
                Item::Event(e) => out.push(e),
                Item::Resync(seq) => panic!("resync {seq}"),
            }
        }
        out
    }

    fn data(e: &Event) -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(e.json()).expect("json")["data"].clone()
    }

    /// One run of `ts` (LL-HLS, 1 s segments, 0.5 s parts) into `dir`, ended by End.
    fn run(dir: &std::path::Path, ts: &[u8], hub: &Events, lead: bool) {
        let mut cfg = config(dir);
        cfg.live.part_duration = Some(0.5);
        let events = LiveEvents::new(hub.clone(), "ev", "stream", WindowKind::Sliding, lead);
        let mut driver = Driver::new(cfg, None).expect("driver").with_events(events);
        let (wall, now) = (SystemTime::now(), Instant::now());
        for chunk in ts.chunks(1316) {
            let data = IngestEvent::Data(Bytes::copy_from_slice(chunk));
            driver.handle(data, wall, now).expect("data");
        }
        driver.handle(IngestEvent::End, wall, now).expect("end");
    }

    /// Checks one run's events: order, cursors, and the segments against the playlist
    /// (m3u8-rs) and the files. Returns the segment msns reported.
    fn check_run(events: &[Arc<Event>], dir: &std::path::Path) -> Vec<u64> {
        // Parts of the first segment come before it (and before stream.live, which is the
        // first *segment*); without parts: added, live, segments…, ended.
        let types: Vec<EventType> = events
            .iter()
            .map(|e| e.event_type)
            .filter(|t| *t != EventType::PartPublished)
            .collect();
        assert_eq!(types.first(), Some(&EventType::StreamAdded), "{types:?}");
        assert_eq!(types.get(1), Some(&EventType::StreamLive), "{types:?}");
        assert_eq!(types.last(), Some(&EventType::StreamEnded), "{types:?}");
        let middle = types.get(2..types.len() - 1).unwrap_or_default();
        assert!(
            middle.iter().all(|t| matches!(
                t,
                EventType::SegmentPublished | EventType::StreamDiscontinuity
            )),
            "{types:?}"
        );
        // stream.discontinuity comes right before the segment that starts one.
        let non_parts: Vec<&Arc<Event>> = events
            .iter()
            .filter(|e| e.event_type != EventType::PartPublished)
            .collect();
        for w in non_parts.windows(2) {
            if w[0].event_type == EventType::StreamDiscontinuity {
                assert_eq!(w[1].event_type, EventType::SegmentPublished);
                assert_eq!(data(w[1])["msn"], data(w[0])["msn"]);
                assert_eq!(data(w[1])["discontinuity"], true);
            }
        }
        let session = &events[0].session;
        assert!(events
            .iter()
            .all(|e| &e.session == session && e.stream == "ev"));
        assert_eq!(data(&events[0])["playlist"], "ev/master.m3u8");
        assert_eq!(data(events.last().unwrap())["reason"], "endlist");
        // Parts of a segment: indices 0, 1, 2… before its segment.published, which counts them.
        let mut parts: BTreeMap<u64, u64> = BTreeMap::new();
        let mut segments = Vec::new();
        for e in events {
            let d = data(e);
            let msn = d["msn"].as_u64().unwrap_or(0);
            match e.event_type {
                EventType::PartPublished => {
                    let next = parts.entry(msn).or_default();
                    assert_eq!(d["part"], *next, "parts of {msn} in order");
                    *next += 1;
                }
                EventType::SegmentPublished => {
                    assert_eq!(d["parts"], parts.get(&msn).copied().unwrap_or(0), "{msn}");
                    segments.push((msn, d));
                }
                _ => {}
            }
        }
        let msns: Vec<u64> = segments.iter().map(|(m, _)| *m).collect();
        assert!(msns.len() >= 6, "{msns:?}");
        assert!(msns.windows(2).all(|w| w[1] == w[0] + 1), "{msns:?}");
        assert_eq!(
            data(&events[1])["msn"],
            msns[0],
            "stream.live names the first segment"
        );
        // Every segment the final playlist lists was reported with its EXTINF, size and tag.
        let text = std::fs::read_to_string(dir.join("stream.m3u8")).expect("playlist");
        let Ok(m3u8_rs::Playlist::MediaPlaylist(media)) =
            m3u8_rs::parse_playlist_res(text.as_bytes())
        else {
            panic!("not a media playlist: {text}");
        };
        for (i, seg) in media.segments.iter().enumerate() {
            let msn = media.media_sequence + i as u64;
            let (_, d) = segments.iter().find(|(m, _)| *m == msn).expect("reported");
            let size = std::fs::metadata(dir.join(&seg.uri))
                .expect("segment file")
                .len();
            assert_eq!(d["bytes"], size, "{msn}");
            let duration = d["duration"].as_f64().unwrap();
            assert!((duration - f64::from(seg.duration)).abs() < 1e-3, "{msn}");
            assert_eq!(d["discontinuity"], seg.discontinuity, "{msn}");
        }
        msns
    }

    #[test]
    fn a_live_run_reports_added_live_parts_segments_and_ended_and_a_second_run_continues() {
        let work = std::env::temp_dir().join("hlsorigin-liveio-driver");
        let _ = std::fs::create_dir_all(&work);
        let Some(input) = source(&work) else {
            return;
        };
        let ts = std::fs::read(&input).expect("input");
        let dir = work.join("events");
        let _ = std::fs::remove_dir_all(&dir);
        let hub = Events::default();
        let mut sub = hub
            .subscribe(None, Filter::types(EventType::ALL))
            .expect("subscribe");
        run(&dir, &ts, &hub, true);
        let first = received(&mut sub);
        let seqs: Vec<u64> = first.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=first.len() as u64).collect::<Vec<_>>());
        let first_msns = check_run(&first, &dir);

        // A second run continues the playlist: a new session, and no segment reported twice.
        run(&dir, &ts, &hub, true);
        let second = received(&mut sub);
        assert_ne!(second[0].session, first[0].session);
        let second_msns = check_run(&second, &dir);
        assert!(
            second_msns[0] > *first_msns.last().unwrap(),
            "{first_msns:?} {second_msns:?}"
        );

        // Without asking for it by type, part.published is not delivered.
        let mut default = hub
            .subscribe(Some(0), Filter::default())
            .expect("subscribe");
        let got = received(&mut default);
        assert!(got.iter().all(|e| e.event_type != EventType::PartPublished));
        assert_eq!(
            got.len() + count_parts(&first) + count_parts(&second),
            first.len() + second.len()
        );
    }

    fn count_parts(events: &[Arc<Event>]) -> usize {
        events
            .iter()
            .filter(|e| e.event_type == EventType::PartPublished)
            .count()
    }

    #[test]
    fn an_input_timeout_reports_stream_ended_input_lost() {
        let work = std::env::temp_dir().join("hlsorigin-liveio-driver");
        let _ = std::fs::create_dir_all(&work);
        let Some(input) = source(&work) else {
            return;
        };
        let ts = std::fs::read(&input).expect("input");
        let dir = work.join("events-timeout");
        let _ = std::fs::remove_dir_all(&dir);
        let hub = Events::default();
        let mut sub = hub.subscribe(None, Filter::default()).expect("subscribe");
        let events = LiveEvents::new(hub.clone(), "ev", "stream", WindowKind::Event, true);
        let mut driver = Driver::new(config(&dir), None)
            .expect("driver")
            .with_events(events);
        let (wall, start) = (SystemTime::now(), Instant::now());
        for chunk in ts.chunks(1316) {
            let data = IngestEvent::Data(Bytes::copy_from_slice(chunk));
            driver.handle(data, wall, start).expect("data");
        }
        driver
            .tick(wall, start + Duration::from_secs(6))
            .expect("tick");
        let got = received(&mut sub);
        let types: Vec<EventType> = got.iter().map(|e| e.event_type).collect();
        assert_eq!(types.first(), Some(&EventType::StreamAdded), "{types:?}");
        assert_eq!(types.get(1), Some(&EventType::StreamLive), "{types:?}");
        assert_eq!(types.last(), Some(&EventType::StreamEnded), "{types:?}");
        assert_eq!(data(got.last().unwrap())["reason"], "input_lost");
    }

    #[test]
    fn only_the_lead_rendition_reports_stream_added_live_and_ended() {
        let work = std::env::temp_dir().join("hlsorigin-liveio-driver");
        let _ = std::fs::create_dir_all(&work);
        let Some(input) = source(&work) else {
            return;
        };
        let ts = std::fs::read(&input).expect("input");
        let dir = work.join("events-follower");
        let _ = std::fs::remove_dir_all(&dir);
        let hub = Events::default();
        let mut sub = hub
            .subscribe(None, Filter::types(EventType::ALL))
            .expect("subscribe");
        run(&dir, &ts, &hub, false);
        let got = received(&mut sub);
        let stream_level = [
            EventType::StreamAdded,
            EventType::StreamLive,
            EventType::StreamEnded,
        ];
        assert!(
            got.iter().all(|e| !stream_level.contains(&e.event_type)),
            "{:?}",
            got.iter().map(|e| e.event_type).collect::<Vec<_>>()
        );
        assert!(got
            .iter()
            .any(|e| e.event_type == EventType::SegmentPublished));
    }
}
