//! Two hosts, one wire (issue 19): two guests booted at once, each with a virtio-net card, their
//! cards joined by a UDP socket pair on the host's loopback address (`qemu::Nic`). A VXLAN
//! overlay runs between them over that wire; each guest records with `vrft-tui record --inner
//! --payload-id`, and the host checks each recording on its own. The merged view of both
//! (`vrft-tui dump a.vrft b.vrft`) is checked in [`check_merged`].
//!
//! The guests coordinate over their own wire, never through the host: `trafgen tell` repeats a
//! word to the other host's control port until `trafgen await` there acknowledges it.
//!
//! ```text
//!   host a (hostname a)                          host b (hostname b)
//!   record armed, receiver for 1001.. ready      record armed, receiver for 1..20 ready
//!   await b-armed  <------------------------------ tell b-armed
//!   ids 1..20 to b's overlay :7777  ===========>   (received)
//!   tell a-sent    ------------------------------> await a-sent
//!   (received)     <===========================    ids 1001..1010 to a's overlay :7777
//!   tell a-done    ------------------------------> await a-done
//!   stop recording                                 stop recording
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};
use vrft_events::event::Context;
use vrft_events::record::Recording;
use vrft_ui::latency;
use vrft_ui::model::{Model, Node, Packet};

use super::filtering;
use super::initramfs;
use super::kernel::Kernel;
use super::merged;
use super::qemu::{self, Machine, Nic};
use super::scenario::{self, Outcome, Scenario};

/// The kernel the pair boots: kprobe sessions attach every skb function in about a second.
pub const KERNEL: &str = "6.12";
/// The scenario name, in the trial's name (`6.12::two_hosts`) and each guest's `/out`.
const NAME: &str = "two_hosts";

const UNDERLAY_A: &str = "10.61.0.1";
const UNDERLAY_B: &str = "10.61.0.2";
const OVERLAY_A: &str = "10.62.0.1";
const OVERLAY_B: &str = "10.62.0.2";
const VNI: u32 = 61;
/// The overlay datagrams' destination port on both hosts: the recordings' filter.
const DATA_PORT: u16 = 7777;
/// Where each guest listens for the other's words (plain UDP on the underlay, not recorded).
const CONTROL_PORT: u16 = 9000;
/// a -> b: ids 1..=20; b -> a: ids 1001..=1010 (both directions, for the clock estimate).
const AB: (u32, u32) = (1, 20);
const BA: (u32, u32) = (1001, 10);
/// Seconds a guest waits for a word from the other one (boot, BTF scan and attach under
/// emulation with one vCPU take a minute or two).
const WAIT: u32 = 300;
/// Seconds the guest gives the whole script.
const SCRIPT_TIMEOUT: u32 = 600;

/// One side of the pair.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    A,
    B,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::A => "a",
            Role::B => "b",
        }
    }

    fn underlay(self) -> &'static str {
        match self {
            Role::A => UNDERLAY_A,
            Role::B => UNDERLAY_B,
        }
    }

    fn overlay(self) -> &'static str {
        match self {
            Role::A => OVERLAY_A,
            Role::B => OVERLAY_B,
        }
    }

    fn peer(self) -> Role {
        match self {
            Role::A => Role::B,
            Role::B => Role::A,
        }
    }

    /// A fixed, locally administered MAC per role.
    fn mac(self) -> &'static str {
        match self {
            Role::A => "52:54:00:19:00:0a",
            Role::B => "52:54:00:19:00:0b",
        }
    }
}

/// The trial, when `kernels` (the selected ones) include [`KERNEL`].
pub fn trial(kernels: &[String]) -> Option<Trial> {
    kernels
        .iter()
        .any(|k| k == KERNEL)
        .then(|| Trial::test(format!("{KERNEL}::{NAME}"), || run().map_err(Failed::from)))
}

