// SPDX-License-Identifier: MIT OR Apache-2.0
//! Bad input gets one clear line naming the file and what is wrong, a non-zero exit, never a panic,
//! and nothing in OUTDIR that looks valid.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{bin, fixtures, out_dir, run, work_dir};

fn bad_dir() -> PathBuf {
    let d = work_dir().join("bad");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn truncated(src: &Path, name: &str, keep: f64) -> PathBuf {
    let data = std::fs::read(src).unwrap();
    let p = bad_dir().join(name);
    std::fs::write(&p, &data[..(data.len() as f64 * keep) as usize]).unwrap();
    p
}

/// An H.264 MPEG-TS whose only IDR was cut off: SPS/PPS repeated on every frame (dump_extra), intra
/// refresh instead of IDRs, then the head of the file removed.
fn no_keyframe() -> PathBuf {
    let p = bad_dir().join("no_keyframe.ts");
    if p.exists() {
        return p;
    }
    let full = bad_dir().join("intra_refresh.ts");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30:duration=4",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-x264-params",
            "intra-refresh=1:keyint=30",
        ])
        .args(["-bsf:v", "dump_extra=freq=all", "-f", "mpegts"])
        .arg(&full)
        .status()
        .unwrap();
    assert!(st.success());
    let data = std::fs::read(&full).unwrap();
    // Drop the first half, packet aligned.
    let cut = (data.len() / 2) / 188 * 188;
    std::fs::write(&p, &data[cut..]).unwrap();
    p
}

fn unknown_codec() -> PathBuf {
    // MPEG-2 video in an `mp4v` entry: neither HLS format carries it (MPEG-4 Part 2 video,
    // object type 0x20, packages into TS).
    let p = bad_dir().join("mpeg2video.mp4");
    if !p.exists() {
        let st = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x120:rate=30:duration=1",
            ])
            .args(["-c:v", "mpeg2video", "-f", "mp4"])
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success());
    }
    p
}

fn expect_failure(case: &str, input: &Path, out: &Path, needles: &[&str]) {
    let o = run(Command::new(bin())
        .arg("package")
        .arg(input)
        .arg("-o")
        .arg(out)
        .arg("--quiet"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{case}: must fail, stderr: {stderr}");
    assert_eq!(
        o.status.code(),
        Some(1),
        "{case}: exit status 1 (not a panic's 101), stderr: {stderr}"
    );
    let errors: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{case}: one error line, got:\n{stderr}");
    let line = errors[0].to_lowercase();
    for n in needles {
        assert!(
            line.contains(&n.to_lowercase()),
            "{case}: message {line:?} should mention {n:?}"
        );
    }
    assert!(!out.exists(), "{case}: nothing written to OUTDIR");
    // Only this output's temp dirs: other tests package into the same parent meanwhile.
    let prefix = format!(".{}.", out.file_name().unwrap().to_string_lossy());
    if let Some(parent) = out.parent() {
        if let Ok(rd) = std::fs::read_dir(parent) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                assert!(!n.starts_with(&prefix), "{case}: temp dir {n} left behind");
            }
        }
    }
}

#[test]
fn bad_inputs_fail_with_one_clear_line() {
    let empty = bad_dir().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let random = bad_dir().join("random.mp4");
    let mut x: u32 = 0x1234_5678;
    let bytes: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(&random, bytes).unwrap();
    let faststart = fixtures::by_name("h264_aac.mp4");
    let moovlast = fixtures::by_name("h264_aac_moovlast.mov");
    let mid_mdat = truncated(&faststart, "truncated_mid_mdat.mp4", 0.6);
    let no_moov = truncated(&moovlast, "truncated_no_moov.mov", 0.6);
    let missing = bad_dir().join("does-not-exist.mp4");
    let cases: Vec<(&str, PathBuf, Vec<&str>)> = vec![
        ("empty", empty.clone(), vec!["empty.mp4", "empty"]),
        (
            "random bytes",
            random.clone(),
            vec!["random.mp4", "not a recognised container"],
        ),
        (
            "truncated mid-mdat",
            mid_mdat.clone(),
            vec![
                "truncated_mid_mdat.mp4",
                "beyond end of file",
                "--allow-truncated",
                "track",
                "sample",
                "offset",
            ],
        ),
        (
            "truncated, no moov",
            no_moov.clone(),
            vec!["truncated_no_moov.mov", "moov"],
        ),
        (
            "unknown codec",
            unknown_codec(),
            vec![
                "mpeg2video.mp4",
                "unsupported codec mp4v (object type 0x61)",
            ],
        ),
        (
            "no keyframe",
            no_keyframe(),
            vec!["no_keyframe.ts", "keyframe"],
        ),
        (
            "unreadable path",
            missing.clone(),
            vec!["does-not-exist.mp4", "cannot open"],
        ),
    ];
    for (case, input, needles) in cases {
        let out = out_dir(&format!("bad-{}", case.replace([' ', ','], "_")));
        expect_failure(case, &input, &out, &needles);
    }
    // OUTDIR not writable: its parent is a regular file.
    let parent_file = bad_dir().join("a-file");
    std::fs::write(&parent_file, b"x").unwrap();
    expect_failure(
        "outdir not writable",
        &faststart,
        &parent_file.join("out"),
        &["cannot"],
    );
}

