//! A synthetic but realistic event stream: what the tracer would emit for a UDP packet
//! crossing a veth pair, a dropped packet, an incomplete one and a slow one.
#![allow(dead_code)] // each test binary uses a different part

use std::net::{IpAddr, Ipv4Addr};

use vrft_events::event::{flags, Context, Event, FuncInfo, Kind, Origin, Returns};
use vrft_events::session::{Flow, Interface, Probe, ProbeStatus, SessionInfo, Stats};
use vrft_ui::app::App;
use vrft_ui::testkit;

pub const NS1: u32 = 4026531840;
pub const NS2: u32 = 4026532513;

/// Where an event happens: CPU, stack, context and the skb's device.
#[derive(Clone, Copy, Debug)]
pub struct At {
    pub cpu: u16,
    pub tid: u32,
    pub ctx: Context,
    pub netns: u32,
    pub ifindex: u32,
}

/// What a synthetic function returns: void, bool and pointer returns by name,
/// as BTF says of the real ones.
fn returns_of(name: &str) -> Returns {
    match name {
        "kfree_skbmem" | "skb_release_data" | "kfree_skb_reason" | "ping_queue_rcv_skb" => {
            Returns::Void
        }
        "skb_defer_rx_timestamp" => Returns::Bool,
        "skb_clone" | "skb_push" => Returns::Pointer,
        _ => Returns::Value,
    }
}

pub const fn at(cpu: u16, tid: u32, ctx: Context, netns: u32, ifindex: u32) -> At {
    At {
        cpu,
        tid,
        ctx,
        netns,
        ifindex,
    }
}

/// UDP from 10.0.0.1 to 10.0.0.2 with these ports.
pub fn udp_flow(sport: u16, dport: u16) -> Flow {
    Flow {
        proto: 17,
        src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        sport,
        dport,
    }
}

pub struct Synth {
    pub info: SessionInfo,
    pub events: Vec<Event>,
    pub t: u64,
    /// Nanoseconds between two consecutive events.
    pub step: u64,
}

impl Default for Synth {
    fn default() -> Self {
        Self::new()
    }
}

impl Synth {
    pub fn new() -> Self {
        let info = SessionInfo {
            backend: Some(vrft_events::Backend::Fentry),
            kernel: "6.12.48+deb13-amd64".into(),
            filter: "udp".into(),
            interfaces: vec![
                Interface {
                    netns: NS1,
                    ifindex: 1,
                    name: "lo".into(),
                },
                Interface {
                    netns: NS1,
                    ifindex: 2,
                    name: "eth0".into(),
                },
                Interface {
                    netns: NS1,
                    ifindex: 5,
                    name: "veth0".into(),
                },
                Interface {
                    netns: NS2,
                    ifindex: 4,
                    name: "veth1".into(),
                },
            ],
            drop_reasons: vec![(2, "NOT_SPECIFIED".into()), (3, "NO_SOCKET".into())],
            ..Default::default()
        };
        Synth {
            info,
            events: Vec::new(),
            t: 1_000_000_000_000,
            step: 90,
        }
    }

    pub fn func(&mut self, name: &str) -> u32 {
        if let Some(i) = self.info.functions.iter().position(|f| f.name == name) {
            return i as u32;
        }
        let origin = if name.contains(':') {
            Origin::Tracepoint
        } else if name.starts_with("veth") {
            Origin::Module("veth".into())
        } else {
            Origin::Vmlinux
        };
        self.info.functions.push(FuncInfo {
            name: name.into(),
            origin: origin.clone(),
            skb_arg: 0,
            nargs: if origin == Origin::Tracepoint { 0 } else { 2 },
            returns: returns_of(name),
        });
        let func = (self.info.functions.len() - 1) as u32;
        self.info.probes.push(Probe {
            name: name.into(),
            origin,
            status: ProbeStatus::Attached,
            func: Some(func),
        });
        func
    }

    fn push(&mut self, pkt: u32, a: &At, name: &str, kind: Kind, fl: u8, ret: i64) {
        let func = self.func(name);
        self.t += self.step;
        self.events.push(Event {
            host: 0,
            ts_ns: self.t,
            packet: pkt,
            clone: 0,
            cpu: a.cpu,
            func,
            tid: a.tid,
            kind,
            ctx: a.ctx,
            flags: fl,
            ifindex: a.ifindex,
            netns: a.netns,
            len: 84,
            ret,
            extra: None,
        });
    }

    /// Gives the last event the packet's flow, as the tracer does once it can read the headers.
    pub fn flow(&mut self, flow: Flow) {
        let last = self.events.last_mut().expect("an event to carry the flow");
        last.extra.get_or_insert_with(Box::default).flow = Some(flow);
    }