/// Shell for both roles up to an armed recording: the card's driver, the hostname, the
/// underlay on eth0 and the VXLAN overlay over it; then `vrft-tui record` in the background.
fn setup(role: Role) -> String {
    let (me, peer) = (role, role.peer());
    format!(
        r#"
# The card's driver (virtio_net and its dependencies, see initramfs.rs).
for m in $(cat /etc/modules-nic); do insmod "/lib/modules/$m.ko"; done
# No IPv6 autoconfiguration chatter on the wire.
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
hostname {me}
wait_file /sys/class/net/eth0 20
ip addr add {u}/24 dev eth0
ip link set eth0 up
ip link add vxlan0 type vxlan id {VNI} local {u} remote {pu} dstport 4789 dev eth0
ip addr add {o}/24 dev vxlan0
ip link set vxlan0 up
hostname > "$OUT/hostname"
cat /proc/sys/kernel/random/boot_id > "$OUT/boot_id"
ip -s link show eth0
echo "pair: {me} recording from $(cut -d' ' -f1 /proc/uptime)"
vrft-tui record --backend kprobe --wait-detach --inner --payload-id -o "$OUT/{me}.vrft" \
  udp dst port {DATA_PORT} 2> "$OUT/record.err" &
rec=$!
wait_for "$OUT/record.err" $rec 300 armed
# Beside it, unfiltered and with counter ids: every call from the driver's skb on.
vrft-tui record --backend kprobe --wait-detach -o "$OUT/{me}-all.vrft" \
  2> "$OUT/record-all.err" &
rec_all=$!
wait_for "$OUT/record-all.err" $rec_all 300 armed
echo "pair: {me} armed at $(cut -d' ' -f1 /proc/uptime)"
"#,
        me = me.name(),
        u = me.underlay(),
        pu = peer.underlay(),
        o = me.overlay(),
    )
}

/// Shell that stops the recording of [`setup`] and shows what it said.
const STOP: &str = r#"kill -INT $rec $rec_all
wait $rec
wait $rec_all
cat "$OUT/record.err" "$OUT/record-all.err"
ip -s link show eth0
echo "pair: stopped at $(cut -d' ' -f1 /proc/uptime)"
"#;

/// `trafgen tell` / `trafgen await` of one word with the other host.
fn tell(role: Role, word: &str) -> String {
    format!(
        "trafgen tell --to {}:{CONTROL_PORT} --word {word} --timeout {WAIT}\n",
        role.peer().underlay()
    )
}

fn await_word(word: &str) -> String {
    format!("trafgen await --bind 0.0.0.0:{CONTROL_PORT} --word {word} --timeout {WAIT}\n")
}

/// A receiver of `count` datagrams on this host's overlay address, in the background.
fn receive(role: Role, tag: &str, count: u32) -> String {
    format!(
        r#"trafgen recv --bind {}:{DATA_PORT} --count {count} --timeout {WAIT} --ready "$OUT/{tag}.ready" --ids "$OUT/{tag}.ids" &
rx=$!
wait_file "$OUT/{tag}.ready"
"#,
        role.overlay()
    )
}

/// Datagrams `first..first+count` to the other host's overlay address, 50 a second.
fn send(role: Role, (first, count): (u32, u32)) -> String {
    format!(
        "trafgen send --to {}:{DATA_PORT} --first {first} --count {count} --rate 50\n",
        role.peer().overlay()
    )
}

fn script(role: Role) -> String {
    let mut s = setup(role);
    match role {
        Role::A => {
            s += &receive(role, "ba", BA.1);
            s += &await_word("b-armed");
            s += &send(role, AB);
            s += &tell(role, "a-sent");
            s += "wait $rx\n";
            s += &tell(role, "a-done");
        }
        Role::B => {
            s += &receive(role, "ab", AB.1);
            s += &tell(role, "b-armed");
            s += &await_word("a-sent");
            s += "wait $rx\n";
            s += &send(role, BA);
            s += &await_word("a-done");
        }
    }
    // The last datagrams' frees (virtio_net frees sent skbs lazily) have a moment to show.
    s + "sleep 1\n" + STOP
}

