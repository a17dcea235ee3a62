// SPDX-License-Identifier: MIT OR Apache-2.0
//! rml_rtmp indexes and subtracts on peer-controlled sizes: a malformed peer input can make it
//! panic. [`guarded`] runs its code under `catch_unwind` (the panic ends that connection with
//! an error, never the process) and keeps such a panic quiet: the process-wide panic hook it
//! installs once records a panic raised inside [`guarded`] for the error instead of printing
//! it (a message and a backtrace note on stderr read as a crash to an operator), and hands
//! every other panic to the hook that was there before. The error, with the panic's message
//! and place, is the caller's to log once (the binary logs it with the peer's address).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// Set while this thread runs rml_rtmp code under [`guarded`].
    static IN_RML: Cell<bool> = const { Cell::new(false) };
    /// The last panic the hook kept quiet on this thread: "message at file:line".
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Whether this thread is running rml_rtmp code under [`guarded`] (a panic there is caught
/// and ends the connection): for a panic hook that must tell those from real ones (the fuzz
/// target's).
pub fn in_protocol_library() -> bool {
    IN_RML.with(Cell::get)
}

/// Runs rml_rtmp code: its panic is a bad peer, `Err` with the panic's message and place.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    IN_RML.with(|c| c.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_RML.with(|c| c.set(false));
    result.map_err(|payload| {
        CAUGHT
            .with(|c| c.borrow_mut().take())
            .unwrap_or_else(|| message(payload.as_ref()).to_owned())
    })
}

/// Installs the hook once per process, over whatever hook is there (the default one, or a
/// fuzz target's).
fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if in_protocol_library() {
                let place = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let text = format!("{}{place}", message(info.payload()));
                CAUGHT.with(|c| *c.borrow_mut() = Some(text));
            } else {
                previous(info);
            }
        }));
    });
}

/// The text of a panic's payload (`panic!` with a literal or a format string).
fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_is_an_error_with_its_message_and_place() {
        let v: Vec<u8> = Vec::new();
        let index = std::hint::black_box(3);
        let e = guarded(|| v[index]).unwrap_err();
        assert!(e.contains("index out of bounds"), "{e}");
        assert!(e.contains("guard.rs:"), "{e}");
        assert!(!in_protocol_library());
        assert_eq!(guarded(|| 7), Ok(7));
        // The hook is installed once and only quiets panics inside `guarded`.
        let outside = std::panic::catch_unwind(|| -> u8 { panic!("outside") });
        assert!(outside.is_err());
        assert_eq!(CAUGHT.with(|c| c.borrow().clone()), None);
    }
}
