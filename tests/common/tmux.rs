//! A private tmux server for tests that drive the UI in a real terminal: start a command
//! in a detached session of a given size, type keys, read the screen.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A private tmux server (own socket file) with one detached session; killed, and its
/// socket removed, on drop, also when an assertion fails.
pub struct Tmux {
    socket: std::path::PathBuf,
    session: String,
}

impl Tmux {
    pub fn start(width: u16, height: u16, command: &str) -> Tmux {
        match Command::new("tmux").arg("-V").output() {
            Ok(o) if o.status.success() => {}
            _ => panic!("tmux is missing: run scripts/setup.sh (it installs tmux)"),
        }
        // One server per test: tests run in parallel, and each kills its server at the end.
        static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        let t = Tmux {
            socket: std::env::temp_dir().join(format!("vrft-tmux-test-{pid}-{n}")),
            session: format!("vrft-replay-{pid}-{n}"),
        };
        let out = t.tmux(&[
            "new-session",
            "-d",
            "-s",
            &t.session,
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        t
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// Types `text` literally (no key-name lookup).
    pub fn type_text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", &self.session, "-l", text]);
        assert!(out.status.success(), "send-keys: {out:?}");
    }

    /// Sends named keys such as `Enter`, `Tab`.
    pub fn key(&self, name: &str) {
        let out = self.tmux(&["send-keys", "-t", &self.session, name]);
        assert!(out.status.success(), "send-keys: {out:?}");
    }

    pub fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn query(&self, format: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", &self.session, format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Polls the pane until `ok` holds; fails with the last screen after [`TIMEOUT`].
    pub fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.try_wait(what, ok).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Tmux::wait`], saying what went wrong instead of panicking.
    pub fn try_wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> Result<String, String> {
        let start = Instant::now();
        loop {
            let s = self.screen();
            // tmux may show a frame half drawn: the screen must also hold still.
            if ok(&s) {
                std::thread::sleep(Duration::from_millis(50));
                if self.screen() == s {
                    return Ok(s);
                }
                continue;
            }
            if start.elapsed() > TIMEOUT {
                return Err(format!(
                    "timed out waiting for {what}; the screen was:\n{s}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        let _ = std::fs::remove_file(&self.socket);
    }
}