/// Boots both guests, checks each recording, then the merged view.
fn run() -> Result<(), String> {
    let _one_at_a_time = crate::BOOT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let kernel = Kernel::find(KERNEL)?;
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("vm")
        .join(format!("{KERNEL}-pair"));
    let (a, b) = if std::env::var_os("VRFT_VM_RECHECK").is_some() {
        eprintln!("vm: pair: checking the last boot again");
        (Guest::last(&work, Role::A)?, Guest::last(&work, Role::B)?)
    } else {
        boot_pair(&kernel, &work)?
    };
    let (oa, ob) = (a.outcome()?, b.outcome()?);
    let (ra, rb) = (
        Host::read(&oa, Role::A, "a.vrft")?,
        Host::read(&ob, Role::B, "b.vrft")?,
    );
    check_host(&ra, &oa)
        .and_then(|()| check_host(&rb, &ob))
        .and_then(|()| distinct_boots(&ra, &rb))
        .and_then(|()| report_clocks(&ra, &rb))
        .map_err(|why| {
            format!(
                "{why}\n--- guest a ---\n{}\n--- guest b ---\n{}",
                oa.log, ob.log
            )
        })?;
    check_driver(&oa, Role::A)?;
    check_driver(&ob, Role::B)?;
    check_merged(&oa.path("a.vrft"), &ob.path("b.vrft"))
}

/// The driver layer, in each host's unfiltered recording: every overlay datagram the host
/// received (those that reached the overlay socket) starts in the NIC driver's NAPI poll,
/// in softirq before the driver set the device (virtio_net building the skb), reaches
/// `napi_gro_receive` on eth0, and the latency view's first stage is measured from there:
/// `driver rx -> ...` from the tree's first call.
fn check_driver(out: &Outcome, role: Role) -> Result<(), String> {
    let who = role.name();
    let h = Host::read(out, role, &format!("{who}-all.vrft"))?;
    let info = &h.rec.header.info;
    let roles = latency::Roles::new(info);
    let received: Vec<&Packet> = h
        .model
        .packets()
        .iter()
        .filter(|p| {
            p.nodes
                .iter()
                .any(|n| h.func(n) == "__udp_enqueue_schedule_skb" && h.dev(p, n) == "vxlan0")
        })
        .collect();
    let want = match role {
        Role::A => BA.1,
        Role::B => AB.1,
    };
    if received.len() != want as usize {
        return Err(format!(
            "host {who} unfiltered: {} datagrams reached the overlay socket, want {want}",
            received.len()
        ));
    }
    for p in &received {
        let first = &p.nodes[0];
        let why = if first.ctx != Context::SoftIrq || p.dev(first).1 != 0 {
            "does not start in softirq before the driver set the device"
        } else if !p
            .nodes
            .iter()
            .any(|n| h.func(n) == "napi_gro_receive" && h.dev(p, n) == "eth0")
        {
            "has no napi_gro_receive on eth0"
        } else {
            let hops = latency::hops(p, &roles, info);
            let stage = hops.first().and_then(|hop| hop.stages().next());
            match stage {
                Some((name, from, _)) if name.starts_with("driver rx -> ") && from.node == 0 => {
                    continue
                }
                _ => "has no first latency stage from the driver's first call",
            }
        };
        return Err(format!(
            "host {who} unfiltered: packet {:#x} {why}: {:?}",
            p.id,
            h.head(p, 12)
        ));
    }
    eprintln!(
        "[pair] host {who} unfiltered: {} overlay datagrams received from the driver on; the first starts {:?}",
        received.len(),
        h.head(received[0], 6)
    );
    Ok(())
}

/// One guest's boot, as the checks need it.
struct Guest {
    role: Role,
    console: String,
    out: PathBuf,
}

impl Guest {
    /// What the last boot left in `work`/<role> (`VRFT_VM_RECHECK`).
    fn last(work: &Path, role: Role) -> Result<Guest, String> {
        let dir = work.join(role.name());
        let log = dir.join("console.log");
        Ok(Guest {
            role,
            console: std::fs::read_to_string(&log)
                .map_err(|e| format!("VRFT_VM_RECHECK: {}: {e}", log.display()))?,
            out: dir.join("out"),
        })
    }

    /// The scenario's outcome in this guest: its script must have exited 0.
    fn outcome(&self) -> Result<Outcome, String> {
        let who = self.role.name();
        let (exit, log) = scenario::split_console(&self.console, NAME)
            .ok_or_else(|| format!("guest {who} did not report its end:\n{}", self.console))?;
        if exit != 0 {
            return Err(format!(
                "guest {who}: script exited {exit}\n--- guest {who} ---\n{log}"
            ));
        }
        Ok(Outcome {
            kernel: KERNEL.into(),
            log,
            dir: self.out.join(NAME),
        })
    }
}

