//! Progress of long work on standard error: a line that redraws itself on a
//! terminal (indicatif draws nothing when standard error is not one), and
//! with `--verbose` one line per step as it ends, terminal or not. Under
//! `--quiet` nothing. The results themselves never go through here.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::console::{self, Verbosity};

pub struct Progress {
    bar: ProgressBar,
    start: Instant,
    verbose: bool,
}

impl Progress {
    /// Work of `len` steps (0: phases of unknown count), named `what`.
    pub fn new(what: &str, len: u64) -> Self {
        let v = console::verbosity();
        let target = if v > Verbosity::Quiet && console::stderr_is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let (bar, template) = if len > 0 {
            (
                ProgressBar::with_draw_target(Some(len), target),
                "{spinner} {prefix} {pos}/{len} [{elapsed}] {wide_msg}",
            )
        } else {
            (
                ProgressBar::with_draw_target(None, target),
                "{spinner} {prefix} [{elapsed}] {wide_msg}",
            )
        };
        bar.set_style(ProgressStyle::with_template(template).expect("a valid progress template"));
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress {
            bar,
            start: Instant::now(),
            verbose: v == Verbosity::Verbose,
        }
    }

    /// What is going on now.
    pub fn message(&self, msg: impl Into<String>) {
        self.bar.set_message(msg.into());
    }

    /// A step ended: counted, and said as `line` under `--verbose` (above
    /// the progress line on a terminal, plainly otherwise).
    pub fn done(&self, line: impl std::fmt::Display) {
        self.bar.inc(1);
        if self.verbose {
            let line = format!("[{:6.1} s] {line}", self.start.elapsed().as_secs_f64());
            if self.bar.is_hidden() {
                let _ = crate::errln!("{line}");
            } else {
                self.bar.println(line);
            }
        }
    }

    /// Erase the progress line (the report follows on a clean line).
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An error unwinding past the work still leaves a clean line.
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}
