// SPDX-License-Identifier: MIT OR Apache-2.0
//! SIGINT / SIGTERM during `package`. The first signal asks the packager to stop: the store
//! refuses further writes ([`Interruptible`]), packaging fails, the partial output is removed and
//! the process exits with status 130. A second signal exits at once; whatever is left then is
//! removed by the next run (see `outdir`).

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use media::package::StreamStore;
use media::store::Store;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Exit status after an interruption (128 + SIGINT, as shells report it).
pub const EXIT_STATUS: u8 = 130;

/// The error a run stopped by a signal ends with.
#[derive(Debug)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted by a signal")
    }
}

impl std::error::Error for Interrupted {}

/// Whether a signal asked the run to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Catches SIGINT and SIGTERM from now on (the handlers are installed before this returns).
#[cfg(unix)]
pub fn install() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal handler")?;
    let (mut int, mut term) = {
        let _in_runtime = rt.enter();
        let int = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
        let term = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
        (int, term)
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            rt.block_on(async move {
                loop {
                    tokio::select! {
                        _ = int.recv() => {},
                        _ = term.recv() => {},
                    }
                    if REQUESTED.swap(true, Ordering::SeqCst) {
                        std::process::exit(i32::from(EXIT_STATUS));
                    }
                }
            })
        })
        .context("cannot start the signal handler")?;
    Ok(())
}

#[cfg(not(unix))]
pub fn install() -> Result<()> {
    Ok(())
}

fn check() -> io::Result<()> {
    if requested() {
        Err(io::Error::other(Interrupted))
    } else {
        Ok(())
    }
}

/// A store that fails every write once a signal asked the run to stop.
pub struct Interruptible<S>(pub S);

impl<S: Store> Store for Interruptible<S> {
    fn put(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        check()?;
        self.0.put(name, data)
    }
    fn append(&mut self, name: &str, data: &[u8]) -> io::Result<u64> {
        check()?;
        self.0.append(name, data)
    }
    fn delete(&mut self, name: &str) -> io::Result<()> {
        self.0.delete(name)
    }
}

impl<S: StreamStore> StreamStore for Interruptible<S> {
    fn begin(&mut self, name: &str) -> io::Result<()> {
        check()?;
        self.0.begin(name)
    }
    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        check()?;
        self.0.write_parts(parts)
    }
    fn commit(&mut self) -> io::Result<()> {
        check()?;
        self.0.commit()
    }
}
