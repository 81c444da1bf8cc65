//! Scenarios: a guest shell script plus a host-side check of what it printed and left in /out.
//!
//! All selected scenarios for one kernel share one boot: `/init` runs them one after another, each
//! in `sh -e` under its own timeout, with `$OUT` = /out/<name>, and brackets each with console
//! markers (`VRFT-BEGIN <name>` / `VRFT-END <name> <status> <uptime>`) so the host can split the
//! console into per-scenario logs. Network namespaces are deleted between scenarios.

use std::path::PathBuf;

pub type Check = Box<dyn Fn(&Outcome) -> Result<(), String> + Send + Sync>;

pub struct Scenario {
    pub name: &'static str,
    /// Guest shell script body; runs with `set -e`, the helpers of `GUEST_HELPERS` and `$OUT`.
    pub script: String,
    /// Seconds the guest gives the script before killing it.
    pub timeout: u32,
    /// Kernels (short names) this scenario runs on; empty means every kernel of
    /// [`super::kernel::EVERY_SCENARIO`].
    pub kernels: &'static [&'static str],
    /// Further kernels, beyond those, where the scenario proves something too.
    pub also: &'static [&'static str],
    /// The script's expected exit status.
    pub expect_exit: i32,
    pub check: Check,
}

impl Scenario {
    pub fn new(
        name: &'static str,
        script: impl Into<String>,
        check: impl Fn(&Outcome) -> Result<(), String> + Send + Sync + 'static,
    ) -> Scenario {
        Scenario {
            name,
            script: script.into(),
            timeout: 60,
            kernels: &[],
            also: &[],
            expect_exit: 0,
            check: Box::new(check),
        }
    }

    pub fn timeout(mut self, secs: u32) -> Scenario {
        self.timeout = secs;
        self
    }

    /// Runs the scenario only on these kernels, e.g. `&["6.12"]` for kprobe.multi.
    pub fn only_on(mut self, kernels: &'static [&'static str]) -> Scenario {
        self.kernels = kernels;
        self
    }

    /// Runs the scenario on these kernels too, beside those of `EVERY_SCENARIO`.
    pub fn also_on(mut self, kernels: &'static [&'static str]) -> Scenario {
        self.also = kernels;
        self
    }

    pub fn runs_on(&self, kernel: &str) -> bool {
        let base = if self.kernels.is_empty() {
            super::kernel::EVERY_SCENARIO
        } else {
            self.kernels
        };
        base.contains(&kernel) || self.also.contains(&kernel)
    }

    pub fn expect_exit(mut self, status: i32) -> Scenario {
        self.expect_exit = status;
        self
    }
}

/// What one scenario left behind, as the host sees it.
pub struct Outcome {
    /// Short kernel name, e.g. "6.12".
    pub kernel: String,
    /// The scenario's part of the guest console (its output and any kernel messages meanwhile).
    pub log: String,
    /// The scenario's $OUT directory, unpacked on the host.
    pub dir: PathBuf,
}

impl Outcome {
    /// Host path of a file the scenario wrote as `$OUT/<name>`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn read(&self, name: &str) -> Result<String, String> {
        std::fs::read_to_string(self.path(name)).map_err(|e| format!("$OUT/{name}: {e}"))
    }

    /// Checks that the receiver of `Flow` `tag` got exactly the IDs `first..first+count`, once each.
    pub fn expect_ids(&self, tag: &str, count: u32) -> Result<(), String> {
        let text = self.read(&format!("{tag}.ids"))?;
        let mut ids: Vec<u32> = text
            .lines()
            .map(|l| l.parse().map_err(|e| format!("{tag}.ids: {l:?}: {e}")))
            .collect::<Result<_, _>>()?;
        ids.sort_unstable();
        let want: Vec<u32> = (1..=count).collect();
        if ids != want {
            return Err(format!(
                "{tag}: received IDs {ids:?}, want 1..={count} once each"
            ));
        }
        Ok(())
    }
}