    /// Gives the last event the tracer's look at what the packet is (ethertype, socket
    /// family) without an IP flow, as for a netlink message or unix socket data.
    pub fn class(&mut self, ethertype: u16, family: u16) {
        let last = self.events.last_mut().expect("an event to carry the class");
        last.extra.get_or_insert_with(Box::default).class =
            Some(vrft_events::SkbClass { ethertype, family });
    }

    /// Gives the last event `--skb-fields` values.
    pub fn fields(&mut self, values: &[u64]) {
        let last = self
            .events
            .last_mut()
            .expect("an event to carry the fields");
        last.extra.get_or_insert_with(Box::default).fields = values.to_vec();
    }

    pub fn enter(&mut self, pkt: u32, a: &At, name: &str) {
        self.push(pkt, a, name, Kind::Entry, 0, 0);
    }

    pub fn enter_flags(&mut self, pkt: u32, a: &At, name: &str, fl: u8) {
        self.push(pkt, a, name, Kind::Entry, fl, 0);
    }

    pub fn exit(&mut self, pkt: u32, a: &At, name: &str, ret: i64) {
        self.push(pkt, a, name, Kind::Exit, 0, ret);
    }

    pub fn exit_flags(&mut self, pkt: u32, a: &At, name: &str, ret: i64, fl: u8) {
        self.push(pkt, a, name, Kind::Exit, fl, ret);
    }

    pub fn tp(&mut self, pkt: u32, a: &At, name: &str, fl: u8, ret: i64) {
        self.push(pkt, a, name, Kind::Tracepoint, fl, ret);
    }

    /// `name() { body }` returning `ret`.
    pub fn call(&mut self, pkt: u32, a: &At, name: &str, ret: i64, body: impl FnOnce(&mut Self)) {
        self.enter(pkt, a, name);
        body(self);
        self.exit(pkt, a, name, ret);
    }

    pub fn leaf(&mut self, pkt: u32, a: &At, name: &str, ret: i64) {
        self.call(pkt, a, name, ret, |_| {});
    }

    pub fn wait(&mut self, ns: u64) {
        self.t += ns;
    }

    /// Packet 1: UDP sent from veth0 (netns 1, CPU 0), received on veth1 (netns 2) in a
    /// softirq on CPU 1, read by the application 150 us later. A hardirq on CPU 0 handles
    /// packet 5 in the middle of packet 1's transmit.
    pub fn udp_across_veth(&mut self, id: u32, irq_id: u32) {
        let tx = at(0, 4242, Context::Process, NS1, 5);
        let peer = at(0, 4242, Context::Process, NS2, 4);
        let irq = at(0, 4242, Context::HardIrq, NS1, 2);
        let rx = at(1, 0, Context::SoftIrq, NS2, 4);
        let app = at(1, 5151, Context::Process, NS2, 4);
        self.enter_flags(id, &tx, "udp_send_skb", flags::FIRST_SEEN);
        self.call(id, &tx, "ip_send_skb", 0, |s| {
            s.call(id, &tx, "ip_local_out", 0, |s| {
                s.leaf(id, &tx, "__ip_local_out", 1);
                s.call(id, &tx, "ip_output", 0, |s| {
                    // skb->protocol is set by now: the tracer reads the flow here.
                    s.flow(udp_flow(40000, 7777));
                    s.call(id, &tx, "ip_finish_output2", 0, |s| {
                        s.call(id, &tx, "__dev_queue_xmit", 0, |s| {
                            s.tp(id, &tx, "net:net_dev_queue", 0, 0);
                            s.call(id, &tx, "dev_hard_start_xmit", 0, |s| {
                                s.call(id, &tx, "veth_xmit", 0, |s| {
                                    s.call(id, &tx, "__dev_forward_skb", 0, |s| {
                                        s.leaf(id, &tx, "eth_type_trans", 8);
                                    });
                                    // A legacy driver's interrupt hands packet 5 to the stack.
                                    s.call(irq_id, &irq, "netif_rx", 0, |s| {
                                        s.leaf(irq_id, &irq, "enqueue_to_backlog", 0);
                                    });
                                    s.call(id, &peer, "__netif_rx", 0, |s| {
                                        s.leaf(id, &peer, "enqueue_to_backlog", 0);
                                    });
                                });
                            });
                        });
                    });
                });
            });
        });
        self.exit(id, &tx, "udp_send_skb", 0);
        self.wait(3_000);
        self.call(id, &rx, "__netif_receive_skb_one_core", 0, |s| {
            s.leaf(id, &rx, "__netif_receive_skb_core", 0);
            s.call(id, &rx, "ip_rcv", 0, |s| {
                s.leaf(id, &rx, "ip_rcv_core", 0xffff_8880_0a1b_2c00_u64 as i64);
                s.call(id, &rx, "ip_local_deliver", 0, |s| {
                    s.call(id, &rx, "udp_rcv", 0, |s| {
                        s.call(id, &rx, "__udp4_lib_rcv", 0, |s| {
                            s.wait(12_000);
                            s.leaf(id, &rx, "__udp_enqueue_schedule_skb", 0);
                        });
                    });
                });
            });
        });
        self.wait(150_000);
        self.call(id, &app, "skb_consume_udp", 0, |s| {
            s.enter_flags(id, &app, "consume_skb", flags::FREED);
            s.exit(id, &app, "consume_skb", 0);
        });
    }

