//! The tracer on the machine the tests run on (the build machine allows only
//! tracepoint programs): it must pick a backend that works, say why in one
//! line, and record real packets crossing a veth pair between two namespaces
//! this test creates. Bad input must fail in one line before anything attaches.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vrft_events::event::{flags, Kind};
use vrft_events::record::Recording;
use vrft_ui::model::Model;

const BIN: &str = env!("CARGO_BIN_EXE_vrft-tui");

#[path = "common/export.rs"]
mod export_checks;

fn require_root() {
    // SAFETY: geteuid cannot fail.
    assert_eq!(
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() },
        0,
        "these tests attach BPF programs and create network namespaces: run them as root"
    );
}

fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().expect("sh");
    assert!(st.success(), "failed: {cmd}");
}

/// Two namespaces joined by a veth pair, removed on drop.
struct VethPair {
    a: String,
    b: String,
}

impl VethPair {
    fn new(tag: &str) -> VethPair {
        let (a, b) = (
            format!("vrft{tag}a{}", std::process::id()),
            format!("vrft{tag}b{}", std::process::id()),
        );
        sh(&format!(
            "ip netns add {a} && ip netns add {b} && \
             ip -n {a} link add eth0 type veth peer name eth0 netns {b} && \
             ip -n {a} addr add 10.77.0.1/24 dev eth0 && ip -n {b} addr add 10.77.0.2/24 dev eth0 && \
             ip -n {a} link set eth0 up && ip -n {b} link set eth0 up && ip -n {a} link set lo up && \
             ip -n {b} link set lo up"
        ));
        VethPair { a, b }
    }

    fn ping(&self, count: u32) {
        sh(&format!(
            "ip netns exec {} ping -q -c {count} -i 0.1 -W 2 10.77.0.2 >/dev/null",
            self.a
        ));
    }

    fn netns_inode(&self, name: &str) -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/run/netns/{name}"))
            .expect("netns file")
            .ino() as u32
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.a]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).status();
    }
}

fn out_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vrft-host-{}-{name}", std::process::id()))
}