/// Builds both initramfs images, then boots the two guests at once (one vCPU each, so both
/// fit the 2-core CI machine), their cards crossed on two free loopback ports.
fn boot_pair(kernel: &Kernel, work: &Path) -> Result<(Guest, Guest), String> {
    let started = Instant::now();
    let mut initrds = Vec::new();
    for role in [Role::A, Role::B] {
        let dir = work.join(role.name());
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let sc = Scenario::new(NAME, script(role), |_: &Outcome| Ok(())).timeout(SCRIPT_TIMEOUT);
        let init = scenario::init_script(&[&sc]);
        let run = initramfs::RunFiles {
            init: &init,
            scenarios: vec![(NAME, scenario::guest_script(&sc))],
        };
        let initrd = dir.join("initrd.img");
        initramfs::build(kernel, &run, &initrd)?;
        initrds.push((role, dir, initrd));
    }
    let built = started.elapsed();
    let ports = [qemu::free_udp_port()?, qemu::free_udp_port()?];
    let timeout = Duration::from_secs(120 + u64::from(SCRIPT_TIMEOUT));
    let boots: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = initrds
            .iter()
            .map(|(role, dir, initrd)| {
                let (local, remote) = match role {
                    Role::A => (ports[0], ports[1]),
                    Role::B => (ports[1], ports[0]),
                };
                let machine = Machine {
                    cpus: 1,
                    nic: Some(Nic {
                        local,
                        remote,
                        mac: role.mac().into(),
                    }),
                };
                s.spawn(move || qemu::boot(kernel, initrd, dir, timeout, &machine))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut guests = Vec::new();
    for ((role, _, _), boot) in initrds.iter().zip(boots) {
        let boot = boot.map_err(|e| format!("guest {}: {e}", role.name()))?;
        eprintln!(
            "vm: pair {} ({}), ports {}/{}: initramfs {:.1} s (both), boot wall time {:.1} s",
            role.name(),
            kernel.release,
            ports[0],
            ports[1],
            built.as_secs_f64(),
            boot.wall.as_secs_f64()
        );
        guests.push(Guest {
            role: *role,
            console: boot.console,
            out: boot.out,
        });
    }
    let b = guests.pop().unwrap();
    Ok((guests.pop().unwrap(), b))
}

/// One host's recording, read for the checks.
struct Host {
    role: Role,
    rec: Recording,
    model: Model,
}

impl Host {
    /// `file` in the role's /out: its filtered recording `a.vrft`, or `a-all.vrft`.
    fn read(out: &Outcome, role: Role, file: &str) -> Result<Host, String> {
        let path = out.path(file);
        let rec = Recording::read(&path).map_err(|e| format!("{}: {e:#}", path.display()))?;
        let model = Model::from_events(&rec.header.info, &rec.events);
        Ok(Host { role, rec, model })
    }

    fn func<'a>(&'a self, n: &Node) -> &'a str {
        self.rec.header.info.func_name(n.func)
    }

    fn dev(&self, p: &Packet, n: &Node) -> String {
        let (netns, ifindex) = p.dev(n);
        self.rec.header.info.ifname(netns, ifindex)
    }

    /// The packets with payload ids (not counter ids), by id.
    fn by_id(&self) -> BTreeMap<u32, &Packet> {
        filtering::payload_packets(&self.model)
    }

    /// First call of `func` in packet `p`.
    fn find<'a>(&self, p: &'a Packet, func: &str) -> Option<&'a Node> {
        p.nodes.iter().find(|n| self.func(n) == func)
    }

    /// Checks that `p`'s calls pass `path` in order, the first of them as its very first call;
    /// a step's device ("" for any) and context must match too.
    fn follows(&self, p: &Packet, path: &[Step]) -> Result<(), String> {
        let mut at = 0;
        for (i, n) in p.nodes.iter().enumerate() {
            let Some(&(func, dev, ctx)) = path.get(at) else {
                break;
            };
            if func.split('|').any(|f| self.func(n) == f)
                && (dev.is_empty() || self.dev(p, n) == dev)
                && ctx.is_none_or(|c| n.ctx == c)
            {
                at += 1;
            } else if i == 0 {
                break;
            }
        }
        if at == path.len() {
            return Ok(());
        }
        Err(format!(
            "no {:?} after {:?}; the calls: {:?}",
            path[at],
            &path[..at],
            self.head(p, 200)
        ))
    }

    /// The first `max` calls of `p`, as "func@dev(ctx)".
    fn head(&self, p: &Packet, max: usize) -> Vec<String> {
        p.nodes
            .iter()
            .take(max)
            .map(|n| format!("{}@{}({:?})", self.func(n), self.dev(p, n), n.ctx))
            .collect()
    }
}

