//! The attach progress bar, shared by the backends that attach function by
//! function or link by link.

use indicatif::{ProgressBar, ProgressStyle};

/// The progress bar; without a terminal it is hidden and the phases are
/// printed as lines, for scripts and logs.
pub struct Bar {
    bar: ProgressBar,
    plain: bool,
}

impl Bar {
    pub fn new(len: usize) -> Bar {
        let style = ProgressStyle::with_template(
            "{prefix:>9} {bar:30} {pos}/{len} functions {msg} ({per_sec})",
        )
        .expect("valid template");
        Bar {
            bar: ProgressBar::new(len as u64).with_style(style),
            plain: !std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }

    pub fn phase(&self, name: &'static str) {
        self.bar.set_position(0);
        self.bar.set_prefix(name);
        self.bar.reset_eta();
    }

    pub fn step(&self, msg: &str) {
        self.advance(1, msg);
    }

    /// `n` functions done at once (a whole link).
    pub fn advance(&self, n: usize, msg: &str) {
        if !msg.is_empty() {
            self.bar.set_message(msg.to_string());
        }
        self.bar.inc(n as u64);
    }

    pub fn line(&self, text: &str) {
        if self.plain {
            eprintln!("{text}");
        }
    }

    /// Ends the bar, leaving one line that says what was attached: it stays on
    /// the terminal's normal screen under the UI and after it.
    pub fn finish(&self, summary: &str) {
        self.bar.finish_and_clear();
        eprintln!("{summary}");
    }
}

impl Drop for Bar {
    /// An attach that failed half way leaves no bar behind.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
