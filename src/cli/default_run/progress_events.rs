// SPDX-License-Identifier: MIT OR Apache-2.0
//! `package.progress` of the default run: `{"file":"talk.mp4","percent":42.5}` as a dropped
//! file is packaged, at most once a second per file (the packager reports after every
//! segment, many times a second for a short file).

use std::time::{Duration, Instant};

use media::package::Progress;
use origin::events::{Events, Payload};

/// Shortest time between two reports of one file.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The progress reports of one packaging run.
#[derive(Debug)]
pub struct ProgressEvents {
    events: Events,
    /// Stream name, run id and source file name the events carry.
    stream: String,
    session: String,
    file: String,
    last: Option<Instant>,
}

impl ProgressEvents {
    pub fn new(events: Events, stream: &str, session: &str, file: &str) -> Self {
        ProgressEvents {
            events,
            stream: stream.to_owned(),
            session: session.to_owned(),
            file: file.to_owned(),
            last: None,
        }
    }

    /// Publishes `p` as `package.progress` unless one was published less than [`INTERVAL`]
    /// before `now`, or the total duration is unknown (no percent to give).
    pub fn update(&mut self, p: Progress, now: Instant) {
        let Some(total) = p.total_secs.filter(|t| *t > 0.0) else {
            return;
        };
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < INTERVAL)
        {
            return;
        }
        self.last = Some(now);
        // One decimal: 42.5.
        let percent = (p.done_secs / total * 1000.0).round().clamp(0.0, 1000.0) / 10.0;
        let payload = Payload::PackageProgress {
            file: self.file.clone(),
            percent,
        };
        self.events.publish(&self.stream, &self.session, payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use origin::events::{Filter, Item};

    #[test]
    fn at_most_once_a_second_with_the_percent() {
        let hub = Events::default();
        let mut sub = hub.subscribe(None, Filter::default()).unwrap();
        let mut p = ProgressEvents::new(hub.clone(), "talk", "run1", "talk.mp4");
        let t0 = Instant::now();
        // (ms after t0, done, total) → published percent
        let cases: [(u64, f64, Option<f64>, Option<f64>); 8] = [
            (0, 0.0, None, None),
            (10, 1.0, Some(40.0), Some(2.5)),
            (400, 2.0, Some(40.0), None),
            (1009, 3.0, Some(40.0), None),
            (1010, 17.0, Some(40.0), Some(42.5)),
            (1500, 30.0, Some(40.0), None),
            (2600, 40.0, Some(40.0), Some(100.0)),
            (9000, 50.0, Some(0.0), None),
        ];
        for (ms, done, total, want) in cases {
            let progress = Progress {
                done_secs: done,
                total_secs: total,
            };
            p.update(progress, t0 + Duration::from_millis(ms));
            let got = sub.try_recv().map(|item| match item {
                Ok(Item::Event(e)) => serde_json::from_str::<serde_json::Value>(e.json()).unwrap(),
                other => panic!("{other:?}"),
            });
            match (got, want) {
                (None, None) => {}
                (Some(e), Some(percent)) => {
                    assert_eq!(e["type"], "package.progress");
                    assert_eq!(
                        (&e["stream"], &e["session"]),
                        (&"talk".into(), &"run1".into())
                    );
                    assert_eq!(
                        e["data"],
                        serde_json::json!({"file": "talk.mp4", "percent": percent})
                    );
                }
                (got, want) => panic!("at {ms} ms: got {got:?}, want {want:?}"),
            }
        }
    }
}
