// SPDX-License-Identifier: MIT OR Apache-2.0
//! Packaging runs under one storage prefix, and the collection of old ones.
//!
//! Each run writes a marker `PREFIX/.hlsorigin/runs/RUN` before its first object
//! (`started SECS`). Once a newer run has committed its master, the older runs' markers get
//! `superseded SECS` (the time they stopped being current); a run superseded at least
//! `--gc-grace` ago has its objects (`PREFIX/RUN/…`) and marker deleted. Both steps happen
//! after a run commits, so an old run is deleted by a later `package` into the same prefix,
//! never sooner than its grace: players and CDNs that fetched the old master keep finding
//! its playlists and segments for that long. Only runs with a marker are ever deleted
//! (hlsorigin never deletes what it did not write), and never the run the stored master
//! names.

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::sink::{ObjectSink, MASTER};

/// Where run markers live, under the prefix (a dot-name: never served).
const RUNS: &str = ".hlsorigin/runs";

/// What a collection did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Runs marked superseded now (deleted by a later run after the grace).
    pub superseded: Vec<String>,
    /// Runs deleted now.
    pub deleted: Vec<String>,
    /// Runs superseded earlier whose grace is not over.
    pub waiting: Vec<String>,
}

fn marker(prefix: &str, run: &str) -> Path {
    ObjectSink::key(prefix, Some(RUNS), run)
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn err(e: object_store::Error) -> io::Error {
    io::Error::other(e)
}

/// Records that run `run` starts writing under `prefix`.
pub async fn mark_started(store: &dyn ObjectStore, prefix: &str, run: &str) -> io::Result<()> {
    let text = format!("started {}\n", secs(SystemTime::now()));
    store
        .put(&marker(prefix, run), PutPayload::from(text))
        .await
        .map(|_| ())
        .map_err(err)
}

/// Deletes every object of run `run` and its marker (a failed run, or a collected one).
pub async fn discard(store: &Arc<dyn ObjectStore>, prefix: &str, run: &str) -> io::Result<()> {
    let dir = ObjectSink::key(prefix, Some(run), "");
    let keys = store.list(Some(&dir)).map_ok(|m| m.location).boxed();
    let deleted: Vec<_> = store.delete_stream(keys).collect().await;
    for d in deleted {
        match d {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(err(e)),
        }
    }
    match store.delete(&marker(prefix, run)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(err(e)),
    }
}

/// The run the stored master names (the first path segment of its first relative URI).
async fn master_run(store: &dyn ObjectStore, prefix: &str) -> io::Result<Option<String>> {
    let text = match store.get(&ObjectSink::key(prefix, None, MASTER)).await {
        Ok(got) => got.bytes().await.map_err(err)?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|uri| uri.split_once('/'))
        .map(|(run, _)| run.to_owned()))
}

/// After run `current` committed: marks the other runs superseded and deletes those
/// superseded at least `grace` before `now`.
pub async fn collect(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
    current: &str,
    grace: Duration,
    now: SystemTime,
) -> io::Result<GcReport> {
    let named = master_run(store.as_ref(), prefix).await?;
    let dir = ObjectSink::key(prefix, Some(RUNS), "");
    let markers: Vec<_> = store.list(Some(&dir)).try_collect().await.map_err(err)?;
    let mut report = GcReport::default();
    for m in markers {
        let Some(run) = m.location.filename().map(str::to_owned) else {
            continue;
        };
        if run == current || named.as_deref() == Some(run.as_str()) {
            continue;
        }
        let text = store.get(&m.location).await.map_err(err)?;
        let text = String::from_utf8_lossy(&text.bytes().await.map_err(err)?).into_owned();
        let superseded = text
            .lines()
            .find_map(|l| l.strip_prefix("superseded "))
            .and_then(|s| s.trim().parse::<u64>().ok());
        match superseded {
            None => {
                let text = format!("{text}superseded {}\n", secs(now));
                store
                    .put(&m.location, PutPayload::from(text))
                    .await
                    .map_err(err)?;
                report.superseded.push(run);
            }
            Some(at) if at.saturating_add(grace.as_secs()) <= secs(now) => {
                discard(store, prefix, &run).await?;
                report.deleted.push(run);
            }
            Some(_) => report.waiting.push(run),
        }
    }
    Ok(report)
}

/// `600`, `600s`, `10m`, `1h`: a duration in whole seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number of seconds, or N followed by s, m or h"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("{s:?}: the unit must be s, m or h")),
    };
    Ok(Duration::from_secs(n.saturating_mul(mult)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases: &[(&str, Option<u64>)] = &[
            ("600", Some(600)),
            ("10m", Some(600)),
            ("2s", Some(2)),
            ("1h", Some(3600)),
            ("0", Some(0)),
            ("", None),
            ("5d", None),
            ("m", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_duration(s).ok().map(|d| d.as_secs()), *want, "{s}");
        }
    }
}
