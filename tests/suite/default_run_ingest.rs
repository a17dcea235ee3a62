// SPDX-License-Identifier: MIT OR Apache-2.0
//! The default run's RTMP ingest (issue 10): it prints the OBS settings, an ffmpeg publish to
//! `rtmp://…/live/test` becomes the LL-HLS stream `test` in /api/streams beside the packaged
//! files, and an ingest port already in use is a warning, not a failed start. A non-default
//! port (`--ingest-rtmp 127.0.0.1:0`) keeps the tests off 1935.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use crate::common::{bin, out_dir};
use crate::suite::live::harness::{encoder, get, wait_for, Playlist};

struct Run {
    child: Child,
    lines: Receiver<String>,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Run {
    /// The default run in `dir` (media/ and playlists/ inside) on free ports; stdout and
    /// stderr lines arrive on one channel.
    fn start(dir: &Path, args: &[&str]) -> Run {
        std::fs::create_dir_all(dir).expect("dir");
        let mut child = Command::new(bin())
            .current_dir(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hlsorigin");
        let (tx, rx) = channel();
        let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().expect("stdout"));
        let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().expect("stderr"));
        for pipe in [out, err] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Run { child, lines: rx }
    }

    /// One line containing each of `whats`, in any order (stdout and stderr interleave).
    fn lines_with(&self, whats: &[&str]) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut found: Vec<Option<String>> = vec![None; whats.len()];
        while found.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no output lines with {whats:?} within 30 s"));
            for (what, slot) in whats.iter().zip(found.iter_mut()) {
                if slot.is_none() && line.contains(what) {
                    *slot = Some(line.clone());
                }
            }
        }
        found.into_iter().flatten().collect()
    }
}

fn url_in(line: &str, scheme: &str) -> String {
    let at = line
        .find(scheme)
        .unwrap_or_else(|| panic!("{scheme} in {line}"));
    line.get(at..)
        .and_then(|s| s.split_whitespace().next())
        .map(|s| s.trim_end_matches('/').to_owned())
        .expect("url")
}

#[test]
fn default_run_prints_obs_settings_and_takes_an_rtmp_publisher() {
    let dir = out_dir("default-run-ingest");
    let run = Run::start(
        &dir,
        &[
            "--ingest-rtmp",
            "127.0.0.1:0",
            "--ingest-srt",
            "127.0.0.1:0",
        ],
    );
    let seen = run.lines_with(&["serving ", "OBS: Server rtmp://127.0.0.1:"]);
    let (base, obs) = (url_in(&seen[0], "http://"), seen[1].clone());
    let server = url_in(&obs, "rtmp://");
    assert!(server.ends_with("/live"), "{obs}");
    assert!(obs.contains("Stream key test "), "{obs}");
    assert!(obs.contains(&format!("{base}/test/master.m3u8")), "{obs}");

    // A port already in use: a warning, and the run still serves.
    let port = server
        .trim_start_matches("rtmp://")
        .trim_end_matches("/live");
    let busy = Run::start(
        &dir.join("busy"),
        &["--ingest-rtmp", port, "--ingest-srt", "127.0.0.1:0"],
    );
    let seen = busy.lines_with(&["serving ", "no RTMP ingest"]);
    let (busy_base, warning) = (url_in(&seen[0], "http://"), &seen[1]);
    assert!(warning.contains("cannot listen for RTMP"), "{warning}");
    assert_eq!(get(&busy_base, "/api/streams").status, 200);
    drop(busy);

    let _publisher = encoder(
        &format!("{server}/test"),
        &["-f", "flv"],
        None,
        Stdio::null(),
    );
    let p = wait_for("the published stream's segments", 90, || {
        let r = get(&base, "/test/stream.m3u8");
        (r.status == 200)
            .then(|| Playlist::parse(&r.text()))
            .filter(|p| p.segments.len() >= 2)
    });
    // LL-HLS is on.
    assert!(p.text.contains("#EXT-X-PART:"), "{}", p.text);
    assert!(p.hint.is_some(), "{}", p.text);
    let streams = wait_for("test listed as live", 30, || {
        let s = get(&base, "/api/streams").text();
        (s.contains("\"test/master.m3u8\"") && s.contains("\"live\"")).then_some(s)
    });
    assert!(streams.contains("\"kind\":\"live\""), "{streams}");
}