fn ids((first, count): (u32, u32)) -> std::ops::Range<u32> {
    first..first + count
}

/// One step of a tree: function (or `a|b`: either), device ("" for any), context (`None` for
/// any).
type Step = (&'static str, &'static str, Option<Context>);

/// What a sent datagram's tree shows on 6.12, in order (function, device, context). It starts
/// at `udp4_hwcsum`: `udp_send_skb` writes the UDP header after its own entry, so the filter
/// first matches at the checksum offload it calls next (its caller's entry and exit are not
/// in the tree). vxlan0 encapsulates, virtio_net's `start_xmit` puts it on the wire, and the
/// driver's transmit completion frees it: `napi_consume_skb`, or only the `skb:consume_skb`
/// tracepoint in it when the function's probe missed (a softirq run on an interrupt's exit
/// while a probe of the interrupted process held the CPU's BPF guard). Mostly in its NAPI
/// poll (softirq), but `start_xmit` also frees what the device finished sending before, so a
/// later datagram's send may free this one in its task (seen when the first datagram waited
/// for ARP and went on from the reply's softirq).
const SEND_PATH: &[Step] = &[
    ("udp4_hwcsum", "", Some(Context::Process)),
    ("ip_send_skb", "", Some(Context::Process)),
    // The first datagram waits for the overlay's ARP reply: it goes on in that softirq.
    ("vxlan_xmit", "vxlan0", None),
    ("start_xmit", "eth0", None),
    ("napi_consume_skb|skb:consume_skb", "", None),
];

/// What a received datagram's tree shows on 6.12. It starts in virtio_net's NAPI poll
/// (`virtnet_poll` > `receive_buf`, softirq) at `eth_type_trans`, before the driver set the
/// device: the first probe where the filter can read the frame (the driver built the skb just
/// before). Then `napi_gro_receive` on eth0, VXLAN's GRO, the stack, decapsulation
/// (`vxlan_rcv`), the overlay socket, and the free after the read.
const RECEIVE_PATH: &[Step] = &[
    ("eth_type_trans", "", Some(Context::SoftIrq)),
    ("napi_gro_receive", "eth0", Some(Context::SoftIrq)),
    ("inet_gro_receive", "eth0", Some(Context::SoftIrq)),
    ("vxlan_gro_receive", "eth0", Some(Context::SoftIrq)),
    ("ip_local_deliver", "eth0", Some(Context::SoftIrq)),
    ("vxlan_rcv", "", Some(Context::SoftIrq)),
    (
        "__udp_enqueue_schedule_skb",
        "vxlan0",
        Some(Context::SoftIrq),
    ),
    ("kfree_skbmem", "", Some(Context::Process)),
];

/// Each host on its own: every payload id of both directions once; the ids it sent along
/// [`SEND_PATH`], those it received along [`RECEIVE_PATH`]; the recording names its host.
fn check_host(h: &Host, out: &Outcome) -> Result<(), String> {
    let who = h.role.name();
    let packets = h.by_id();
    let (sent, received) = match h.role {
        Role::A => (AB, BA),
        Role::B => (BA, AB),
    };
    let want: Vec<u32> = ids(AB).chain(ids(BA)).collect();
    if !packets.keys().copied().eq(want.iter().copied()) {
        let got: Vec<String> = h
            .model
            .packets()
            .iter()
            .map(|p| format!("{:#x} {:?}", p.id, h.head(p, 6)))
            .collect();
        return Err(format!(
            "host {who}: want payload ids {} and {} once each, got:\n{}",
            span(AB),
            span(BA),
            got.join("\n")
        ));
    }
    for (dir, range, path) in [
        ("sent", sent, SEND_PATH),
        ("received", received, RECEIVE_PATH),
    ] {
        for id in ids(range) {
            h.follows(packets[&id], path)
                .map_err(|why| format!("host {who}: {dir} id {id}: {why}"))?;
        }
    }
    // The recording says which machine it is (format 8), as the guest itself saw it.
    let host =
        h.rec.header.info.host.as_ref().ok_or_else(|| {
            format!("host {who}: the recording names no host (format 8 or later)")
        })?;
    let (hostname, boot_id) = (out.read("hostname")?, out.read("boot_id")?);
    if host.hostname != who || host.hostname != hostname.trim() || host.boot_id != boot_id.trim() {
        return Err(format!(
            "host {who}: recorded host {host:?}, the guest said hostname {hostname:?}, boot id {boot_id:?}"
        ));
    }
    eprintln!(
        "[pair] host {who}: ids {} sent, {} received, each once; received id {} starts {:?}",
        span(sent),
        span(received),
        received.0,
        h.head(packets[&received.0], 10)
    );
    Ok(())
}