/// `--allow-truncated` packages what is complete and warns — with `--quiet` too, which silences
/// only the progress bar and the summary (issue 14, item 11).
#[test]
fn truncated_mp4_packages_complete_part_when_allowed() {
    let faststart = fixtures::by_name("h264_aac.mp4");
    let input = truncated(&faststart, "truncated_allowed.mp4", 0.6);
    for quiet in [false, true] {
        let out = out_dir(&format!("truncated-allowed-{quiet}"));
        let o = run(Command::new(bin())
            .arg("package")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(["--allow-truncated", "--segment-duration", "1"])
            .args(quiet.then_some("-q")));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        assert!(
            stderr.to_lowercase().contains("truncat"),
            "quiet {quiet}: warns about truncation: {stderr}"
        );
        assert_eq!(o.stdout.is_empty(), quiet, "summary unless quiet");
        let errors = crate::common::probe::decode_errors(&out.join("master.m3u8"));
        assert!(errors.is_empty(), "{errors}");
    }
}

#[test]
fn summary_is_one_line_and_progress_is_silent_off_tty() {
    let input = fixtures::by_name("h264_aac.mp4");
    let out = out_dir("summary");
    let o = crate::common::package(&input, &out, &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 1, "one summary line: {stdout:?}");
    for n in ["segments", "avg", "peak", "wall"] {
        assert!(stdout.contains(n), "summary mentions {n}: {stdout}");
    }
    assert!(
        o.stderr.is_empty(),
        "no progress bar when stderr is not a terminal: {:?}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs `hlsorigin ARGS…` expecting a failure with one `error:` line that mentions every needle;
/// returns that line. The process is killed after 30 s (a wrongly accepted `serve` would run).
fn fails_with(case: &str, cwd: &Path, args: &[&str], needles: &[&str]) -> String {
    fails_with_status(case, cwd, args, needles, 1)
}

/// [`fails_with`] with another exit status (2: a usage error reported by clap).
fn fails_with_status(
    case: &str,
    cwd: &Path,
    args: &[&str],
    needles: &[&str],
    status: i32,
) -> String {
    let mut child = Command::new(bin())
        .current_dir(cwd)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn hlsorigin");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(status),
        "{case}: exit status, stderr: {stderr}"
    );
    let errors: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{case}: one error line, got:\n{stderr}");
    let line = errors[0].to_owned();
    for n in needles {
        assert!(line.contains(n), "{case}: {line:?} should mention {n:?}");
    }
    line
}

/// Every file under `dir` (relative path → bytes).
fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                files.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

/// Issue 14, item 1: `package` never deletes what hlsorigin did not write. A directory that is
/// not empty and has no `.hlsorigin` marker is refused (unless --force), a file is refused, an
/// input inside the output is refused even with --force; nothing is touched, no temp dir stays.
#[test]
fn package_never_deletes_what_it_did_not_write() {
    let root = work_dir().join("out").join("not-ours");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("victim")).unwrap();
    let sample = fixtures::by_name("h264_aac.mp4");
    std::fs::copy(&sample, root.join("victim/source.mp4")).unwrap();
    std::fs::write(root.join("victim/notes.txt"), b"my notes").unwrap();
    std::fs::write(root.join("a-file"), b"not a directory").unwrap();
    let src = sample.to_str().unwrap();
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "input inside the output",
            &["package", "victim/source.mp4", "-o", "victim"],
            &["-o victim", "victim/source.mp4", "inside"],
        ),
        (
            "input inside the output, forced",
            &["package", "victim/source.mp4", "-o", ".", "--force"],
            &["-o .", "name the output directory"],
        ),
        (
            "input inside the output (absolute), forced",
            &[
                "package",
                "victim/source.mp4",
                "-o",
                root.to_str().unwrap(),
                "--force",
            ],
            &["inside"],
        ),
        (
            "foreign directory",
            &["package", src, "-o", "victim"],
            &["-o victim", "not an hlsorigin output", "--force"],
        ),
        (
            "a file",
            &["package", src, "-o", "a-file", "--force"],
            &["-o a-file", "not a directory"],
        ),
    ];
    let before = snapshot(&root);
    for (case, args, needles) in cases {
        fails_with(case, &root, args, needles);
        assert_eq!(snapshot(&root), before, "{case}: nothing changed");
        let names: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.starts_with('.')),
            "{case}: no temp dir: {names:?}"
        );
    }
    // --force replaces a foreign directory that does not hold the input.
    let o = run(Command::new(bin())
        .current_dir(&root)
        .args(["package", src, "-o", "victim", "--force", "--quiet"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!root.join("victim/notes.txt").exists());
    assert!(crate::common::probe::decode_errors(&root.join("victim/master.m3u8")).is_empty());
    // That output is ours now: replaced again without --force, as is an empty directory.
    let o = run(Command::new(bin())
        .current_dir(&root)
        .args(["package", src, "-o", "victim", "--quiet"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::create_dir(root.join("empty")).unwrap();
    let o = run(Command::new(bin())
        .current_dir(&root)
        .args(["package", src, "-o", "empty", "--quiet"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(root.join("empty/master.m3u8").is_file());
}

/// Issue 14, item 12: each error is one line that names the file or flag and what to do, with
/// the OS error once.
#[test]
fn errors_name_the_file_or_flag_and_what_to_do() {
    let dir = work_dir().join("out").join("wording");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("typo.toml"), "listn = \"127.0.0.1:0\"\n").unwrap();
    std::fs::write(dir.join("value.toml"), "[serve]\nlisten = \"nope\"\n").unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let sample = fixtures::by_name("h264_aac.mp4");
    let src = sample.to_str().unwrap();
    let missing = dir.join("missing");
    /// (case, arguments, what the line says, OS error that must appear once)
    type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], Option<&'a str>);
    let cases: &[Case] = &[
        (
            "serve a missing directory",
            &[
                "serve",
                missing.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ],
            &["cannot serve", "missing", "existing directory"],
            Some("No such file or directory"),
        ),
        (
            "listen address in use",
            &["serve", ".", "--listen", &busy_addr],
            &["cannot listen on", &busy_addr, "--listen"],
            Some("in use"),
        ),
        (
            "output in an unwritable place",
            &["package", src, "-o", "/proc/x"],
            &["-o /proc/x", "cannot create a directory in /proc", "choose"],
            Some("No such file or directory"),
        ),
        (
            "output without a name",
            &["package", src, "-o", "."],
            &["-o .", "name the output directory", "-o out"],
            None,
        ),
        (
            "mistyped config key",
            &["--config", "typo.toml", "--listen", "127.0.0.1:0"],
            &["config file typo.toml", "\"listn\"", "did you mean listen"],
            None,
        ),
        (
            "bad value in the config file",
            &["serve", "--config", "value.toml"],
            &["config file value.toml", "key listen", "nope", "HOST:PORT"],
            None,
        ),
    ];
    for (case, args, needles, os_error) in cases {
        let line = fails_with(case, &dir, args, needles);
        assert!(
            !line.contains("cannot listen") || case.starts_with("listen"),
            "{case}: {line}"
        );
        if let Some(os) = os_error {
            assert_eq!(line.matches(os).count(), 1, "{case}: OS error once: {line}");
        }
    }
    fails_with_status(
        "unsupported live input",
        &dir,
        &["live", "--input", "http://example.com/live", "--name", "x"],
        &[
            "http:// is not supported",
            "udp://HOST:PORT",
            "tcp://HOST:PORT",
        ],
        2,
    );
    drop(busy);
}
