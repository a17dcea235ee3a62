// SPDX-License-Identifier: MIT OR Apache-2.0
//! `hlsorigin`: package video into HLS, segment live input, serve it as an origin.
//! The CLI edge: argument parsing, logging, error reporting. All media work lives in the
//! `media` crate, all HTTP in the `origin` crate.

mod cli;
mod fs_store;
mod ingest;
mod input;
mod interrupt;
mod outdir;
mod root_watch;
mod storage;

use std::process::ExitCode;

fn main() -> ExitCode {
    keep_freed_memory();
    let args = match cli::parse() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            return ExitCode::FAILURE;
        }
    };
    cli::init_tracing(args.verbose);
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed stdout (e.g. `| head`) is not a failure.
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            if err.chain().any(|c| c.is::<interrupt::Interrupted>()) {
                eprintln!("interrupted: nothing was written");
                return ExitCode::from(interrupt::EXIT_STATUS);
            }
            eprintln!("error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: an error whose message already
/// quotes its source (`cannot listen on …: {source}`) does not get the source repeated.
fn one_line(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

/// glibc returns a freed allocation above its mmap threshold (128 KiB at first, raised as
/// such blocks are freed) to the system, and trims the free memory at the top of a heap beyond
/// twice that: a just-in-time segment (6 MB for 1080p) cost two fresh mappings per request,
/// ~3,000 page faults, each page zeroed by the kernel — most of the segment's CPU. Fixed
/// thresholds keep up to 64 MiB free per arena for the next request, and fewer arenas (two per
/// core instead of eight) bound what is kept: JIT segment throughput 0.96 -> 1.40 GB/s, RSS
/// after 16 concurrent JIT clients 143 -> 270 MB (BENCHMARKS.md "Just-in-time packaging").
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // A user's own tuning (glibc's MALLOC_ARENA_MAX, MALLOC_TRIM_THRESHOLD_, …) wins.
        if std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("MALLOC_")) {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let arenas = i32::try_from(cores.saturating_mul(2).max(2)).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets allocator parameters; called before any thread exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Quoting(std::io::Error);
    impl std::fmt::Display for Quoting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot serve root /x: {}", self.0)
        }
    }
    impl std::error::Error for Quoting {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn each_cause_is_printed_once() {
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let cases: Vec<(anyhow::Error, String)> = vec![
            (
                anyhow::Error::new(Quoting(io())),
                format!("cannot serve root /x: {}", io()),
            ),
            (
                anyhow::Error::new(io()).context("cannot open a.mp4"),
                format!("cannot open a.mp4: {}", io()),
            ),
            (
                anyhow::Error::new(Quoting(io())).context("serve"),
                format!("serve: cannot serve root /x: {}", io()),
            ),
        ];
        for (err, want) in cases {
            assert_eq!(one_line(&err), want);
        }
    }
}