/// Two machines, so two boots (and two monotonic clocks to align).
fn distinct_boots(a: &Host, b: &Host) -> Result<(), String> {
    let boot = |h: &Host| h.rec.header.info.host.as_ref().map(|h| h.boot_id.clone());
    if boot(a) == boot(b) {
        return Err(format!("hosts a and b share boot id {:?}", boot(a)));
    }
    Ok(())
}

fn span((first, count): (u32, u32)) -> String {
    format!("{first}..={}", first + count - 1)
}

/// Prints, for the merge's clock estimate, the timestamps of one datagram each way and the
/// bounds the packets give on `clock_b - clock_a` (each host's CLOCK_MONOTONIC, in ns): a
/// datagram a -> b left a (its `start_xmit` entry) before b saw it (b's first call), so
/// `b_first - a_xmit` bounds the offset from above; one b -> a bounds it from below with
/// `b_xmit - a_first`.
fn report_clocks(a: &Host, b: &Host) -> Result<(), String> {
    let (pa, pb) = (a.by_id(), b.by_id());
    let xmit = |h: &Host, p: &Packet| h.find(p, "start_xmit").map(|n| n.ts as i128);
    let mut upper = i128::MAX;
    for id in ids(AB) {
        let sent = xmit(a, pa[&id]).ok_or("no start_xmit")?;
        upper = upper.min(i128::from(pb[&id].nodes[0].ts) - sent);
    }
    let mut lower = i128::MIN;
    for id in ids(BA) {
        let sent = xmit(b, pb[&id]).ok_or("no start_xmit")?;
        lower = lower.max(sent - i128::from(pa[&id].nodes[0].ts));
    }
    let (s, r) = (pa[&AB.0], pb[&AB.0]);
    eprintln!(
        "[pair] id {}: a first call {} at {} ns, a start_xmit at {} ns; b first call {} at {} ns, \
         b __udp_enqueue_schedule_skb at {} ns",
        AB.0,
        a.func(&s.nodes[0]),
        s.nodes[0].ts,
        xmit(a, s).unwrap_or(0),
        b.func(&r.nodes[0]),
        r.nodes[0].ts,
        b.find(r, "__udp_enqueue_schedule_skb").map_or(0, |n| n.ts),
    );
    eprintln!(
        "[pair] clock_b - clock_a: at least {lower} ns (b->a), at most {upper} ns (a->b), \
         width {} us",
        (upper - lower) / 1000
    );
    if lower > upper {
        return Err(format!(
            "the bounds cross: lower {lower} ns > upper {upper} ns: a timestamp is wrong"
        ));
    }
    Ok(())
}

/// The merged view of both recordings (issue 19), checked by `merged.rs`: the clock estimate
/// within the bounds the raw recordings give, each datagram one packet from the sender's socket
/// to the receiver's, the wire in the latency view, `dump` and `replay` in tmux.
pub fn check_merged(a: &Path, b: &Path) -> Result<(), String> {
    for f in [a, b] {
        if !f.is_file() {
            return Err(format!("{}: missing", f.display()));
        }
    }
    let sent = [
        merged::Sent {
            from: "a",
            to: "b",
            ids: AB.0..=AB.0 + AB.1 - 1,
        },
        merged::Sent {
            from: "b",
            to: "a",
            ids: BA.0..=BA.0 + BA.1 - 1,
        },
    ];
    let work = a.parent().unwrap_or(a);
    let summary = merged::check_merged(a, b, &sent, work)?;
    eprintln!("[pair] {summary}");
    Ok(())
}
