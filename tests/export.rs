//! `vrft-tui export` on the committed recordings, read back by independent tools (see
//! tests/common/export.rs), and the jq one-liners of docs/user-guide.md run as written.
//! Needs tshark, tcpdump, protoc, python3-protobuf and jq (`scripts/setup.sh`).

#[path = "common/export.rs"]
mod checks;

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_vrft-tui");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(DATA)
        .expect("tests/data")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "vrft"))
        .collect();
    v.sort();
    assert!(v.len() >= 3, "fixtures: {v:?}");
    v
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vrft-export-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn fixture(name: &str) -> PathBuf {
    Path::new(DATA).join(name)
}

#[test]
fn json_lines_follow_the_schema_for_every_fixture() {
    for f in fixtures() {
        let n = checks::check_json(Path::new(BIN), &f)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(n > 0, "{}: no packets", f.display());
    }
}

#[test]
fn perfetto_slices_nest_as_the_trees_and_flows_cross_cpus() {
    for f in fixtures() {
        let dir = tmp("perfetto");
        let (slices, crossing) = checks::check_perfetto(Path::new(BIN), &f, &dir)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        eprintln!(
            "{}: {slices} slices, {crossing} flow links across CPUs",
            f.display()
        );
        assert!(slices > 100, "{}: {slices} slices", f.display());
        let _ = std::fs::remove_dir_all(dir);
    }
    // The lab's packets are handled on both CPUs: their arrows must cross.
    let dir = tmp("perfetto-lab");
    let (_, crossing) =
        checks::check_perfetto(Path::new(BIN), &fixture("lab-6.12-kprobe.vrft"), &dir)
            .expect("lab");
    assert!(crossing > 0, "no flow crosses CPUs in the lab");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tshark_and_tcpdump_read_the_lab_pcapng() {
    let dir = tmp("pcapng");
    let r =
        checks::check_pcapng(Path::new(BIN), &fixture("lab-6.12-kprobe.vrft"), &dir).expect("lab");
    // The lab pings across its VXLAN overlay: 2 requests and 2 replies, each on the
    // underlay of both namespaces.
    assert!(
        r.frames > 40 && r.vxlan >= 4,
        "{} frames, {} VXLAN",
        r.frames,
        r.vxlan
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn pcapng_without_bytes_says_how_to_get_them() {
    let out = Command::new(BIN)
        .args(["export", "-f", "pcapng", "-o", "/dev/null"])
        .arg(fixture("v5-veth-udp-6.1-fentry.vrft"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("holds no packet bytes") && err.contains("--snaplen"),
        "{err}"
    );
}

#[test]
fn packet_option_selects_and_unknown_ids_fail() {
    let lab = fixture("lab-6.12-kprobe.vrft");
    let out = Command::new(BIN)
        .arg("export")
        .arg(&lab)
        .args(["-f", "json", "--packet", "3", "--packet", "5"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let ids: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    assert_eq!(ids, [3, 5]);
    let out = Command::new(BIN)
        .arg("export")
        .arg(&lab)
        .args(["-f", "json", "--packet", "99999"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("packet 99999 is not in"),
        "{err}"
    );
}

/// The guide's jq examples: each `$ vrft-tui export ... | jq ...` line in a ```console block
/// of docs/user-guide.md runs here (from the repository's root) and prints what the guide
/// shows under it.
#[test]
fn user_guide_jq_one_liners_print_what_the_guide_shows() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/user-guide.md"))
        .expect("guide");
    let mut ran = 0;
    let mut lines = guide.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(cmd) = line.strip_prefix("$ vrft-tui export ") else {
            continue;
        };
        if !cmd.contains("| jq") {
            continue;
        }
        let mut want = String::new();
        while let Some(l) = lines.next_if(|l| !l.starts_with('$') && !l.starts_with("```")) {
            want += l;
            want.push('\n');
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{BIN} export {cmd}"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("sh");
        // The output is the check (a failing vrft-tui prints nothing); `head` may cut the pipe.
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            want,
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 3, "only {ran} jq examples in the guide");
}

/// The VXLAN recording of the VM scenario `filter_vxlan_inner` (`--snaplen 96`): tshark
/// decodes the inner UDP datagram of all 20 on the underlay.
#[test]
fn tshark_decodes_the_inner_udp_of_every_vxlan_datagram() {
    let dir = tmp("pcapng-vxlan");
    let r = checks::check_pcapng(Path::new(BIN), &fixture("vxlan-udp-6.12-fentry.vrft"), &dir)
        .expect("vxlan");
    assert!(
        r.inner_udp >= 20,
        "{} inner UDP in {} frames",
        r.inner_udp,
        r.frames
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `--snaplen` is bounded by the snapshot's size in the ring: more is refused before anything
/// loads, naming the range.
#[test]
fn snaplen_over_the_window_is_refused() {
    let out = Command::new(BIN)
        .args(["record", "-o", "/dev/null", "--snaplen", "129"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("0..=128"), "{err}");
}
