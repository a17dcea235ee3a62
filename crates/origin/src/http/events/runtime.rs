// SPDX-License-Identifier: MIT OR Apache-2.0
//! The WebSocket sessions' own runtime, off the media path.
//!
//! Fan-out to thousands of sockets is CPU: one `writev` per socket per event, most of it the
//! kernel's TCP path (BENCHMARKS.md "Events"). Run on the server's runtime, those writes
//! share its workers with playlist answers, blocking reloads and part fetches, and an LL-HLS
//! player's latency grows with the subscriber count. Here every socket runs on a runtime of
//! its own whose threads run at a lower scheduling priority (`nice` +[`NICE`], Linux): with
//! CPU to spare they take it all; when the cores are short, the HLS path goes first.
//!
//! `--events-threads` sets its size (default: one thread per core; 0: the sockets stay on the
//! server's runtime). The runtime belongs to the server's events edge and stops with it.

use std::future::Future;

use tokio::runtime::{Builder, Runtime};

/// Added niceness of the sessions' threads (0 normal … 19 lowest).
const NICE: i32 = 10;

/// Where WebSocket sessions run.
#[derive(Debug)]
pub(crate) struct Sessions {
    /// `None`: on the caller's (the server's) runtime.
    runtime: Option<Runtime>,
}

impl Sessions {
    /// `threads`: `None` one per core, `Some(0)` none (the server's runtime).
    pub(crate) fn new(threads: Option<usize>) -> Self {
        let threads = threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        });
        let runtime = (threads > 0)
            .then(|| {
                Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("hlsorigin-events")
                    .on_thread_start(lower_priority)
                    .enable_all()
                    .build()
                    .map_err(|e| {
                        tracing::warn!(error = %e, "events runtime not started; sockets share the server's");
                    })
                    .ok()
            })
            .flatten();
        Sessions { runtime }
    }

    /// Runs `session` on the sessions' runtime (or the current one).
    pub(crate) fn spawn<F>(&self, session: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match &self.runtime {
            Some(rt) => drop(rt.spawn(session)),
            None => drop(tokio::spawn(session)),
        }
    }
}

impl Drop for Sessions {
    fn drop(&mut self) {
        // Dropped from async code (the server's end): a blocking shutdown would panic.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// `nice` +[`NICE`] for the calling thread (Linux: a thread id is a process id to setpriority).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), NICE) {
            tracing::debug!(error = %e, "events thread keeps its priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_run_on_lower_priority_threads_of_their_own() {
        let sessions = Sessions::new(Some(1));
        let (tx, rx) = tokio::sync::oneshot::channel();
        sessions.spawn(async move {
            let name = std::thread::current().name().map(str::to_owned);
            #[cfg(target_os = "linux")]
            let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok();
            #[cfg(not(target_os = "linux"))]
            let nice = Some(NICE);
            let _ = tx.send((name, nice));
        });
        let (name, nice) = rx.await.expect("the session ran");
        assert_eq!(name.as_deref(), Some("hlsorigin-events"));
        // The test process itself may already run niced; the thread is at least NICE.
        assert!(nice.is_some_and(|n| n >= NICE), "niceness {nice:?}");
    }

    #[tokio::test]
    async fn zero_threads_keep_sessions_on_the_callers_runtime() {
        let sessions = Sessions::new(Some(0));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let here = std::thread::current().id();
        sessions.spawn(async move {
            let _ = tx.send(std::thread::current().id());
        });
        // A current-thread test runtime: the caller's runtime has this one thread.
        assert_eq!(rx.await.expect("the session ran"), here);
    }
}
