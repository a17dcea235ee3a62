// SPDX-License-Identifier: MIT OR Apache-2.0
//! `package` interrupted (SIGINT/SIGTERM) leaves nothing behind, and a later run removes only the
//! temp directories of runs that are dead (issue 14, item 3).

use std::path::{Path, PathBuf};

use crate::common::fixtures;
use crate::common::{package, probe, work_dir};

/// The repo's sample looped to ~10 minutes (~28 MB, stream copy): packaging it takes long enough
/// to be caught in the middle. Made once per test binary (the tests run on several threads).
fn long_input() -> PathBuf {
    static MADE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let out = work_dir().join("media").join("long_sample.mp4");
        if out.exists() {
            return out;
        }
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let tmp = out.with_extension(format!("tmp-{}.mp4", std::process::id()));
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("media/sample.mp4");
        let st = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-stream_loop", "29", "-i"])
            .arg(&sample)
            .args(["-c", "copy", "-f", "mp4"])
            .arg(&tmp)
            .status()
            .expect("ffmpeg");
        assert!(st.success(), "ffmpeg looping the sample");
        std::fs::rename(&tmp, &out).unwrap();
        out
    })
    .clone()
}

/// Hidden directories beside `out` (`.out.tmp-RUN`, `.out.old-RUN`, …).
fn hidden_siblings(out: &Path) -> Vec<String> {
    let prefix = format!(".{}.", out.file_name().unwrap().to_string_lossy());
    let mut v: Vec<String> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    v.sort();
    v
}

/// A fresh output path with no hidden siblings left from earlier test runs.
fn fresh_out(name: &str) -> PathBuf {
    // In a directory of their own: other tests check theirs for stray temp dirs.
    let out = crate::common::out_dir(&format!("signals/{name}"));
    for n in hidden_siblings(&out) {
        std::fs::remove_dir_all(out.parent().unwrap().join(n)).unwrap();
    }
    out
}

/// Whether the temp directory `name` beside `out` holds a complete marker (written right after
/// the directory is created: a run killed in between leaves an unmarked directory, kept as not
/// provably ours).
fn marked(out: &Path, name: &str) -> bool {
    std::fs::read_to_string(out.parent().unwrap().join(name).join(".hlsorigin"))
        .is_ok_and(|m| m.contains("\npid "))
}

/// Starts `package INPUT -o OUT` and returns once its temp directory exists with its marker
/// (the run is under way), with the child still running.
fn start_packaging(input: &Path, out: &Path) -> std::process::Child {
    let before = hidden_siblings(out);
    let mut child = std::process::Command::new(crate::common::bin())
        .arg("package")
        .arg(input)
        .arg("-o")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn package");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !hidden_siblings(out)
        .iter()
        .any(|n| n.contains(".tmp-") && !before.contains(n) && marked(out, n))
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "package ended before its temp dir was seen"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no temp dir within 60 s"
        );
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    child
}

fn signal(child: &std::process::Child, sig: &str) {
    let st = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig}");
}

/// Issue 14, item 3: SIGINT / SIGTERM in the middle of `package` remove the temp directory
/// (hundreds of MB for a long input) and exit with 130; OUT is not created.
#[test]
fn interrupted_package_leaves_nothing_behind() {
    let input = long_input();
    for sig in ["TERM", "INT"] {
        let out = fresh_out(&format!("interrupted-{sig}"));
        let child = start_packaging(&input, &out);
        signal(&child, sig);
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(130),
            "SIG{sig}: {:?} {stderr}",
            o.status
        );
        assert!(stderr.contains("interrupted"), "SIG{sig}: {stderr}");
        assert_eq!(hidden_siblings(&out), Vec::<String>::new(), "SIG{sig}");
        assert!(!out.exists(), "SIG{sig}: no output");
    }
}

/// Issue 14, item 3: a run killed with SIGKILL leaves its temp directory; the next run to that
/// output removes it, but not one of a run still going (stopped here with SIGSTOP) nor a hidden
/// directory without hlsorigin's marker.
#[test]
fn next_run_removes_temp_dirs_of_dead_runs_only() {
    let input = long_input();
    let out = fresh_out("stale-temp");
    let killed = start_packaging(&input, &out);
    signal(&killed, "KILL");
    let _ = killed.wait_with_output();
    let stale = hidden_siblings(&out);
    assert_eq!(stale.len(), 1, "SIGKILL leaves the temp dir: {stale:?}");
    let foreign = out.parent().unwrap().join(".stale-temp.tmp-not-ours");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), b"x").unwrap();

    let paused = start_packaging(&input, &out);
    signal(&paused, "STOP");
    let running: Vec<_> = hidden_siblings(&out)
        .into_iter()
        .filter(|n| !stale.contains(n) && !n.ends_with("not-ours"))
        .collect();
    let small = fixtures::by_name("h264_aac.mp4");
    package(&small, &out, &["--quiet"]);
    let left = hidden_siblings(&out);
    signal(&paused, "CONT");
    let o = paused.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    assert!(
        !left.contains(&stale[0]),
        "dead run's dir removed: {left:?}"
    );
    assert!(foreign.join("keep.txt").exists(), "unmarked dir kept");
    for n in &running {
        assert!(left.contains(n), "running process's {n} kept: {left:?}");
    }
    assert_eq!(
        hidden_siblings(&out),
        vec![".stale-temp.tmp-not-ours".to_string()],
        "the paused run finished and cleaned up after itself"
    );
    assert!(probe::decode_errors(&out.join("master.m3u8")).is_empty());
}