/// Starts `vrft-tui record` and waits until it says it is armed.
fn start_record(out: &PathBuf, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["record", "-o"])
        .arg(out)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vrft-tui");
    let mut err = child.stderr.take().unwrap();
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 256];
    while !text.contains("armed:") {
        assert!(Instant::now() < deadline, "not armed after 60 s:\n{text}");
        let n = err.read(&mut buf).unwrap();
        assert!(n > 0, "vrft-tui record exited before arming:\n{text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    (child, text)
}

/// Starts recording what is first seen on a's eth0, with `extra` arguments, into `name`.
fn record_on_eth0_of_a(veth: &VethPair, name: &str, extra: &[&str]) -> (Child, PathBuf) {
    let out = out_file(name);
    let ns = format!("/run/netns/{}", veth.a);
    let mut args = vec!["--netns", &ns, "--iface", "eth0"];
    args.extend_from_slice(extra);
    let (child, _) = start_record(&out, &args);
    (child, out)
}

fn stop(mut child: Child) {
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let st = child.wait().unwrap();
    assert!(st.success(), "vrft-tui record failed after Ctrl-C: {st}");
}

#[test]
fn records_real_packets_across_a_veth_pair() {
    require_root();
    let veth = VethPair::new("r");
    let out = out_file("veth.vrft");
    let (child, err) = start_record(&out, &[]);
    let backend_line = err.lines().next().unwrap();
    assert!(
        backend_line.starts_with("backend: "),
        "first line names the backend: {err}"
    );
    if !backend_line.starts_with("backend: fentry") {
        // A fallback says why each better backend was refused.
        assert!(backend_line.contains("fentry refused: "), "{backend_line}");
    }
    veth.ping(5);
    stop(child);

    let rec = Recording::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    let trailer = rec.trailer.as_ref().expect("trailer written at the end");
    assert_eq!(trailer.stats.lost, 0, "ring buffer losses at 10 packets/s");
    let info = &rec.header.info;
    let (ns_a, ns_b) = (veth.netns_inode(&veth.a), veth.netns_inode(&veth.b));

    let model = Model::from_events(&rec.header.info, &rec.events);
    // ICMP echo requests: queued on a's eth0 (98 bytes at L2), received in b.
    let requests: Vec<_> = model
        .packets()
        .iter()
        .filter(|p| {
            let seq: Vec<(&str, u32)> = p
                .nodes
                .iter()
                .map(|n| (info.func_name(n.func), p.dev(n).0))
                .collect();
            let queued = seq
                .iter()
                .position(|&(f, ns)| f.ends_with("net_dev_queue") && ns == ns_a);
            let received = seq
                .iter()
                .rposition(|&(f, ns)| f.ends_with("netif_receive_skb") && ns == ns_b);
            matches!((queued, received), (Some(q), Some(r)) if q < r)
        })
        .collect();
    // Echo replies cross the other way, so each direction shows once per ping.
    assert!(
        requests.len() >= 5,
        "{} packets went a -> b, want the 5 pings",
        requests.len()
    );
    for p in &requests {
        assert!(
            p.nodes[0].has(flags::FIRST_SEEN),
            "packet {} starts where the filter first saw it",
            p.id
        );
    }
    let first_seen = rec
        .events
        .iter()
        .filter(|e| e.flags & flags::FIRST_SEEN != 0)
        .count();
    assert_eq!(
        first_seen,
        model.packets().len(),
        "one FIRST_SEEN per packet id"
    );
    if rec.header.info.backend == Some(vrft_events::Backend::Tracepoint) {
        assert!(
            rec.events.iter().all(|e| e.kind == Kind::Tracepoint),
            "the tracepoint backend has flat trees"
        );
    }
}

/// Sends `count` UDP datagrams of `payload` from namespace a to 10.77.0.2:`port` (bash's /dev/udp).
fn send_udp(veth: &VethPair, port: u16, count: u32, payload: &str) {
    sh(&format!(
        "ip netns exec {} bash -c 'for i in $(seq {count}); do printf {payload} > /dev/udp/10.77.0.2/{port}; done'",
        veth.a
    ));
}

/// A pcap expression selects exactly the datagrams to one port, not those to another
/// sent at the same time, and the interface filter keeps only that device's packets.
#[test]
fn pcap_expression_and_interface_select_exactly_their_packets() {
    require_root();
    let veth = VethPair::new("p");
    let (child, out) = record_on_eth0_of_a(&veth, "pcap.vrft", &["udp", "dst", "port", "7777"]);
    // 3-byte payloads to 7777 (31 bytes at L3), 9-byte ones to 8888 (37 bytes).
    send_udp(&veth, 7777, 3, "abc");
    send_udp(&veth, 8888, 4, "abcdefghi");
    veth.ping(2);
    stop(child);
    let rec = Recording::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    assert!(
        rec.header.info.filter.contains("udp dst port 7777"),
        "{}",
        rec.header.info.filter
    );
    let model = Model::from_events(&rec.header.info, &rec.events);
    let ns_a = veth.netns_inode(&veth.a);
    let info = &rec.header.info;
    let paths: Vec<String> = model
        .packets()
        .iter()
        .map(|p| {
            let calls: Vec<String> = p
                .nodes
                .iter()
                .map(|n| format!("{}@{}/{}", info.func_name(n.func), p.dev(n).0, n.len))
                .collect();
            format!("{}: {}", p.id, calls.join(" "))
        })
        .collect();
    let paths = paths.join("\n");
    let sent: Vec<_> = model
        .packets()
        .iter()
        .filter(|p| {
            p.nodes
                .iter()
                .any(|n| info.func_name(n.func) == "net:net_dev_queue")
        })
        .collect();
    assert_eq!(
        sent.len(),
        3,
        "the 3 datagrams to port 7777 were sent:\n{paths}"
    );
    // Nothing of port 8888 or of the pings; a packet tap's clone of a 7777
    // datagram may show as its own packet on this backend (it cannot see skb_clone).
    for p in model.packets() {
        // skb->len of a 3-byte datagram from L2, L3 and L4 on (8888's are 6 bytes longer).
        assert!(
            p.nodes.iter().all(|n| [45, 31, 11].contains(&n.len)),
            "not a 7777 datagram:\n{paths}"
        );
    }
    for p in sent {
        // Chosen on a's eth0, then followed into b without checking the filter again.
        assert_eq!(
            p.dev(&p.nodes[0]).0,
            ns_a,
            "packet {} first seen in a",
            p.id
        );
        assert!(
            p.devs.iter().any(|d| d.0 != ns_a),
            "packet {} followed into b",
            p.id
        );
    }
}

/// Sends one 4000-byte UDP datagram that the kernel segments by UDP GSO into 1000-byte
/// segments (`UDP_SEGMENT`), from namespace a to 10.77.0.2:`port`.
fn send_udp_gso(veth: &VethPair, port: u16) {
    sh(&format!(
        "ip netns exec {} python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
         s.setsockopt(socket.IPPROTO_UDP, 103, 1000); s.sendto(b\"x\" * 4000, (\"10.77.0.2\", {port}))'",
        veth.a
    ));
}

/// Each packet gets its flow once its headers are written, and `--skb-fields` reads
/// struct sk_buff and skb_shared_info members at every event, at the offsets BTF gives:
/// checked against what the kernel must hold (skb->len as the event reports it, the
/// socket mark `ping -m` sets, the GSO size and segment count UDP_SEGMENT asks for).
#[test]
fn flows_and_skb_fields_are_read_from_real_packets() {
    require_root();
    let veth = VethPair::new("f");
    let (child, out) = record_on_eth0_of_a(
        &veth,
        "fields.vrft",
        &[
            "--skb-fields",
            "len,protocol,mark,gso_size,gso_segs,pkt_type",
        ],
    );
    sh(&format!(
        "ip netns exec {} ping -q -c 3 -i 0.1 -W 2 -m 42 10.77.0.2 >/dev/null",
        veth.a
    ));
    send_udp_gso(&veth, 9999);
    stop(child);
    let rec = Recording::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    let info = &rec.header.info;
    assert_eq!(
        info.skb_fields,
        ["len", "protocol", "mark", "gso_size", "gso_segs", "pkt_type"]
    );
    let model = Model::from_events(&rec.header.info, &rec.events);
    let field = |name: &str| info.skb_fields.iter().position(|f| f == name).unwrap();
    let (len, proto, mark, gso_size, gso_segs) = (
        field("len"),
        field("protocol"),
        field("mark"),
        field("gso_size"),
        field("gso_segs"),
    );
    let flows: Vec<String> = model
        .packets()
        .iter()
        .filter_map(|p| p.flow.as_ref().map(|f| f.to_string()))
        .collect();
    let queued_on_a = |p: &&vrft_ui::model::Packet| {
        p.nodes
            .iter()
            .find(|n| info.func_name(n.func) == "net:net_dev_queue")
            .map(|n| p.fields(n).to_vec())
    };
    // (This backend cannot see skb_clone: a clone that ping's socket keeps shows as a
    // packet of its own, with the same flow; the echo requests are those queued on a.)
    let requests: Vec<Vec<u64>> = model
        .packets()
        .iter()
        .filter(|p| {
            p.flow
                .as_ref()
                .is_some_and(|f| f.to_string() == "icmp 10.77.0.1>10.77.0.2")
        })
        .filter_map(|p| queued_on_a(&p))
        .collect();
    assert_eq!(requests.len(), 3, "3 echo requests among {flows:?}");
    // The list's summary decodes the headers the tracer sent: echo requests with ids and
    // sequence numbers, told apart from their replies; ping is who sent them.
    let summaries: Vec<String> = model
        .packets()
        .iter()
        .map(vrft_ui::format::flow_text)
        .collect();
    for seq in 1..=3 {
        let want = "icmp 10.77.0.1>10.77.0.2 echo request id ";
        let found = summaries
            .iter()
            .any(|s| s.starts_with(want) && s.ends_with(&format!(" seq {seq}")));
        assert!(found, "echo request seq {seq} among {summaries:?}");
        let reply = summaries.iter().any(|s| {
            s.starts_with("icmp 10.77.0.2>10.77.0.1 echo reply id ")
                && s.ends_with(&format!(" seq {seq}"))
        });
        assert!(reply, "echo reply seq {seq} among {summaries:?}");
    }
    let tasks: Vec<String> = model
        .packets()
        .iter()
        .filter_map(vrft_ui::format::task_text)
        .collect();
    let senders: Vec<String> = model
        .packets()
        .iter()
        .filter(|p| vrft_ui::format::flow_text(p).contains("echo request"))
        .filter_map(vrft_ui::format::task_text)
        .collect();
    if contexts_known() {
        assert!(
            senders.len() >= 3 && senders.iter().all(|t| t.starts_with("ping[")),
            "ping sent the requests: {senders:?}"
        );
    } else {
        // Without the kernel's data symbols every context reads as process: a reply
        // made in a softirq would be named after the task it interrupted, so none is.
        assert!(tasks.is_empty(), "no process named blind: {tasks:?}");
    }
    let gso: Vec<_> = model
        .packets()
        .iter()
        .filter(|p| {
            p.flow.as_ref().is_some_and(|f| {
                f.proto == 17 && f.dport == 9999 && f.to_string().contains("10.77.0.1:")
            })
        })
        .collect();
    assert!(!gso.is_empty(), "the GSO datagram among {flows:?}");
    for p in model.packets() {
        for n in &p.nodes {
            let v = p.fields(n);
            assert_eq!(v.len(), 6, "every event of a readable skb has the fields");
            assert_eq!(v[len], u64::from(n.len), "skb->len read two ways");
            if p.flow.as_ref().is_some_and(|f| f.src.is_ipv4()) {
                assert_eq!(v[proto], 0x0800, "skb->protocol in host order");
            }
        }
    }
    for v in &requests {
        assert_eq!(v[mark], 42, "ping -m 42 sets skb->mark");
    }
    let queued = gso
        .iter()
        .flat_map(|p| p.nodes.iter().map(move |n| (p, n)))
        .find(|(_, n)| info.func_name(n.func) == "net:net_dev_queue")
        .unwrap_or_else(|| {
            let trees: Vec<String> = gso
                .iter()
                .flat_map(|p| vrft_ui::format::function_graph(p, info))
                .collect();
            panic!("the GSO datagram is queued:\n{}", trees.join("\n"))
        });
    let v = queued.0.fields(queued.1);
    assert_eq!(
        (v[gso_size], v[gso_segs]),
        (1000, 4),
        "skb_shinfo(skb) of a 4000-byte UDP_SEGMENT send"
    );
}

/// `--iface` given twice means either interface.
#[test]
fn repeated_iface_filters_mean_either() {
    require_root();
    let one = VethPair::new("o");
    let two = VethPair::new("t");
    let out = out_file("either.vrft");
    let (a1, a2) = (
        format!("/run/netns/{}", one.a),
        format!("/run/netns/{}", two.a),
    );
    let (child, _) = start_record(
        &out,
        &["--netns", &a1, "--netns", &a2, "--iface", "eth0", "icmp"],
    );
    one.ping(2);
    two.ping(2);
    stop(child);
    let rec = Recording::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    let model = Model::from_events(&rec.header.info, &rec.events);
    let first_ns: std::collections::BTreeSet<u32> = model
        .packets()
        .iter()
        .map(|p| p.dev(&p.nodes[0]).0)
        .collect();
    assert_eq!(
        first_ns,
        [one.netns_inode(&one.a), two.netns_inode(&two.a)].into(),
        "packets chosen on both a's eth0 and nowhere else"
    );
}

fn one_line_error(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: one line, got:\n{err}"
    );
    assert!(err.starts_with("vrft-tui: "), "{err}");
    err
}

#[test]
fn bad_input_fails_in_one_line_before_attaching() {
    require_root();
    let out = out_file("bad.vrft");
    let o = out.to_str().unwrap();
    assert!(one_line_error(&["record", "-o", o, "--funcs", "("]).contains("invalid --funcs regex"));
    assert!(one_line_error(&["record", "-o", o, "--ring-size", "0"]).contains("--ring-size"));
    assert!(
        one_line_error(&["record", "-o", o, "--funcs", "^no_such_function$"])
            .contains("vrft-tui list")
    );
    let err = one_line_error(&["record", "-o", o, "udp", "dst", "prot", "7777"]);
    assert!(
        err.contains("invalid pcap filter 'udp dst prot 7777'"),
        "{err}"
    );
    assert!(one_line_error(&["record", "-o", o, "--iface", "nosuch0"])
        .contains("no interface 'nosuch0'"));
    assert!(one_line_error(&["record", "-o", o, "--netns", "nosuch"])
        .contains("unknown network namespace"));
    assert!(one_line_error(&["record", "-o", o, "--saddr", "10.0.0.300"]).contains("--saddr"));
    assert!(one_line_error(&["record", "-o", o, "--proto", "sctpx"]).contains("--proto"));
    assert!(one_line_error(&["record", "-o", o, "ip", "and", "ip6"]).contains("never"));
    assert!(
        one_line_error(&["record", "-o", o, "--skb-fields", "len,nosuch"])
            .contains("unknown --skb-fields name 'nosuch'")
    );
    assert!(one_line_error(&["record", "-o", o, "--skb-fields", "cb"]).contains("not a number"));
    std::fs::write(&out, b"not a recording at all").unwrap();
    assert!(one_line_error(&["dump", o]).contains("not a vrft-tui recording"));
    std::fs::remove_file(&out).unwrap();
    let err = one_line_error(&["dump", "/nonexistent/x.vrft"]);
    assert!(err.contains("cannot open the recording"), "{err}");
    // Live mode: the budget against the ring buffer, and the terminal, before attaching.
    let err = one_line_error(&["--max-memory", "20M"]);
    assert!(
        err.contains("--max-memory 20.0M is too small") && err.contains("--ring-size"),
        "{err}"
    );
    assert!(
        one_line_error(&["record", "-o", o, "--export", "pcapng", "--snaplen", "0"])
            .contains("drop --snaplen 0")
    );
    let err = one_line_error(&["record", "-o", "x.jsonl", "--export", "json"]);
    assert!(err.contains("over the recording x.jsonl"), "{err}");
    let err = one_line_error(&["--max-memory", "64M"]);
    assert!(
        err.contains("needs a terminal") && err.contains("vrft-tui record"),
        "{err}"
    );
}

#[test]
fn forced_backend_that_the_kernel_refuses_says_so() {
    require_root();
    let out = out_file("forced.vrft");
    let o = out.to_str().unwrap();
    let run = Command::new(BIN)
        .args(["record", "-o", o, "--backend", "fentry", "--duration", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    if run.status.success() {
        // This kernel allows fentry: then it must have been used.
        assert!(err.starts_with("backend: fentry"), "{err}");
    } else {
        assert!(err.contains("the fentry backend failed"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let _ = std::fs::remove_file(&out);
}

#[test]
fn not_root_is_one_clear_line() {
    require_root();
    // A copy that nobody can reach, wherever the checkout lives.
    let bin = std::env::temp_dir().join(format!("vrft-tui-nobody-{}", std::process::id()));
    std::fs::copy(BIN, &bin).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["record", "-o", "/tmp/x.vrft"])
        .output()
        .expect("setpriv (util-linux)");
    std::fs::remove_file(&bin).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("needs root") && err.contains("sudo"), "{err}");
}

/// Runs `record --duration SECS --json` with `extra` and returns the JSON it printed.
fn record_json(name: &str, secs: &str, extra: &[&str]) -> serde_json::Value {
    let out = out_file(name);
    let run = Command::new(BIN)
        .args([
            "record",
            "-o",
            out.to_str().unwrap(),
            "--duration",
            secs,
            "--json",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let _ = std::fs::remove_file(&out);
    serde_json::from_slice(&run.stdout).expect("one JSON object on stdout")
}

/// `record --json` lists every candidate probe with its status and reason, and the loss counters.
#[test]
fn json_stats_list_every_probe_with_its_reason() {
    require_root();
    let v = record_json("json.vrft", "0.5", &[]);
    let probes = v["probes"].as_array().unwrap();
    let attached = probes.iter().filter(|p| p["status"] == "attached").count();
    assert!(attached >= 1, "{v}");
    for p in probes.iter().filter(|p| p["status"] != "attached") {
        assert!(
            !p["reason"].as_str().unwrap().is_empty(),
            "a probe not attached says why: {p}"
        );
    }
    for counter in [
        "lost",
        "recursion_misses",
        "stack_overflows",
        "undecodable",
        "events",
    ] {
        assert!(v[counter].is_u64(), "{counter} in {v}");
    }
}

/// Every probe is a clone that the verifier checks again, so its cost is paid once per traced
/// function: `verified_insns` (what the verifier walked) must stay small with every filter
/// feature on. Paths multiplying inside the BPF code once made it 50 times larger.
#[test]
fn verifier_work_per_program_stays_small() {
    require_root();
    for (args, budget) in [
        (&[][..], 2_000),
        // 4,460 since the pcap runs mark the bytes they read and the memo compares those
        // (3,716 before): growth; the budget is there to catch paths that multiply.
        (&["udp", "dst", "port", "7777"][..], 5_000),
        (
            &[
                "--inner",
                "--payload-id",
                "--skb-fields",
                "len,mark,gso_size",
                "--iface",
                "lo",
                "udp",
                "dst",
                "port",
                "7777",
            ][..],
            // 8,040 since the header note knows the device and the memo what the filters
            // read (8,210 with the marks of the pcap runs): growth; the budget is there to
            // catch paths that multiply.
            9_000,
        ),
    ] {
        let v = record_json("verifier.vrft", "0.2", args);
        // This kernel allows only tracepoints, which also read the flow.
        let insns = v["verified_insns_max"]["other"].as_u64().unwrap();
        eprintln!("{args:?}: {insns} verified instructions");
        assert!(
            (1..=budget).contains(&insns),
            "{args:?}: the verifier walked {insns} instructions for one program, budget {budget}"
        );
    }
}

/// `list` with missing or corrupt BTF fails in one line, naming the file and the fix.
#[test]
fn list_bad_btf_is_one_line() {
    let err = one_line_error(&["list", "--btf", "/nonexistent/vmlinux"]);
    assert!(err.contains("/nonexistent/vmlinux"), "{err}");
    let text = out_file("not-btf");
    std::fs::write(&text, "this is not BTF\n").unwrap();
    let t = text.to_str().unwrap();
    let err = one_line_error(&["list", "--btf", t]);
    assert!(err.contains(t), "{err}");
    let err = one_line_error(&["list", "--module-btf", t]);
    assert!(err.contains(t), "{err}");
    std::fs::remove_file(&text).unwrap();
}

/// Each packet knows what it is: unix socket data, a netlink reply and a UDP datagram over
/// loopback, recorded unfiltered, come out as Unix, Netlink and Network, found by what they
/// are (the datagram by its port, the unix data by its length), not by their order.
#[test]
fn packets_know_their_kind() {
    use std::os::unix::net::UnixDatagram;
    use vrft_events::PacketKind;

    require_root();
    let out = out_file("kinds.vrft");
    let (child, _) = start_record(&out, &[]);
    // Unix socket data of an unusual length.
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let data = vec![0x5au8; 1234];
    let mut buf = vec![0u8; 2048];
    for _ in 0..3 {
        tx.send(&data).unwrap();
        assert_eq!(rx.recv(&mut buf).unwrap(), data.len());
    }
    // A netlink dump: the replies are netlink messages copied to ip's socket.
    sh("ip link show >/dev/null && ip addr show >/dev/null");
    // UDP over loopback to a port of its own.
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        client.send_to(b"kinds", ("127.0.0.1", port)).unwrap();
        server.recv(&mut buf).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    stop(child);
    let rec = Recording::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    let model = Model::from_events(&rec.header.info, &rec.events);
    let packets = model.packets();

    let udp: Vec<_> = packets
        .iter()
        .filter(|p| p.flow.as_ref().is_some_and(|f| f.dport == port))
        .collect();
    assert!(!udp.is_empty(), "no packet to port {port}");
    for p in &udp {
        assert_eq!(p.kind(), PacketKind::Network, "packet {}", p.id);
    }
    let unix: Vec<_> = packets
        .iter()
        .filter(|p| p.kind() == PacketKind::Unix)
        .collect();
    assert!(
        unix.iter()
            .any(|p| p.nodes.iter().any(|n| n.len == data.len() as u32)),
        "no unix packet of {} bytes among {} unix packets",
        data.len(),
        unix.len()
    );
    assert!(
        unix.iter().all(|p| p.flow.is_none()),
        "unix data has no IP flow"
    );
    let netlink = packets
        .iter()
        .filter(|p| p.kind() == PacketKind::Netlink)
        .count();
    assert!(netlink > 0, "no netlink packet");
    // Every event that carries the packet's one look says the same as the packet.
    let by_kind = |k| {
        rec.events
            .iter()
            .filter(|e| e.kind_evidence() == Some(k))
            .count()
    };
    assert!(by_kind(PacketKind::Unix) > 0 && by_kind(PacketKind::Netlink) > 0);
}

/// `--count-hits` counts every run of a probe, the packets the filter turns down included:
/// with a filter that only takes UDP to 7777, the pings are counted at each tracepoint they
/// pass but recorded nowhere, so a tracepoint's hits exceed the events the recording holds.
#[test]
fn count_hits_counts_rejected_packets_too() {
    require_root();
    let veth = VethPair::new("h");
    let out = out_file("hits.vrft");
    let mut child = Command::new(BIN)
        .args(["record", "--json", "--count-hits", "-o"])
        .arg(&out)
        .args(["udp dst port 7777"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vrft-tui");
    let mut err = child.stderr.take().unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 256];
    while !text.contains("armed:") {
        let n = err.read(&mut buf).unwrap();
        assert!(n > 0, "vrft-tui record exited before arming:\n{text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    sh(&format!(
        "ip netns exec {} ping -q -c 5 -i 0.1 -W 2 10.77.0.2 >/dev/null",
        veth.a
    ));
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let run = child.wait_with_output().unwrap();
    assert!(run.status.success());
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON on stdout");
    let rec = Recording::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    let info = &rec.header.info;
    let queue = info
        .functions
        .iter()
        .position(|f| f.name == "net:net_dev_queue")
        .unwrap() as u32;
    let recorded = rec.events.iter().filter(|e| e.func == queue).count() as u64;
    let hits = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "net:net_dev_queue")
        .and_then(|p| p["hits"].as_u64())
        .unwrap_or_else(|| panic!("net_dev_queue has a hit count: {v}"));
    assert!(
        hits >= 10 + recorded,
        "5 echo requests and 5 replies queued, none recorded: {hits} hits, {recorded} events"
    );
    assert_eq!(
        rec.trailer.unwrap().stats.probe_hits.len(),
        info.probes.len()
    );
}

/// The tracer tells contexts apart where the kernel lists `__per_cpu_offset` and the
/// preempt count among its symbols (CONFIG_KALLSYMS_ALL).
fn contexts_known() -> bool {
    let syms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    let has = |name: &str| {
        syms.lines()
            .any(|l| l.split_whitespace().nth(2) == Some(name))
    };
    has("__per_cpu_offset") && (has("__preempt_count") || has("pcpu_hot"))
}

/// A disk that fills while recording: the recording stops with one line saying so, and the
/// file reads back cleanly up to its last whole frame (a tmpfs of 96 KiB, mounted here).
#[test]
fn a_full_disk_stops_the_recording_and_keeps_it_readable() {
    require_root();
    let veth = VethPair::new("f");
    let dir = out_file("small-disk");
    std::fs::create_dir_all(&dir).unwrap();
    sh(&format!(
        "mount -t tmpfs -o size=96k vrft-small {}",
        dir.display()
    ));
    let out = dir.join("full.vrft");
    let (child, _) = start_record(&out, &["--skb-fields", "len,data_len,mark,hash,protocol"]);
    // Far more than 96 KiB of events: pings as fast as the kernel answers them.
    let flood = Command::new("ip")
        .args([
            "netns",
            "exec",
            &veth.a,
            "ping",
            "-q",
            "-f",
            "-c",
            "20000",
            "10.77.0.2",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let done = child.wait_with_output().unwrap();
    let mut flood = flood;
    let _ = flood.kill();
    let _ = flood.wait();
    let rec = Recording::read(&out);
    let size = std::fs::metadata(&out).map_or(0, |m| m.len());
    sh(&format!("umount {}", dir.display()));
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(
        done.status.code(),
        Some(1),
        "record ends with an error on a full disk"
    );
    let rec = rec.expect("the recording reads back");
    assert!(size > 32 << 10, "the file filled the disk: {size} bytes");
    assert!(rec.events.len() > 1000, "{} events kept", rec.events.len());
    assert_eq!(
        rec.damage.frames_lost(),
        0,
        "no damaged frame: {:?}",
        rec.damage.lines()
    );
    assert!(rec.trailer.is_none(), "no room was left for the trailer");
}

/// Runs `record` with its stderr in `log` (and `rc=STATUS` appended when it ends), started by
/// a shell that holds `env_parent` as SSH_CONNECTION when given.
fn record_to(out: &Path, log: &Path, env_parent: Option<&str>, extra: &[&str]) -> Child {
    // Like sudo under an SSH login: sshd starts the login shell with SSH_CONNECTION in its
    // environment, vrft-tui runs with a reset one as its child.
    let args: Vec<String> = extra.iter().map(|a| format!("'{a}'")).collect();
    let mut shell = Command::new("sh");
    shell.env_remove("SSH_CONNECTION");
    if let Some(c) = env_parent {
        shell.env("SSH_CONNECTION", c);
    }
    shell
        .arg("-c")
        .arg(format!(
            "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin {BIN} record -o {} {} 2>{}; echo rc=$? >>{}",
            out.display(),
            args.join(" "),
            log.display(),
            log.display()
        ))
        .spawn()
        .unwrap()
}

fn wait_armed(log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("armed:") {
            return text;
        }
        assert!(!text.contains("rc="), "record ended before arming:\n{text}");
        assert!(Instant::now() < deadline, "not armed after 60 s:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A TCP conversation from a (10.77.0.1:40022) to b (10.77.0.2:2222), both ways, `secs` long.
fn tcp_conversation(veth: &VethPair, secs: u32) -> (Child, Child) {
    let server = Command::new("ip")
        .args(["netns", "exec", &veth.b, "python3", "-c"])
        .arg(format!(
            "import socket,time\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
             s.bind(('10.77.0.2',2222));s.listen();c,_=s.accept();c.settimeout({secs}+5)\n\
             while True:\n  d=c.recv(100)\n  if not d: break\n  c.sendall(d)"
        ))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let client = Command::new("ip")
        .args(["netns", "exec", &veth.a, "python3", "-c"])
        .arg(format!(
            "import socket,time\nc=socket.socket();c.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
             c.bind(('10.77.0.1',40022));c.connect(('10.77.0.2',2222))\n\
             for i in range({secs}*10):\n  c.sendall(b'tick');c.recv(100);time.sleep(0.1)\nc.close()"
        ))
        .spawn()
        .unwrap();
    (server, client)
}

/// Packets of the recording on TCP port 2222 (the emulated SSH connection), and echo requests.
fn ssh_and_pings(out: &Path) -> (usize, usize) {
    let rec = Recording::read(out).unwrap();
    let model = Model::from_events(&rec.header.info, &rec.events);
    let text: Vec<String> = model
        .packets()
        .iter()
        .map(vrft_ui::format::flow_text)
        .collect();
    (
        text.iter().filter(|t| t.contains(":2222")).count(),
        text.iter().filter(|t| t.contains("echo request")).count(),
    )
}

/// Under SSH (SSH_CONNECTION in an ancestor's environment, as sudo leaves it), the session's
/// connection is not traced and the start-up says so; --no-exclude-self traces it.
#[test]
fn our_ssh_connection_is_excluded_unless_asked() {
    require_root();
    let veth = VethPair::new("s");
    let conn = "10.77.0.1 40022 10.77.0.2 2222";
    for (tag, extra) in [("default", vec![]), ("traced", vec!["--no-exclude-self"])] {
        let out = out_file(&format!("ssh-{tag}.vrft"));
        let log = out_file(&format!("ssh-{tag}.log"));
        let _ = std::fs::remove_file(&log);
        let mut args = vec!["--duration", "6"];
        args.extend(extra.iter().copied());
        let mut rec = record_to(&out, &log, Some(conn), &args);
        let said = wait_armed(&log);
        let (mut server, mut client) = tcp_conversation(&veth, 3);
        veth.ping(3);
        client.wait().unwrap();
        let _ = server.kill();
        let _ = server.wait();
        rec.wait().unwrap();
        let log_text = std::fs::read_to_string(&log).unwrap();
        assert!(log_text.contains("rc=0"), "{log_text}");
        let (ssh, pings) = ssh_and_pings(&out);
        std::fs::remove_file(&out).unwrap();
        // The pings are the control: other traffic is traced either way. (This host's
        // tracepoint backend may join an echo request to the conversation's segment at the
        // same address, so not every one of the 3 need show as its own row.)
        assert!(pings >= 1, "{tag}: {pings} echo requests recorded");
        let line = "not tracing this SSH session's connection 10.77.0.1:40022 <-> 10.77.0.2:2222";
        if tag == "default" {
            assert!(said.contains(line), "{said}");
            assert_eq!(ssh, 0, "the SSH connection was traced");
        } else {
            assert!(!said.contains("not tracing"), "{said}");
            assert!(
                ssh >= 20,
                "only {ssh} packets of the connection with --no-exclude-self"
            );
        }
    }
}

/// Namespaces by the names people know: `ip netns` names, and one held only by a process,
/// created after the recording started, by that process's name; `--netns` takes it too.
#[test]
fn namespaces_are_named_by_ip_netns_and_by_process() {
    require_root();
    let veth = VethPair::new("n");
    let out = out_file("names.vrft");
    let (child, _) = start_record(&out, &[]);
    // A namespace only a process holds, joined to a's namespace by a veth pair.
    let mut holder = Command::new("unshare")
        .args(["-n", "sleep", "60"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = holder.id();
    sh(&format!(
        "ip -n {a} link add vh0 type veth peer name vh1 netns {pid} && \
         ip -n {a} addr add 10.78.0.1/24 dev vh0 && ip -n {a} link set vh0 up && \
         nsenter -t {pid} -n sh -c 'ip addr add 10.78.0.2/24 dev vh1 && ip link set vh1 up'",
        a = veth.a
    ));
    sh(&format!(
        "ip netns exec {} ping -q -c 3 -i 0.2 10.78.0.2 >/dev/null",
        veth.a
    ));
    veth.ping(2);
    stop(child);
    let held = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/{pid}/ns/net"))
            .unwrap()
            .ino() as u32
    };
    // --netns takes the name the list shows.
    let name = format!("sleep[{pid}]");
    let json = record_json("names-filter.vrft", "1", &["--netns", &name]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(json["filter"].as_str().unwrap().contains(&name), "{json}");

    let rec = Recording::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    let info = &rec.header.info;
    assert_eq!(info.netns_name(veth.netns_inode(&veth.a)), veth.a);
    assert_eq!(
        info.netns_name(held),
        name,
        "named when first seen: {:?}",
        info.namespaces
    );
    // Ours is init's where /proc/1 can be read (not in every container).
    let inode = |path: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).map(|m| m.ino() as u32)
    };
    let ours = inode("/proc/self/ns/net").unwrap();
    match inode("/proc/1/ns/net") {
        Ok(init) if init == ours => assert_eq!(info.netns_name(ours), "host"),
        _ => assert_ne!(info.netns_name(ours), ours.to_string(), "ours has a name"),
    }
    // The tree's device lines and the list name it.
    let model = Model::from_events(info, &rec.events);
    let in_held = model
        .packets()
        .iter()
        .find(|p| {
            vrft_ui::format::flow_text(p).contains("10.78.0.1>10.78.0.2")
                && p.devs.iter().any(|d| d.0 == held)
        })
        .expect("an echo request into the process's namespace");
    let tree = vrft_ui::format::function_graph(in_held, info).join("\n");
    assert!(tree.contains(&format!("(netns {name})")), "{tree}");
}

/// `record --export` writes the exports next to the recording when it ends, read back by
/// the same independent tools as `vrft-tui export`'s; the recording says its snaplen and
/// host; and an echo request that crosses a veth pair has a pcap-ng frame on both ends
/// (a snapshot at each device, not only where its headers change).
#[test]
fn record_writes_its_exports_and_a_frame_per_device() {
    require_root();
    let veth = VethPair::new("x");
    let dir = out_file("exports");
    std::fs::create_dir_all(&dir).unwrap();
    let rec = dir.join("ping.vrft");
    let log = dir.join("record.log");
    let child = Command::new(BIN)
        .args(["record", "-o"])
        .arg(&rec)
        .args(["--export", "pcapng,json", "--export", "perfetto", "icmp"])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_armed(&log);
    veth.ping(3);
    stop(child);
    let err = std::fs::read_to_string(&log).unwrap();
    for ext in ["pcapng", "jsonl", "perfetto-trace"] {
        let f = rec.with_extension(ext);
        assert!(err.contains(&format!("exported {}", f.display())), "{err}");
        assert!(
            std::fs::metadata(&f).unwrap().len() > 0,
            "{} is empty",
            f.display()
        );
    }
    let r = Recording::read(&rec).unwrap();
    let host = r
        .header
        .info
        .host
        .as_ref()
        .expect("the recording names its host");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(host.hostname, hostname.trim());
    assert_eq!(host.boot_id.len(), 36, "{host:?}");
    assert_eq!(r.header.info.snaplen, Some(128));

    let bin = Path::new(BIN);
    let pcap = export_checks::check_pcapng(bin, &rec, &dir).unwrap();
    // The exports made by record are byte for byte what `export` makes of the recording.
    for (format, ext) in [
        ("pcapng", "pcapng"),
        ("json", "jsonl"),
        ("perfetto", "perfetto-trace"),
    ] {
        let again = export_checks::export(bin, &rec, format, &dir).unwrap();
        assert_eq!(
            std::fs::read(&again).unwrap(),
            std::fs::read(rec.with_extension(ext)).unwrap(),
            "record --export {format} differs from export -f {format}"
        );
    }
    export_checks::check_perfetto(bin, &rec, &dir).unwrap();
    export_checks::check_json(bin, &rec).unwrap();
    let (a, b) = (veth.netns_inode(&veth.a), veth.netns_inode(&veth.b));
    let both = pcap
        .ifaces_of
        .values()
        .filter(|ifaces| ifaces.iter().any(|i| i.0 == a) && ifaces.iter().any(|i| i.0 == b))
        .count();
    // Three requests a -> b and three replies b -> a.
    assert!(
        both >= 6,
        "{both} packets have frames on both ends of the veth pair: {:?}",
        pcap.ifaces_of
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
