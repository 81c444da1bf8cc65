//! Reusable guest topologies and traffic, as shell snippets for scenario scripts.
//!
//! Each topology builds itself from scratch in fresh network namespaces (the harness deletes them
//! after every scenario). Addresses are constants so guest scripts and host checks name the same
//! things. All traffic stays inside the guest, which has no network card.

/// Namespaces `a` and `b` joined by a veth pair, `eth0` on both sides, with these addresses:
/// the start of every topology below.
fn pair(a: &str, b: &str) -> String {
    format!(
        r#"
ip netns add a
ip netns add b
ip -n a link add eth0 type veth peer name eth0 netns b
ip -n a addr add {a}/24 dev eth0
ip -n b addr add {b}/24 dev eth0
"#
    )
}

/// Two namespaces `a` and `b` joined by a veth pair, `eth0` on both sides.
pub mod veth {
    pub const A: &str = "10.11.0.1";
    pub const B: &str = "10.11.0.2";

    pub fn setup() -> String {
        super::pair(A, B)
            + "for ns in a b; do ip -n $ns link set lo up; ip -n $ns link set eth0 up; done\n"
    }

    /// Shell that makes each side's neighbour entry for the other permanent: no datagram
    /// waits for ARP, whose reply may resume it in another context (its tree then no
    /// longer nests under the sender's `ip_finish_output2`).
    pub fn known_neighbours() -> String {
        let mac = |ns| format!("$(at {ns} cat /sys/class/net/eth0/address)");
        format!(
            "ip -n a neigh replace {B} lladdr {} dev eth0 nud permanent\nip -n b neigh replace {A} lladdr {} dev eth0 nud permanent\n",
            mac("b"),
            mac("a")
        )
    }
}

/// A VXLAN overlay (VNI 42, `vxlan0`) between namespaces `a` and `b` over a veth underlay (`eth0`).
pub mod vxlan {
    pub const UNDERLAY_A: &str = "10.21.0.1";
    pub const UNDERLAY_B: &str = "10.21.0.2";
    pub const OVERLAY_A: &str = "10.22.0.1";
    pub const OVERLAY_B: &str = "10.22.0.2";
    pub const VNI: u32 = 42;
    pub const PORT: u16 = 4789;

    pub fn setup() -> String {
        super::pair(UNDERLAY_A, UNDERLAY_B)
            + &format!(
                r#"ip -n a link add vxlan0 type vxlan id {VNI} local {UNDERLAY_A} remote {UNDERLAY_B} dstport {PORT} dev eth0
ip -n b link add vxlan0 type vxlan id {VNI} local {UNDERLAY_B} remote {UNDERLAY_A} dstport {PORT} dev eth0
ip -n a addr add {OVERLAY_A}/24 dev vxlan0
ip -n b addr add {OVERLAY_B}/24 dev vxlan0
for ns in a b; do for dev in lo eth0 vxlan0; do ip -n $ns link set $dev up; done; done
"#
            )
    }
}

/// A GENEVE overlay (VNI 43, `gnv0`, Ethernet inside) between namespaces `a` and `b` over a
/// veth underlay (`eth0`), on GENEVE's standard port 6081.
pub mod geneve {
    pub const UNDERLAY_A: &str = "10.41.0.1";
    pub const UNDERLAY_B: &str = "10.41.0.2";
    pub const OVERLAY_A: &str = "10.42.0.1";
    pub const OVERLAY_B: &str = "10.42.0.2";
    pub const VNI: u32 = 43;

    pub fn setup() -> String {
        super::pair(UNDERLAY_A, UNDERLAY_B)
            + &format!(
                r#"ip -n a link add gnv0 type geneve id {VNI} remote {UNDERLAY_B}
ip -n b link add gnv0 type geneve id {VNI} remote {UNDERLAY_A}
ip -n a addr add {OVERLAY_A}/24 dev gnv0
ip -n b addr add {OVERLAY_B}/24 dev gnv0
for ns in a b; do for dev in lo eth0 gnv0; do ip -n $ns link set $dev up; done; done
"#
            )
    }
}

/// Namespaces `a` and `b`, each with `eth0` plugged into bridge `br0` in namespace `br`
/// (ports `port-a` and `port-b`). STP is off, so the ports forward at once.
pub mod bridge {
    pub const A: &str = "10.31.0.1";
    pub const B: &str = "10.31.0.2";

    pub fn setup() -> String {
        format!(
            r#"
ip netns add br
ip netns add a
ip netns add b
ip -n br link add br0 type bridge
ip -n a link add eth0 type veth peer name port-a netns br
ip -n b link add eth0 type veth peer name port-b netns br
ip -n br link set port-a master br0
ip -n br link set port-b master br0
ip -n a addr add {A}/24 dev eth0
ip -n b addr add {B}/24 dev eth0
for dev in lo br0 port-a port-b; do ip -n br link set $dev up; done
for ns in a b; do ip -n $ns link set lo up; ip -n $ns link set eth0 up; done
"#
        )
    }
}

