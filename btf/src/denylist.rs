//! Functions vrft-tui must never probe, each with the reason. A name matches an
//! entry exactly, or by prefix when the entry ends in `*`.
//!
//! Most entries take no skb and so never show up in a scan; they are here because
//! the tracer checks every probe it places against this list (see [`reason`]).

const DENYLIST: &[(&str, &str)] = &[
    // Tracing infrastructure that takes an skb: probing it traces the tracer.
    (
        "__bpf_trace_*",
        "runs raw_tp/tp_btf programs, ours included: probing it recurses into our own tracepoint backend",
    ),
    (
        "__traceiter_*",
        "tracepoint dispatch, not packet processing: it would wrap every tracepoint hit, ours included",
    ),
    (
        "__probestub_*",
        "empty stub that only exists as a tracepoint attach target; use the tracepoint instead",
    ),
    (
        "perf_trace_*",
        "perf handler of a tracepoint event: tracing machinery, runs only while perf records that event",
    ),
    (
        "trace_event_raw_event_*",
        "ftrace handler of a tracepoint event: tracing machinery, runs only while that event is enabled",
    ),
    // What every BPF program run goes through: the kernel's recursion guard would
    // drop our events, and some of these (migrate_*) the verifier refuses anyway.
    ("__bpf_prog_enter*", "BPF trampoline entry: runs before each of our programs"),
    ("__bpf_prog_exit*", "BPF trampoline exit: runs after each of our programs"),
    ("__bpf_tramp_enter*", "BPF trampoline image entry"),
    ("__bpf_tramp_exit*", "BPF trampoline image exit"),
    ("bpf_trampoline_*", "builds and runs trampolines; probing it changes what it is building"),
    ("update_prog_stats", "called by the trampoline after each program when BPF stats are on"),
    ("inc_misses_counter", "called by the trampoline when a program is skipped for recursion"),
    ("migrate_disable", "called around every tracing program run; the verifier denies it"),
    ("migrate_enable", "called around every tracing program run; the verifier denies it"),
    // RCU and preemption: taken around every program run.
    ("rcu_read_lock*", "taken around every program run"),
    ("rcu_read_unlock*", "taken around every program run"),
    ("__rcu_read_lock", "taken around every program run"),
    ("__rcu_read_unlock", "taken around every program run"),
    ("preempt_count_add", "preemption bookkeeping on every program run"),
    ("preempt_count_sub", "preemption bookkeeping on every program run"),
    // Helpers our programs call on every event, and the ring buffer path.
    ("bpf_get_smp_processor_id", "helper our programs call on every event"),
    ("bpf_ktime_get_ns", "helper our programs call on every event (timestamps)"),
    ("bpf_probe_read_kernel*", "helper our programs call to read packet fields"),
    ("bpf_ringbuf_*", "our event output path: probing it recurses on every event"),
    ("irq_work_queue", "the ring buffer wakes its reader through irq_work"),
    // An skb argument that is only a marker, not a packet passing through.
    (
        "__skb_wait_for_more_packets",
        "its skb is the last one peeked, only compared and possibly freed already: not a packet passing through",
    ),
    // Idle: RCU is not watching there, so BPF programs must not run.
    ("default_idle", "CPU idle: RCU is not watching"),
    ("arch_cpu_idle", "CPU idle: RCU is not watching"),
];

/// Why `name` must never be probed, or `None` when it may be.
pub fn reason(name: &str) -> Option<&'static str> {
    DENYLIST.iter().find_map(|(pattern, why)| {
        let hit = match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *pattern,
        };
        hit.then_some(*why)
    })
}

/// Every entry, pattern and reason, for documentation and `--help`.
pub fn entries() -> &'static [(&'static str, &'static str)] {
    DENYLIST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_prefix_entries() {
        assert!(reason("__traceiter_net_dev_queue").is_some());
        assert!(reason("migrate_disable").is_some());
        assert!(reason("migrate_disable_x").is_none());
        assert!(reason("ip_rcv").is_none());
    }
}
