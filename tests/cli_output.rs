//! The built binary on the real recording, as a shell runs it: `dump` with a filter and
//! `--oneline` into a pipe its reader closes early, and `replay` where it cannot open a UI.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};

use vrft_ui::testkit::REAL_RECORDING;

/// The lab recording of issue 16 (tests/vm/lab.rs).
const LAB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/lab-6.12-kprobe.vrft"
);

fn vrft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrft-tui"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run vrft-tui")
}

/// A pipe that holds one page, so that a writer blocks after 4 KiB: the reader decides when
/// the writer meets a closed pipe.
fn small_pipe() -> (File, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fds[0] is the read end just created; F_SETPIPE_SZ takes an int.
    let size = unsafe { libc::fcntl(fds[0], libc::F_SETPIPE_SZ, 4096) };
    assert!(
        size >= 4096,
        "F_SETPIPE_SZ: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: both descriptors are open and owned by nothing else.
    unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// `vrft-tui dump FILE FILTER --oneline | head -3`: three packets, then the reader is gone;
/// dump ends with status 0 and says nothing.
#[test]
fn dump_oneline_into_head_ends_quietly() {
    let (read, write) = small_pipe();
    let child = Command::new(env!("CARGO_BIN_EXE_vrft-tui"))
        .args(["dump", REAL_RECORDING, "udp or arp", "--oneline"])
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vrft-tui");
    let lines: Vec<String> = BufReader::new(read)
        .lines()
        .take(3)
        .map(Result::unwrap)
        .collect();
    // The first line is a packet, not a comment: time, id, flow, interfaces, calls, dur.
    assert!(
        lines[0].starts_with("181.381750 1 udp 10.11.0.1:59459>10.11.0.2:7777")
            && lines[0].contains(" eth0>eth0 calls 98 dur 34.999 ms"),
        "{lines:?}"
    );
    // `lines` dropped the reader: everything after the third line meets a closed pipe.
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(out.status.success(), "{:?}", out.status);
}

/// The issue's own command, `dump FILE 'icmp and netns=b' --oneline | head -3`, on the lab
/// recording, which names its namespaces and carries the wall clock (format 7).
#[test]
fn dump_icmp_in_a_named_namespace_into_head() {
    let out = Command::new("bash")
        .args([
            "-c",
            "set -o pipefail; \"$0\" dump \"$1\" 'icmp and netns=b' --oneline | head -3",
        ])
        .arg(env!("CARGO_BIN_EXE_vrft-tui"))
        .arg(LAB)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(out.status.success(), "{:?}", out.status);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for l in &lines {
        // Wall clock, id, then what the headers say: ICMP seen in namespace b.
        assert!(l.starts_with("2026-12-04 ") && l.contains("icmp"), "{text}");
    }
}

#[test]
fn dump_oneline_prints_one_line_per_matching_packet() {
    let all = vrft(&["dump", REAL_RECORDING, "--oneline"]);
    assert!(all.status.success());
    let all = String::from_utf8(all.stdout).unwrap();
    assert_eq!(all.lines().count(), 133, "every packet, no header");
    // The filter words may come unquoted, and the language is the UI's.
    let out = vrft(&[
        "dump",
        REAL_RECORDING,
        "--oneline",
        "udp",
        "and",
        "not",
        "iface=eth0",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.is_empty());
    for l in text.lines() {
        assert!(l.contains(" udp ") && !l.contains("eth0"), "{l}");
    }
    let drops = vrft(&["dump", REAL_RECORDING, "--oneline", "drop"]);
    for l in String::from_utf8(drops.stdout).unwrap().lines() {
        assert!(l.contains(" DROP "), "{l}");
    }
}

/// A bad filter is one line on stderr before anything is printed.
#[test]
fn dump_with_a_bad_filter_prints_nothing_but_the_error() {
    let out = vrft(&["dump", REAL_RECORDING, "udp and iface=eth9"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "vrft-tui: filter 'udp and iface=eth9': 'iface=eth9' (column 9): no interface 'eth9' \
         in this trace (known: br0, eth0, eth1, lo, port-a, port-b, vxlan0)\n"
    );
}

/// Without a terminal, replay says so and what to run instead (not "No such device or
/// address"); a bad --filter is reported first, before any terminal is needed.
#[test]
fn replay_without_a_terminal_or_with_a_bad_filter_explains() {
    let out = vrft(&["replay", REAL_RECORDING]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "vrft-tui: replay needs a terminal (stdin is not a tty): run it in one, or print the \
         trees with `vrft-tui dump FILE`\n"
    );
    let out = vrft(&["replay", REAL_RECORDING, "--filter", "udp or"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "vrft-tui: --filter 'udp or': 'or' (column 5): needs a term after it\n"
    );
}

/// On the lab of issue 16 (VXLAN between 10.51.0.1 and 10.51.0.2, overlay 10.52.0.0/24): the
/// underlay addresses find the overlay packets, as `vxlan` does.
#[test]
fn dump_finds_tunnel_packets_by_outer_address() {
    let lab = LAB;
    let lines = |f: &str| {
        let out = vrft(&["dump", lab, f, "--oneline"]);
        assert!(out.status.success(), "{f}: {out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let outer = lines("host=10.51.0.0/24");
    assert!(outer.len() >= 6, "two pings and an ARP exchange: {outer:?}");
    assert_eq!(outer, lines("vxlan"));
    let from_b = outer
        .iter()
        .filter(|l| l.contains(" vxlan 10.51.0.2>"))
        .count();
    assert!(from_b >= 3, "{outer:?}");
    assert_eq!(
        lines("vxlan and src=10.51.0.2").len(),
        from_b,
        "what b sent"
    );
    for l in &outer {
        assert!(l.contains(" vxlan 10.51.0."), "{l}");
    }
    assert!(lines("geneve").is_empty());
    // netns by the names the lab recorded; an unknown one names them.
    assert!(!lines("icmp and netns=b").is_empty());
    let e = vrft(&["dump", lab, "netns=c"]);
    assert_eq!(
        String::from_utf8_lossy(&e.stderr),
        "vrft-tui: filter 'netns=c': 'netns=c' (column 1): no namespace 'c' in this trace \
         (known: a, b, br): use one of them or an inode\n"
    );
}