/// On top of [`veth`]: a second path from `a` to `b` through bridge `br0` in namespace `br`
/// (`a`'s and `b`'s `eth1`, ports `port-a` and `port-b`), carrying a VXLAN overlay (VNI 44,
/// `vxlan0`). A packet over the overlay is encapsulated, crosses two veth pairs and the bridge,
/// and is decapsulated: the deepest path of the test bed.
pub mod vxlan_bridge {
    pub const UNDERLAY_A: &str = "10.51.0.1";
    pub const UNDERLAY_B: &str = "10.51.0.2";
    pub const OVERLAY_A: &str = "10.52.0.1";
    pub const OVERLAY_B: &str = "10.52.0.2";
    pub const VNI: u32 = 44;

    /// Expects the namespaces of [`super::veth::setup`].
    pub fn setup() -> String {
        let port = super::vxlan::PORT;
        format!(
            r#"
ip netns add br
ip -n br link add br0 type bridge
ip -n a link add eth1 type veth peer name port-a netns br
ip -n b link add eth1 type veth peer name port-b netns br
ip -n br link set port-a master br0
ip -n br link set port-b master br0
for dev in lo br0 port-a port-b; do ip -n br link set $dev up; done
ip -n a addr add {UNDERLAY_A}/24 dev eth1
ip -n b addr add {UNDERLAY_B}/24 dev eth1
ip -n a link add vxlan0 type vxlan id {VNI} local {UNDERLAY_A} remote {UNDERLAY_B} dstport {port} dev eth1
ip -n b link add vxlan0 type vxlan id {VNI} local {UNDERLAY_B} remote {UNDERLAY_A} dstport {port} dev eth1
ip -n a addr add {OVERLAY_A}/24 dev vxlan0
ip -n b addr add {OVERLAY_B}/24 dev vxlan0
for ns in a b; do for dev in eth1 vxlan0; do ip -n $ns link set $dev up; done; done
"#
        )
    }
}

/// A known run of packets from one namespace to another, counted by a receiver.
///
/// The receiver (`trafgen recv`, in namespace `to`) saves the sequence IDs it got to
/// `$OUT/<tag>.ids` and fails the script unless all `count` arrived; check them on the host with
/// `Outcome::expect_ids(tag, count)`.
#[derive(Clone)]
pub struct Flow {
    /// Names the flow's files in $OUT and its shell variable, so: letters, digits, '_'.
    pub tag: &'static str,
    /// "udp" or "tcp".
    pub proto: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub dst: &'static str,
    pub port: u16,
    pub count: u32,
    /// Packets per second; 0 sends as fast as possible.
    pub rate: u32,
}

impl Flow {
    pub fn udp(
        tag: &'static str,
        from: &'static str,
        to: &'static str,
        dst: &'static str,
        port: u16,
    ) -> Flow {
        Flow {
            tag,
            proto: "udp",
            from,
            to,
            dst,
            port,
            count: 100,
            rate: 1000,
        }
    }

    pub fn tcp(
        tag: &'static str,
        from: &'static str,
        to: &'static str,
        dst: &'static str,
        port: u16,
    ) -> Flow {
        Flow {
            proto: "tcp",
            ..Flow::udp(tag, from, to, dst, port)
        }
    }

    /// Shell that starts the receiver, sends, and waits for the receiver's verdict.
    pub fn script(&self) -> String {
        self.script_with_sender("")
    }

    /// [`Flow::script`] with `prefix` run by the sender's own shell just before it becomes the
    /// sender (`$$` is then the sender's pid), e.g. to hand that pid to ftrace.
    pub fn script_with_sender(&self, prefix: &str) -> String {
        let Flow {
            tag,
            proto,
            from,
            to,
            dst,
            port,
            count,
            rate,
        } = self;
        let cmd =
            format!("trafgen send --proto {proto} --to {dst}:{port} --count {count} --rate {rate}");
        let send = if prefix.is_empty() {
            format!("at {from} {cmd}")
        } else {
            format!("at {from} sh -c '{prefix}; exec {cmd}'")
        };
        format!(
            r#"
rm -f "$OUT/{tag}.ready"  # a flow run again waits for its new receiver
at {to} trafgen recv --proto {proto} --bind 0.0.0.0:{port} --count {count} --ready "$OUT/{tag}.ready" --ids "$OUT/{tag}.ids" &
rx_{tag}=$!
wait_file "$OUT/{tag}.ready"
{send}
wait $rx_{tag}
"#
        )
    }
}