    /// A packet nobody listens for: dropped in UDP with reason NO_SOCKET.
    pub fn dropped(&mut self, id: u32) {
        let rx = at(1, 0, Context::SoftIrq, NS2, 4);
        self.enter_flags(id, &rx, "__netif_receive_skb_one_core", flags::FIRST_SEEN);
        self.flow(udp_flow(40001, 9));
        self.call(id, &rx, "ip_rcv", 0, |s| {
            s.call(id, &rx, "ip_local_deliver", 0, |s| {
                s.call(id, &rx, "udp_rcv", 0, |s| {
                    s.call(id, &rx, "__udp4_lib_rcv", 0, |s| {
                        s.call(id, &rx, "kfree_skb_reason", 0, |s| {
                            s.tp(id, &rx, "skb:kfree_skb", flags::DROP | flags::FREED, 3);
                        });
                    });
                });
            });
        });
        self.exit(id, &rx, "__netif_receive_skb_one_core", 0);
    }

    /// Lost records: an exit never seen, an exit without entry, a call still running.
    pub fn incomplete(&mut self, id: u32) {
        let tx = at(0, 4243, Context::Process, NS1, 5);
        self.enter_flags(id, &tx, "__dev_queue_xmit", flags::FIRST_SEEN);
        self.enter(id, &tx, "dev_hard_start_xmit");
        // dev_hard_start_xmit's exit was lost (ring buffer full).
        self.exit(id, &tx, "__dev_queue_xmit", -105);
        self.exit_flags(id, &tx, "ip_finish_output2", -105, flags::NO_ENTRY);
        self.enter(id, &tx, "veth_xmit");
    }

    /// A slow transmit: 1.5 ms in the queue discipline, 150 us in the driver.
    pub fn slow(&mut self, id: u32) {
        let tx = at(1, 777, Context::Process, NS1, 2);
        self.enter_flags(id, &tx, "udp_send_skb", flags::FIRST_SEEN);
        self.call(id, &tx, "ip_finish_output2", 0, |s| {
            s.wait(25_000);
            s.call(id, &tx, "__dev_queue_xmit", 0, |s| {
                s.wait(1_500_000);
                s.call(id, &tx, "dev_hard_start_xmit", 0, |s| {
                    s.wait(150_000);
                });
            });
        });
        self.exit(id, &tx, "udp_send_skb", 0);
    }

    /// The scenario the snapshots use: packets 1 to 5.
    pub fn scenario() -> Synth {
        let mut s = Synth::new();
        s.udp_across_veth(1, 5);
        s.wait(20_000);
        s.dropped(2);
        s.wait(20_000);
        s.incomplete(3);
        s.wait(20_000);
        s.slow(4);
        s.info.probes.push(Probe {
            name: "dev_queue_xmit".into(),
            origin: Origin::Vmlinux,
            status: ProbeStatus::Skipped("not in available_filter_functions (inlined)".into()),
            func: None,
        });
        s.info.probes.push(Probe {
            name: "skb_segment_list".into(),
            origin: Origin::Vmlinux,
            status: ProbeStatus::Failed("attach: ENOTSUPP (more than 6 arguments)".into()),
            func: None,
        });
        s
    }

    /// The app on this stream with [`Synth::stats`]: live, or replayed (the stream finished).
    pub fn app(&self, live: bool) -> App {
        let mut app = testkit::open(self.info.clone(), &self.events, live);
        app.set_stats(self.stats());
        app
    }

    pub fn stats(&self) -> Stats {
        Stats {
            events: self.events.len() as u64,
            events_per_sec: 1234.0,
            lost: 3,
            recursion_misses: 0,
            probe_hits: self
                .info
                .probes
                .iter()
                .enumerate()
                .map(|(i, _)| (i as u64 * 7) % 23)
                .collect(),
            ..Default::default()
        }
    }
}
