// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `package` progress bar. Until the input's duration is known it is a spinner with the
//! seconds packaged so far; then a bar with percent and ETA. It never shows a percentage it has
//! not reached (a bar of unknown or zero length reads 100 % in indicatif).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use media::package::Progress;

pub struct PackageProgress {
    bar: ProgressBar,
    sized: bool,
}

impl PackageProgress {
    /// A bar drawn on stderr, or nothing when `show` is false.
    pub fn new(show: bool) -> Self {
        if show {
            Self::with_target(ProgressDrawTarget::stderr(), true)
        } else {
            Self::with_target(ProgressDrawTarget::hidden(), false)
        }
    }

    fn with_target(target: ProgressDrawTarget, tick: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message("packaging");
        if tick {
            bar.enable_steady_tick(Duration::from_millis(100));
        }
        PackageProgress { bar, sized: false }
    }

    pub fn update(&mut self, p: Progress) {
        match p.total_secs {
            Some(total) if total > 0.0 => {
                if !self.sized {
                    self.sized = true;
                    self.bar.set_length((total * 1000.0) as u64);
                    self.bar.set_message("");
                    self.bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{bar:40}] {percent:>3}% {msg} ({eta})",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                }
                self.bar.set_position((p.done_secs * 1000.0) as u64);
            }
            _ => self
                .bar
                .set_message(format!("{:.1} s packaged", p.done_secs)),
        }
    }

    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

    use super::*;

    /// A terminal that records every line drawn.
    #[derive(Debug, Default, Clone)]
    struct Screen(Arc<Mutex<Vec<String>>>);

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if !s.trim().is_empty() {
                self.0.lock().unwrap().push(s.to_owned());
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// (done, total) → the percentage shown afterwards (None: no percentage at all).
    #[test]
    fn never_shows_a_percentage_not_reached() {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let mut p = PackageProgress::with_target(target, false);
        let p_at = |done: f64, total: Option<f64>| Progress {
            done_secs: done,
            total_secs: total,
        };
        let steps: &[(Option<Progress>, Option<&str>)] = &[
            (None, None),
            (Some(p_at(1.0, None)), None),
            (Some(p_at(0.0, Some(10.0))), Some("  0%")),
            (Some(p_at(2.5, Some(10.0))), Some(" 25%")),
            (Some(p_at(10.0, Some(10.0))), Some("100%")),
        ];
        for (i, (step, want)) in steps.iter().enumerate() {
            if let Some(step) = step {
                p.update(*step);
            }
            p.bar.tick();
            let lines = screen.0.lock().unwrap().clone();
            let last = lines.last().cloned().unwrap_or_default();
            match want {
                Some(w) => assert!(last.contains(w), "step {i}: {last:?} should show {w}"),
                None => assert!(!last.contains('%'), "step {i}: {last:?} shows a percentage"),
            }
            assert!(
                i + 1 == steps.len() || lines.iter().all(|l| !l.contains("100%")),
                "step {i}: 100 % shown early: {lines:?}"
            );
        }
    }
}