/// Shell functions every scenario script can use.
pub const GUEST_HELPERS: &str = r#"
# Debian's static busybox runs its own applets before searching PATH, so name the real tools by path.
ip() { /bin/ip "$@"; }
ping() { /bin/ping "$@"; }
# wait_file FILE [SECONDS]: wait until a background process creates FILE (default 20 s).
wait_file() {
  i=0
  while [ ! -e "$1" ]; do
    i=$((i + 1))
    [ "$i" -le $((${2:-20} * 10)) ] || { echo "timed out waiting for $1" >&2; return 1; }
    sleep 0.1
  done
}
# wait_for FILE PID SECONDS [PATTERN]: until FILE exists (and has a line starting with PATTERN),
# failing with FILE's content if process PID ends first or after SECONDS.
wait_for() {
  i=0
  until [ -e "$1" ] && { [ -z "$4" ] || grep -q "^$4" "$1"; }; do
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2 2>/dev/null; echo "process $2 ended before $1 was ready" >&2; return 1; }
    i=$((i + 1))
    [ "$i" -le $(($3 * 5)) ] || { cat "$1" >&2 2>/dev/null; echo "timed out waiting for $1 ${4:+(a line '$4')}" >&2; return 1; }
    sleep 0.2
  done
}
# wait_released SECONDS: until vrft-tui's background release has closed every link; prints its log.
wait_released() {
  i=0
  while [ -e /run/vrft-tui/release.pid ] && kill -0 "$(cat /run/vrft-tui/release.pid)" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -le $(($1 * 2)) ] || { echo "release still running after $1 s" >&2; return 1; }
    sleep 0.5
  done
  cat /run/vrft-tui/release.log 2>/dev/null || echo "nothing to release"
}
# stamp LABEL: the guest's uptime on the console, to see where a scenario's time goes.
stamp() { echo "VRFT-STAMP $1 $(cut -d' ' -f1 /proc/uptime)"; }
# at NS CMD...: run CMD in network namespace NS.
at() { ns=$1; shift; ip netns exec "$ns" "$@"; }
# counter NS DEV STAT: a device statistic, e.g. counter a vxlan0 tx_packets.
counter() { at "$1" cat "/sys/class/net/$2/statistics/$3"; }
"#;

/// The guest's `/init` for one boot running `scenarios` in order.
pub fn init_script(scenarios: &[&Scenario]) -> String {
    let mut s = String::from(
        r#"#!/bin/sh
# Generated by tests/vm/scenario.rs: set up the guest, run each scenario, hand /out back, power off.
export PATH=/bin
ip() { /bin/ip "$@"; }
die() { echo "init: $*"; echo "VRFT-EXIT 1"; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf || die "mount bpffs"
mount -t tracefs tracefs /sys/kernel/tracing || die "mount tracefs"
mount -t debugfs debugfs /sys/kernel/debug || die "mount debugfs"
for m in $(cat /etc/modules); do insmod "/lib/modules/$m.ko" || die "insmod $m"; done
ip link set lo up
echo "VRFT-BOOTED $(uname -r) $(cut -d' ' -f1 /proc/uptime)"
run() {
  mkdir -p "/out/$1"
  echo "VRFT-BEGIN $1"
  # Own session and process group, so whatever the script leaves running can be killed after it.
  OUT="/out/$1" timeout -s KILL "$2" setsid sh -e "/scenarios/$1.sh" </dev/null &
  wait $!
  rc=$?
  kill -9 -$! 2>/dev/null
  ip -all netns delete
  echo "VRFT-END $1 $rc $(cut -d' ' -f1 /proc/uptime)"
}
"#,
    );
    for sc in scenarios {
        s += &format!("run {} {}\n", sc.name, sc.timeout);
    }
    s += r#"i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
tar -cf /dev/vda -C /out . || die "writing /out to /dev/vda"
sync
echo "VRFT-EXIT 0"
poweroff -f
"#;
    s
}

/// The script file for one scenario: helpers, then its body.
pub fn guest_script(sc: &Scenario) -> String {
    format!(
        "#!/bin/sh\n# scenario {}\n{GUEST_HELPERS}\n{}\n",
        sc.name, sc.script
    )
}

/// The words after console marker `tag` (e.g. "VRFT-EXIT") in `line`. Markers may follow the
/// firmware's terminal escapes on the same line, so they are searched for, not prefix-matched.
pub fn marker<'a>(line: &'a str, tag: &str) -> Option<Vec<&'a str>> {
    let (_, rest) = line.split_once(tag)?;
    rest.starts_with(' ')
        .then(|| rest.split_whitespace().collect())
}

/// One scenario's status and console section, found between its markers.
pub fn split_console(console: &str, name: &str) -> Option<(i32, String)> {
    let mut log = String::new();
    let mut inside = false;
    for line in console.lines() {
        if marker(line, "VRFT-BEGIN").is_some_and(|w| w == [name]) {
            inside = true;
        } else if let Some([ended, status, ..]) = marker(line, "VRFT-END").as_deref() {
            if *ended == name {
                return Some((status.parse().ok()?, log));
            }
        } else if inside {
            log += line;
            log.push('\n');
        }
    }
    None
}
