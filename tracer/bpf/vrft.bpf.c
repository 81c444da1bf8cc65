// SPDX-License-Identifier: GPL-2.0
/*
 * vrft-tui probes: one entry and one exit template for every skb function
 * (cloned per target by user space, which passes the function id, the skb
 * argument index and the function's role in the BPF cookie), a kprobe session
 * program for kernels where fentry is refused, and tp_btf programs on the
 * skb tracepoints.
 *
 * Path of a hit on a packet nobody asked for: armed check, one hash lookup of
 * the skb, the filter, return. Everything else happens only for packets we follow.
 *
 * Built twice (tracer/build.rs): as is, and with VRFT_COMPAT for kernels
 * 5.10-5.18 (no BPF fetch-add before 5.12, no pointer arguments to global
 * functions before 5.12, no drop reason in skb:kfree_skb before 5.17, no
 * fentry cookies nor bpf_get_func_arg before 5.17/5.19). Both objects have the
 * same maps, globals and program names, so one skeleton serves both; user
 * space picks the object from the kernel's features (tracer/src/features.rs).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "event.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space once every probe is attached, cleared on quit: one store
 * disarms thousands of programs while their links are released in the background. */
volatile __u32 armed;
/* Last packet id handed out. */
__u32 next_packet;
/* Function ids of the tracepoints, indexed by enum vrft_tp; set before arming. */
__u32 tp_func[16];
/* When no probe sits on kfree_skbmem (tracepoint backend), the free tracepoints end tracking. */
__u32 tp_ends_tracking;
/* Probes sit on the functions that free an sk_buff and on those that build
 * one: an address then keeps its packet from birth to free, even when its
 * head is reallocated (see docs/design.md, "Packet identity"). */
__u32 frees_probed;
/* Frames on all tasks' stacks (see on_entry): while it is 0, which it is as
 * long as the filter has chosen nothing, an exit has nothing to pair and
 * returns without looking up its task's stack. It may stay above the truth
 * (a stack evicted with frames on it), which costs lookups, never pairings. */
__u64 frames_live;

/* --count-hits: every run of a function probe or tracepoint is counted in
 * its function's slot of `hits`, rejected packets included (what the probes
 * view shows). Off by default: read-only, so the verifier drops the code. */
const volatile __u8 count_hits = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1); /* one slot per function id, sized by user space */
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void count_hit(__u32 func)
{
	__u64 *c;

	if (!count_hits)
		return;
	c = bpf_map_lookup_elem(&hits, &func);
	if (c)
		*c += 1;
}

/* Counters user space reads at the end, summed over CPUs. */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by user space (--ring-size) */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
#ifdef VRFT_COMPAT
	/* Two more slots per CPU: the packet id counters (see compat_packet_id). */
	__uint(max_entries, CNT_MAX + 2);
#else
	__uint(max_entries, CNT_MAX);
#endif
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* A packet we follow: keyed by skb address. head tells a reused sk_buff (the
 * slab or the NAPI cache hands out the same address for a new packet, with a
 * new head) from the packet we saw, without tracing every allocator. */
struct vrft_track {
	__u64 head;
	__u32 packet;
	__u32 next_clone;
	__u16 clone;
	__u16 flow_done; /* the flow was sent (or the packet has none) */
	/* A free tracepoint fired outside any traced call on this skb: only the
	 * free path's own functions still belong to the packet. */
	__u8 freed;
	__u8 pad[3];
	/* Fingerprint of the headers last sent (0: none yet), and the device
	 * they were on (namespace inode << 32 | ifindex; 0: none): see
	 * vrft_note_headers. */
	__u32 hdr_fp;
	__u32 pad2;
	__u64 hdr_dev;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct vrft_track);
} tracked SEC(".maps");

/* Per-task call stack of the traced calls we recorded. Interrupts nest strictly
 * inside the task they interrupt, so one LIFO stack per task (the idle task of
 * each CPU included) pairs every exit with its entry, across sleeps and CPU
 * migrations, without touching the possibly freed skb at exit. */
#define MAX_DEPTH 64
struct vrft_frame {
	__u64 skb;
	__u32 func;
	__u32 packet;
	__u16 clone;
	__u8 role;  /* enum vrft_role of the function */
	__u8 pad[5];
};

struct vrft_stack {
	__u32 depth;
	/* Calls beyond MAX_DEPTH that re-enter the deepest kept call (same
	 * function, same skb): their exits must not pop it. */
	__u32 deep_reentries;
	struct vrft_frame frames[MAX_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct vrft_stack);
} stacks SEC(".maps");

static const struct vrft_stack empty_stack;

/* preempt_count lives in __preempt_count (x86 up to 6.1 and again from 6.15)
 * or in pcpu_hot (6.2 to 6.14). The symbols are untyped and weak: libbpf
 * resolves them from /proc/kallsyms, and a kernel without data symbols there
 * (no CONFIG_KALLSYMS_ALL) still loads, reporting every context as process. */
extern const void __preempt_count __ksym __weak;
extern const void pcpu_hot __ksym __weak;
extern const void __per_cpu_offset __ksym __weak;

struct pcpu_hot {
	int preempt_count;
} __attribute__((preserve_access_index));

static __always_inline __u8 context_level(void)
{
	__u64 var = 0, off = 0;
	__u32 cpu = bpf_get_smp_processor_id();
	int pc = 0;

	if (&__preempt_count)
		var = (__u64)&__preempt_count;
	else if (&pcpu_hot && bpf_core_type_exists(struct pcpu_hot))
		var = (__u64)&pcpu_hot + bpf_core_field_offset(struct pcpu_hot, preempt_count);
	if (!var || !&__per_cpu_offset || cpu >= 8192)
		return VRFT_CTX_PROCESS;
	bpf_probe_read_kernel(&off, sizeof(off), (const void *)((__u64)&__per_cpu_offset + cpu * 8));
	bpf_probe_read_kernel(&pc, sizeof(pc), (const void *)(var + off));
	if (pc & 0x00f00000)
		return VRFT_CTX_NMI;
	if (pc & 0x000f0000)
		return VRFT_CTX_HARDIRQ;
	if (pc & 0x00000100) /* serving a softirq, not merely bh-disabled */
		return VRFT_CTX_SOFTIRQ;
	return VRFT_CTX_PROCESS;
}

/* Whether context_level() can tell: the kernel lists its data symbols. */
static __always_inline int context_known(void)
{
	return (&__preempt_count || (&pcpu_hot && bpf_core_type_exists(struct pcpu_hot))) &&
	       &__per_cpu_offset;
}

static __always_inline void count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += 1;
}

#ifdef VRFT_COMPAT
/* Before 5.12 a global function cannot take pointers: here the four are
 * static subprograms (this first declaration gives the later definitions
 * internal linkage), verified at each call instead of once. */
static __noinline int vrft_match_packet(__u64 skb_addr, __u32 *id);
static __noinline int vrft_read_flow(__u64 skb_addr, struct vrft_flow *fl);
static __noinline int vrft_note_task(__u32 packet, __u32 clone);
static __noinline int vrft_note_headers(__u64 skb_addr, struct vrft_track *t);

/* *p += step; true, with the value *p had before in *before, if no other
 * program changed *p meanwhile (else the caller tries again or gives up).
 * Before 5.12 an atomic add cannot return the old value, but one that returns
 * nothing can: the value read before it plus step, read back after it, proves
 * that this add was the only one in between, so no other caller got *before. */
static __always_inline int add_alone(__u64 *p, __u64 step, __u64 *before)
{
	*before = *(volatile __u64 *)p;
	__sync_fetch_and_add(p, step);
	return *(volatile __u64 *)p == *before + step;
}

/* The next clone index of a packet (1, 2, ...). Two CPUs cloning one packet
 * at the same moment may, after a second clash, share an index: a label. */
static __always_inline __u16 compat_clone_index(struct vrft_track *t)
{
	__u32 before = *(volatile __u32 *)&t->next_clone;

	__sync_fetch_and_add(&t->next_clone, 1);
	if (*(volatile __u32 *)&t->next_clone != before + 1) {
		before = *(volatile __u32 *)&t->next_clone;
		__sync_fetch_and_add(&t->next_clone, 1);
	}
	return before + 1;
}

/* A new packet id, 0 if none could be taken (the next probe tries again).
 * Per-CPU counters, so that programs on other CPUs never make add_alone()
 * fail: slot CNT_MAX of `counters` holds the next id of this CPU, slot
 * CNT_MAX + 1 the number of CPUs. User space starts CPU i at i + 1, so CPU
 * i hands out i + 1, i + 1 + ncpus, ...: unique across CPUs, about as dense
 * as one shared counter. Only a program that interrupts another one between
 * its two reads makes it fail, hence the second try. */
static __always_inline __u32 compat_packet_id(void)
{
	__u32 next_key = CNT_MAX, step_key = CNT_MAX + 1;
	__u64 *next = bpf_map_lookup_elem(&counters, &next_key);
	__u64 *step = bpf_map_lookup_elem(&counters, &step_key);
	__u64 id;

	if (!next || !step || !*step)
		return 0;
	if (add_alone(next, *step, &id) || add_alone(next, *step, &id))
		return id;
	return 0;
}
#endif

/* Filters, fixed before load so that the verifier prunes what is off. */
struct vrft_dev {
	__u32 netns;
	__u32 ifindex;
};
const volatile struct vrft_dev filter_devs[VRFT_MAX_FILTER_DEVS]; /* --iface: any of these */
const volatile __u32 filter_ndevs;                            /* 0: any device */
const volatile __u32 filter_netns[VRFT_MAX_FILTER_DEVS];          /* --netns: any of these */
const volatile __u32 filter_nnetns;                           /* 0: any namespace */
const volatile __u8 filter_pcap;       /* the pcap stubs below were replaced by a real filter */
const volatile __u8 filter_inner;      /* match the inner frame of VXLAN/GENEVE packets */
const volatile __u8 id_from_payload;   /* packet id = first 32 bits of the UDP payload */
const volatile __u16 vxlan_port = 4789;
const volatile __u16 geneve_port = 6081;

/* --skb-fields, resolved through the kernel's BTF by user space. */
const volatile struct vrft_field skb_fields[VRFT_MAX_FIELDS];
const volatile __u8 skb_nfields;

/* A copy of the packet's first bytes, for the pcap filter and header parsing,
 * and the marks of the bytes the last pcap run read in the first
 * VRFT_MEMO_BYTES (0xff each; past: a read went further): what its verdict
 * depends on, which the rejection memo keeps (user space translates the
 * filter with these offsets: tracer/src/config.rs, pcap_options). */
#define PKT_CAP VRFT_PKT_CAP
struct vrft_pkt {
	__u8 data[PKT_CAP];
	__u64 marks[VRFT_MEMO_BYTES / 8];
	__u8 past;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vrft_pkt);
} pkt_scratch SEC(".maps");

/* The pcap filter for frames starting at the MAC header (l2) or the network
 * header (l3): pkt holds len valid bytes, wire_len is the length from that
 * header on. User space replaces these bodies with the translated pcap
 * program (filter/); the barriers keep clang from propagating the stubs'
 * results or dropping their arguments. */
static __noinline int vrft_pcap_l2(struct vrft_pkt *pkt, __u32 len, __u32 wire_len)
{
	barrier_var(len);
	barrier_var(wire_len);
	return pkt && (len | wire_len);
}

static __noinline int vrft_pcap_l3(struct vrft_pkt *pkt, __u32 len, __u32 wire_len)
{
	barrier_var(len);
	barrier_var(wire_len);
	return pkt && (len | wire_len);
}

/* A byte of the buffer. Branch-free, so that the verifier walks one path
 * through a parser rather than one per byte read: offsets wrap inside the
 * buffer, and callers compare offsets with the bytes copied where it matters.
 * The asm keeps the mask in the register the load uses, which clang would
 * otherwise drop when it can prove it redundant. */
static __always_inline __u32 byte_at(struct vrft_pkt *p, __u32 off)
{
	asm volatile("%[off] &= 255" : [off] "+r"(off));
	return p->data[off];
}

static __always_inline __u32 be16_at(struct vrft_pkt *p, __u32 off)
{
	return byte_at(p, off) << 8 | byte_at(p, off + 1);
}

/* Where the headers of a frame in the buffer are (offsets into it). */
struct hdrs {
	__u32 l4;      /* 0 when not IPv4/IPv6 */
	__u32 proto;
	__u32 payload; /* UDP payload, 0 when not UDP */
};

static __always_inline struct hdrs parse(struct vrft_pkt *p, __u32 len, int l2)
{
	struct hdrs h = {};
	__u32 l3 = 0, ver;

	if (l2) {
		__u32 type = be16_at(p, 12);

		l3 = 14;
		if (type == 0x8100 || type == 0x88a8) {
			type = be16_at(p, 16);
			l3 = 18;
		}
		if (type != 0x0800 && type != 0x86dd)
			return h;
	}
	ver = byte_at(p, l3) >> 4;
	if (ver == 4) {
		h.proto = byte_at(p, l3 + 9);
		h.l4 = l3 + (byte_at(p, l3) & 0xf) * 4;
	} else if (ver == 6) {
		h.proto = byte_at(p, l3 + 6);
		h.l4 = l3 + 40;
	} else {
		return h;
	}
	if (h.proto == 17 && h.l4 + 8 <= len)
		h.payload = h.l4 + 8;
	return h;
}

/* Offset of the inner frame of a VXLAN or GENEVE packet (0: not a tunnel);
 * *l2 says whether it starts with an Ethernet header. */
static __always_inline __u32 tunnel_inner(struct vrft_pkt *p, struct hdrs *h, int *l2)
{
	__u32 dport;

	if (!h->payload)
		return 0;
	dport = be16_at(p, h->l4 + 2);
	if (dport == vxlan_port) {
		*l2 = 1;
		return h->payload + 8;
	}
	if (dport == geneve_port) {
		/* Version and option length (in 4-byte words), flags, protocol, VNI. */
		__u32 type = be16_at(p, h->payload + 2);
		__u32 inner = h->payload + 8 + (byte_at(p, h->payload) & 0x3f) * 4;

		if (type == 0x6558) {
			*l2 = 1;
			return inner;
		}
		if (type == 0x0800 || type == 0x86dd) {
			*l2 = 0;
			return inner;
		}
	}
	return 0;
}

/* Copies the frame at head + off (linear data ends at end) into the buffer:
 * at most PKT_CAP - 1 bytes, so that one mask proves the bound. */
static __always_inline __u32 copy_frame(struct vrft_pkt *p, unsigned char *head, __u32 off, __u32 end)
{
	__u64 n;

	if (off >= end)
		return 0;
	n = end - off;
	if (n > PKT_CAP - 1)
		n = PKT_CAP - 1;
	/* Older verifiers (6.1) lose the bound above when clang hands the helper
	 * another copy of n; masking in the register the call uses keeps it. */
	asm volatile("%[n] &= 255" : [n] "+r"(n));
	if (bpf_probe_read_kernel(p->data, n, head + off))
		return 0;
	return n;
}

/* Plain loads through a read-only cast (6.2+, inlined by the verifier into a
 * move) cost no helper call; older kernels read with bpf_probe_read_kernel. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

/* ((type *)p)->field (one pointer hop; field may name an embedded member, as
 * nd_net.net), for p given as a pointer or a number. */
#define kfield(type, p, field)                                                      \
	(bpf_ksym_exists(bpf_rdonly_cast) ? bpf_core_cast((void *)(p), type)->field : \
					    BPF_CORE_READ((type *)(p), field))
#define skb_get(skb, field) kfield(struct sk_buff, skb, field)

/* An skb's frame: where it starts and ends in the skb's head. */
struct frame {
	unsigned char *head;
	__u32 off;  /* from head */
	__u32 end;  /* end of the linear data, from head */
	__u32 wire; /* bytes from off to the end of the packet */
	int l2;
};

/* Where a frame starts in its head, from the MAC and network header offsets:
 * at the MAC header when it is set and comes before the network header or the
 * network header is not set yet (a NIC driver's receive between eth_type_trans
 * and GRO), else at the network header (*l2 = 0); 0 while neither is set. An
 * offset of 0 is not set either: a struct being cleared for a new life (7.2's
 * __alloc_skb zeroes both before its data exists, while head still points at
 * the last life's). */
static __always_inline __u16 frame_offset(__u16 mac, __u16 net, int *l2)
{
	int mac_set = mac && mac != (__u16)~0U, net_set = net && net != (__u16)~0U;

	*l2 = mac_set && (mac < net || !net_set);
	if (*l2)
		return mac;
	return net_set ? net : 0;
}

/* The skb fields that say where its frame is. On 6.2+ plain loads. Before,
 * each field read is a helper call, the dearest part of a rejected hit in an
 * fentry clone (docs/design.md, "Rejected packets"); the fields sit in two
 * runs of struct sk_buff, the header offsets with head and data, and len
 * with data_len, so one call reads each run. */
struct skb_layout {
	__u64 head, data;
	__u32 len, data_len;
	__u16 mac, net;
};

/* Bytes read from the network header's 8-byte word on: up to data's end on
 * every kernel this tracer supports (32 on 5.10 and 6.1). */
#define SKB_RUN 40

#define skb_off(field) bpf_core_field_offset(struct sk_buff, field)

static __always_inline void skb_layout(struct sk_buff *skb, struct skb_layout *s)
{
	/* Offsets relocated to this kernel: the verifier knows them, so the
	 * branch not taken below is never walked. */
	__u32 base = skb_off(network_header) & ~7U, net = skb_off(network_header) - base,
	      mac = skb_off(mac_header) - base, head = skb_off(head) - base,
	      data = skb_off(data) - base;
	__u64 run[SKB_RUN / 8] = {};
	__u32 lens[2] = {};

	if (bpf_ksym_exists(bpf_rdonly_cast) || mac + 2 > SKB_RUN || head + 8 > SKB_RUN ||
	    data + 8 > SKB_RUN || skb_off(data_len) != skb_off(len) + 4) {
		s->mac = skb_get(skb, mac_header);
		s->net = skb_get(skb, network_header);
		s->head = (__u64)skb_get(skb, head);
		s->data = (__u64)skb_get(skb, data);
		s->len = skb_get(skb, len);
		s->data_len = skb_get(skb, data_len);
		return;
	}
	/* Hidden from clang, which would otherwise turn "run + net" into "run |
	 * net" (run is 8-aligned, net < 8): the verifier refuses bitwise
	 * operations on pointers. */
	asm volatile("" : "+r"(net), "+r"(mac), "+r"(head), "+r"(data));
	/* A failed read leaves zeroes: no frame. */
	bpf_probe_read_kernel(run, sizeof(run), (void *)skb + base);
	bpf_probe_read_kernel(lens, sizeof(lens), (void *)skb + skb_off(len));
	s->net = *(__u16 *)((void *)run + net);
	s->mac = *(__u16 *)((void *)run + mac);
	s->head = *(__u64 *)((void *)run + head);
	s->data = *(__u64 *)((void *)run + data);
	s->len = lens[0];
	s->data_len = lens[1];
}

/* Finds the skb's frame; 0 before it has one: there is nothing to look at
 * yet, a later probe tries again. */
static __always_inline int locate(struct sk_buff *skb, struct frame *fr)
{
	struct skb_layout s;
	__u32 data_off;
	int l2;

	skb_layout(skb, &s);
	fr->off = frame_offset(s.mac, s.net, &l2);
	if (!fr->off)
		return 0;
	fr->l2 = l2;
	fr->head = (unsigned char *)s.head;
	data_off = s.data - s.head;
	fr->end = data_off + s.len - s.data_len;
	fr->wire = s.len + data_off - fr->off;
	return 1;
}

/* Replaces a VXLAN or GENEVE frame in the buffer by its inner frame; returns
 * the bytes now in the buffer (n unchanged when it is not a tunnel packet). */
static __always_inline __u32 enter_tunnel(struct vrft_pkt *p, struct frame *fr, struct hdrs *h,
					  __u32 n)
{
	__u32 in = tunnel_inner(p, h, &fr->l2);

	if (!in)
		return n;
	n = copy_frame(p, fr->head, fr->off + in, fr->end);
	if (!n)
		return 0;
	fr->off += in;
	fr->wire -= in;
	*h = parse(p, n, fr->l2);
	return n;
}

/* Copies the frame into the buffer and parses it; with `inner`, a tunnel
 * packet's inner frame. Returns the bytes copied. */
static __always_inline __u32 load_frame(struct vrft_pkt *p, struct frame *fr, int inner,
					struct hdrs *h)
{
	__u32 n = copy_frame(p, fr->head, fr->off, fr->end);

	if (!n)
		return 0;
	*h = parse(p, n, fr->l2);
	return inner ? enter_tunnel(p, fr, h, n) : n;
}

#ifdef VRFT_COMPAT
/* The other object's global functions below make clang lay these out here in
 * .rodata; one skeleton maps both objects' .rodata (tracer/build.rs checks). */
const volatile __u8 filter_inner = 0;
const volatile __u8 filter_pcap = 0;
const volatile __u8 id_from_payload = 0;
#endif

/* Whether the skb passes the packet filter; *id gets the payload id when asked for.
 *
 * This and vrft_read_flow are global functions: the verifier checks each once, on
 * its own, instead of once for every path that leads to a call, which keeps a
 * clone's verification in milliseconds. So the skb comes as a number. */
__noinline int vrft_match_packet(__u64 skb_addr, __u32 *id)
{
	struct sk_buff *skb = (struct sk_buff *)skb_addr;
	__u32 zero = 0, n;
	struct vrft_pkt *p = bpf_map_lookup_elem(&pkt_scratch, &zero);
	struct frame fr;
	struct hdrs h;

	if (!p || !id || !locate(skb, &fr))
		return 0;
	/* Flow and pcap filters look at the outer headers unless --inner. */
	n = load_frame(p, &fr, filter_inner, &h);
	if (!n)
		return 0;
	if (filter_pcap && !(fr.l2 ? vrft_pcap_l2(p, n, fr.wire) : vrft_pcap_l3(p, n, fr.wire)))
		return 0;
	if (!id_from_payload)
		return 1;
	/* The payload id is always the innermost one, so that one id names the
	 * packet before and after encapsulation. */
	if (!filter_inner)
		n = enter_tunnel(p, &fr, &h, n);
	if (h.payload && h.payload + 4 <= n)
		*id = byte_at(p, h.payload) << 24 | byte_at(p, h.payload + 1) << 16 |
		      byte_at(p, h.payload + 2) << 8 | byte_at(p, h.payload + 3);
	return 1;
}

static __always_inline __u32 skb_netns(struct sk_buff *skb, struct net_device *dev)
{
	struct sock *sk;
	struct net *net;

	if (dev) {
		net = kfield(struct net_device, dev, nd_net.net);
		return kfield(struct net, net, ns.inum);
	}
	sk = skb_get(skb, sk);
	if (!sk)
		return 0;
	net = kfield(struct sock, sk, __sk_common.skc_net.net);
	return kfield(struct net, net, ns.inum);
}

/* The filter, run at every probe on an skb we do not follow yet. */
static __always_inline int vrft_filter(struct sk_buff *skb, __u32 *id)
{
	if (filter_ndevs || filter_nnetns) {
		struct net_device *dev = skb_get(skb, dev);
		__u32 ns = skb_netns(skb, dev), ifindex = dev ? kfield(struct net_device, dev, ifindex) : 0;
		int dev_ok = !filter_ndevs, ns_ok = !filter_nnetns;

		/* The lists are constants: the verifier drops the unused slots. */
		for (int i = 0; i < VRFT_MAX_FILTER_DEVS; i++) {
			if (i < filter_ndevs && ifindex && filter_devs[i].ifindex == ifindex &&
			    filter_devs[i].netns == ns)
				dev_ok = 1;
			if (i < filter_nnetns && filter_netns[i] == ns)
				ns_ok = 1;
		}
		if (!dev_ok || !ns_ok)
			return 0;
	}
	if (!filter_pcap && !id_from_payload)
		return 1;
	return vrft_match_packet((__u64)skb, id);
}

/* Rejection memo: the filter's "no" for an skb, with everything that decision
 * read, so that the next probe on an unchanged skb returns after one inlined
 * array lookup and a few plain loads instead of the header copy and the
 * filter (a packet passes 60-80 probes). Any change of what the filter reads
 * makes it run again: device or socket (--iface, --netns); head, end, where
 * the frame starts, or one of the frame's bytes that the pcap run read (pcap
 * and flow filters; NAT rewrites the bytes in place). Only those bytes: a
 * sender writes its headers and checksums one layer at a time, and a port
 * filter that re-ran at each write decided 9 times per datagram. A slot holds one
 * skb: a collision costs a filter run, never a wrong answer. Starting to
 * follow an skb clears its slot, so a memo hit also means "not followed" and
 * spares the lookup in `tracked`. See docs/design.md, "Rejected packets". */
#define MEMO_SLOTS 8192
#define MEMO_WORDS (VRFT_MEMO_BYTES / 8)

/* The skb fields the filter's decision depends on. Not data and len: pushing
 * or pulling a header moves both and leaves the frame as it was, and the
 * packet does that at every layer. Their sum is where the packet ends. */
struct vrft_skb_state {
	__u64 dev;
	__u64 sk; /* only when dev is unset: then the namespace comes from it */
	__u64 head;
	__u64 end;      /* data + len, from head */
	__u32 data_len; /* with end: the end of the linear part */
	__u16 frame;    /* where the frame starts (frame_offset), from head */
	__u16 l2;       /* whether it starts at the MAC header */
};

struct vrft_memo {
	__u64 skb;
	struct vrft_skb_state st;
	__u32 words;             /* bit i: word i holds a byte the filter read */
	__u64 mask[MEMO_WORDS];  /* those bytes (0xff each) */
	__u64 bytes[MEMO_WORDS]; /* their values, the rest 0 */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MEMO_SLOTS);
	__type(key, __u32);
	__type(value, struct vrft_memo);
} rejected SEC(".maps");

/* Whether the filter can reject anything at all (the memo is pruned when not). */
static __always_inline int filter_rejects(void)
{
	return filter_ndevs || filter_nnetns || filter_pcap || id_from_payload;
}

/* What the filter's decision reads: the device and namespace (--iface,
 * --netns), the headers (pcap and flow filters, payload ids). The memo
 * compares only that, so that with --iface a header change (every layer
 * writes one) does not re-run the filter, and with a pcap filter a new
 * device with the same headers does not. */
static __always_inline int filter_reads_dev(void)
{
	return filter_ndevs || filter_nnetns;
}

static __always_inline int filter_reads_frame(void)
{
	return filter_pcap || id_from_payload;
}

/* skb's slot; 0 when no filter can reject. */
static __always_inline struct vrft_memo *memo_slot(__u64 skb)
{
	/* sk_buffs are at least 8-byte aligned; Fibonacci hashing spreads the rest. */
	__u32 key = ((__u32)(skb >> 3) * 2654435761u) >> 19;

	return filter_rejects() ? bpf_map_lookup_elem(&rejected, &key) : 0;
}

/* The part of the skb's state the filter reads (the rest stays 0). */
static __always_inline void skb_state(__u64 skb, struct vrft_skb_state *v)
{
	__builtin_memset(v, 0, sizeof(*v));
	/* Without a device --iface turns the skb down whatever its socket: the
	 * socket (its namespace) matters only to --netns alone. */
	if (filter_reads_dev()) {
		v->dev = (__u64)skb_get(skb, dev);
		v->sk = v->dev || filter_ndevs ? 0 : (__u64)skb_get(skb, sk);
	}
	/* Without a frame the filters that read one turn the skb down: all
	 * frameless states are one (an skb being built changes its head and
	 * length several times before it has a header). */
	if (filter_reads_frame()) {
		struct skb_layout s;
		int l2;

		skb_layout((struct sk_buff *)skb, &s);
		v->frame = frame_offset(s.mac, s.net, &l2);
		if (!v->frame)
			return;
		v->l2 = l2;
		v->head = s.head;
		v->end = s.data - s.head + s.len;
		v->data_len = s.data_len;
	}
}

/* The frame's first MEMO_WORDS words, 0 if unreadable. On 6.2+ read in place
 * by plain loads: x86's entry_stack is one char array, so through a read-only
 * cast to it the verifier lets any of its first words be loaded (a fault reads
 * as 0). Older kernels copy them into the per-CPU scratch buffer. */
static __always_inline const __u64 *frame_words(__u64 frame)
{
	__u32 zero = 0;
	struct vrft_pkt *p;

	if (bpf_ksym_exists(bpf_rdonly_cast))
		return (const __u64 *)bpf_core_cast((void *)frame, struct entry_stack);
	p = bpf_map_lookup_elem(&pkt_scratch, &zero);
	if (!p || bpf_probe_read_kernel(p->data, MEMO_WORDS * 8, (void *)frame))
		return 0;
	return (const __u64 *)p->data;
}

/* Whether m is a memo of skb as it is now. */
static __always_inline int memo_holds(struct vrft_memo *m, __u64 skb)
{
	struct vrft_skb_state v;
	const __u64 *w;
	__u64 diff = 0;
	__u32 words;

	if (m->skb != skb)
		return 0;
	skb_state(skb, &v);
	if (m->st.dev != v.dev || m->st.sk != v.sk || m->st.head != v.head || m->st.end != v.end ||
	    m->st.data_len != v.data_len || m->st.frame != v.frame || m->st.l2 != v.l2)
		return 0;
	/* Only pcap and flow filters read the frame's bytes. */
	words = m->words;
	if (!filter_pcap || !v.frame || !words)
		return 1;
	w = frame_words(v.head + v.frame);
	if (!w)
		return 0;
#pragma unroll
	for (int i = 0; i < MEMO_WORDS; i++)
		if (words & (1u << i))
			diff |= (w[i] & m->mask[i]) ^ m->bytes[i];
	return !diff;
}

/* Remembers that the filter rejected skb as it is now; p holds the marks of
 * what a pcap run read (see vrft_pkt). */
static __always_inline void memo_store(struct vrft_memo *m, __u64 skb, struct vrft_pkt *p)
{
	const __u64 *w;
	__u32 words = 0;

	m->skb = 0;
	skb_state(skb, &m->st);
	if (filter_pcap && m->st.frame) {
		/* A read past the marked bytes: nothing to compare it by. */
		if (!p || p->past)
			return;
		w = frame_words(m->st.head + m->st.frame);
		if (!w)
			return;
#pragma unroll
		for (int i = 0; i < MEMO_WORDS; i++) {
			/* --inner: the tunnel's outer headers decided where the filter
			 * looked, unmarked; compare every byte as before. */
			__u64 mask = filter_inner ? ~0ULL : p->marks[i];

			m->mask[i] = mask;
			m->bytes[i] = w[i] & mask;
			/* 1 << i when mask is not 0, without a branch for the verifier to walk. */
			words |= (__u32)((mask | -mask) >> 63) << i;
		}
	}
	m->words = words;
	m->skb = skb;
}

/* Zeroes the marks before a filter run (see vrft_pkt); the buffer, or 0. */
static __always_inline struct vrft_pkt *clear_marks(void)
{
	__u32 zero = 0;
	struct vrft_pkt *p;

	if (!filter_pcap)
		return 0;
	p = bpf_map_lookup_elem(&pkt_scratch, &zero);
	if (!p)
		return 0;
	__builtin_memset(p->marks, 0, sizeof(p->marks));
	p->past = 0;
	return p;
}

/* skb is followed from now on: its memo m (its slot, or 0), if any, no longer holds. */
static __always_inline void memo_forget(struct vrft_memo *m, __u64 skb)
{
	if (m && m->skb == skb)
		m->skb = 0;
}

enum { FLOW_LATER, FLOW_FOUND, FLOW_NONE };

/* Reads the IP header at head + off into fl; returns the offset of the
 * transport header from head, or 0 when the bytes there are not the IP
 * version `ver`. Fixed-offset reads only: this runs once per packet, and
 * every tracepoint program carries it and pays its verification. */
static __always_inline __u32 read_ip(unsigned char *head, __u32 off, __u32 ver,
				     struct vrft_flow *fl)
{
	__u8 h[40];
	__u32 l4;

	if (bpf_probe_read_kernel(h, sizeof(h), head + off) || h[0] >> 4 != ver)
		return 0;
	fl->ipv = ver;
	if (ver == 4) {
		fl->proto = h[9];
		__builtin_memcpy(fl->saddr, h + 12, 4);
		__builtin_memcpy(fl->daddr, h + 16, 4);
		return off + (h[0] & 0xf) * 4;
	}
	fl->proto = h[6];
	__builtin_memcpy(fl->saddr, h + 8, 16);
	__builtin_memcpy(fl->daddr, h + 24, 16);
	l4 = off + 40;
	if (fl->proto == 0) {
		/* Hop-by-hop options (MLD has them): the next header and the length. */
		__u8 hbh[2] = {};

		bpf_probe_read_kernel(hbh, sizeof(hbh), head + l4);
		fl->proto = hbh[0];
		l4 += (hbh[1] + 1) * 8;
	}
	return l4;
}

/* Socket families (include/linux/socket.h; macros are not in vmlinux.h). */
#define VRFT_AF_INET   2
#define VRFT_AF_INET6  10
#define VRFT_AF_PACKET 17

/* The skb's addresses and ports. skb->protocol tells when its headers are
 * written: eth_type_trans sets it on receive, the IP layer once the header is
 * complete on transmit; before that the header bytes may be left over from an
 * earlier packet. With --inner a VXLAN or GENEVE packet's flow is its inner one.
 *
 * What is no IP packet says so once too (ipv 0): a non-IP ethertype (ARP), or,
 * while skb->protocol is unset, an owning socket of a family that never sets
 * it (netlink, unix): such an skb is never going to be an IP packet. An inet
 * or packet socket's skb without a protocol yet is one before its headers. */
__noinline int vrft_read_flow(__u64 skb_addr, struct vrft_flow *fl)
{
	struct sk_buff *skb = (struct sk_buff *)skb_addr;
	__u16 eth = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	__u16 mac = BPF_CORE_READ(skb, mac_header), net = BPF_CORE_READ(skb, network_header);
	unsigned char *head = BPF_CORE_READ(skb, head);
	struct sock *sk = BPF_CORE_READ(skb, sk);
	__u32 off, l4, ver = eth == 0x0800 ? 4 : 6;
	__be16 ports[2] = {};
	__u16 family;

	if (!fl)
		return FLOW_LATER;
	family = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
	fl->ethertype = eth;
	fl->family = family;
	if (!eth)
		return family && family != VRFT_AF_INET && family != VRFT_AF_INET6 &&
		       family != VRFT_AF_PACKET ? FLOW_FOUND : FLOW_LATER;
	if (eth != 0x0800 && eth != 0x86dd)
		return FLOW_FOUND;
	if (net && net != (__u16)~0U)
		off = net;
	else if (mac != (__u16)~0U)
		off = mac + 14;
	else
		return FLOW_LATER;
	l4 = read_ip(head, off, ver, fl);
	if (!l4)
		return FLOW_LATER;
	if (fl->proto != 6 && fl->proto != 17)
		return FLOW_FOUND;
	bpf_probe_read_kernel(ports, sizeof(ports), head + l4);
	if (filter_inner && fl->proto == 17) {
		__u16 dport = bpf_ntohs(ports[1]);
		__u8 g[4] = {};
		__u32 inner = 0;

		if (dport == vxlan_port) {
			inner = l4 + 8 + 8 + 14;
		} else if (dport == geneve_port) {
			bpf_probe_read_kernel(g, sizeof(g), head + l4 + 8);
			inner = l4 + 8 + 8 + (g[0] & 0x3f) * 4;
			if (g[2] == 0x65 && g[3] == 0x58)
				inner += 14;
			else if (!((g[2] == 0x08 && g[3] == 0) || (g[2] == 0x86 && g[3] == 0xdd)))
				inner = 0;
		}
		if (inner) {
			__u8 v = 0;

			bpf_probe_read_kernel(&v, 1, head + inner);
			l4 = read_ip(head, inner, v >> 4 == 6 ? 6 : 4, fl);
			if (!l4)
				return FLOW_NONE;
			if (fl->proto != 6 && fl->proto != 17)
				return FLOW_FOUND;
			bpf_probe_read_kernel(ports, sizeof(ports), head + l4);
		}
	}
	fl->sport = bpf_ntohs(ports[0]);
	fl->dport = bpf_ntohs(ports[1]);
	return FLOW_FOUND;
}

/* The --skb-fields values of the skb, into vals. */
static __always_inline void read_fields(struct sk_buff *skb, __u64 *vals)
{
	unsigned char *shinfo = 0;

	for (int i = 0; i < VRFT_MAX_FIELDS; i++) {
		const volatile struct vrft_field *f = &skb_fields[i];
		unsigned char *base = (unsigned char *)skb;
		__u32 size = f->size;
		__u64 v = 0;

		if (i >= skb_nfields)
			break;
		if (f->shinfo) {
			if (!shinfo)
				shinfo = BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, end);
			base = shinfo;
		}
		if (size > 8)
			size = 8;
		bpf_probe_read_kernel(&v, size, base + f->off);
		if (f->bits < 64)
			v = (v >> f->shift) & ((1ULL << f->bits) - 1);
		if (f->be)
			v = size == 2 ? __builtin_bswap16(v) : size == 4 ? __builtin_bswap32(v) :
			    __builtin_bswap64(v);
		vals[i] = v;
	}
}

static __always_inline void fill(struct vrft_event *e, __u8 kind, __u32 func, __u32 packet,
				 __u16 clone, struct sk_buff *skb, __u8 flags, __s64 ret)
{
	e->ts_ns = bpf_ktime_get_ns();
	e->ret = ret;
	e->packet = packet;
	e->clone = clone;
	e->cpu = bpf_get_smp_processor_id();
	e->func = func;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->kind = kind;
	e->ctx = context_level();
	e->flags = flags;
	e->nfields = 0;
	e->ifindex = 0;
	e->netns = 0;
	e->len = 0;
	/* Exits never read the skb: it may be gone by then. */
	if (skb) {
		struct net_device *dev = BPF_CORE_READ(skb, dev);

		e->len = BPF_CORE_READ(skb, len);
		e->ifindex = dev ? BPF_CORE_READ(dev, ifindex) : 0;
		e->netns = skb_netns(skb, dev);
	}
}

/* Submitting never wakes the reader by itself: a wakeup is an irq_work
 * self-interrupt, and on its exit the kernel runs pending softirqs right
 * inside this program (seen on 6.12: a NET_RX softirq that ran out of budget
 * resumed in the fexit of __dev_queue_xmit, changing where packets were
 * processed). The reader polls on a short timeout instead; only when unread
 * data crosses wake_at (a quarter of the ring, set by user space) is it
 * woken early, once per crossing. */
const volatile __u64 wake_at = 1 << 20;

/* --snaplen: how many bytes of a packet each header note keeps (at most
 * VRFT_HDR_BYTES, the note's fixed size in the ring); 0: no notes. */
const volatile __u16 snaplen = VRFT_HDR_BYTES;

static __always_inline __u64 wake_flag(__u32 len)
{
	/* Counts this record too: it is reserved. */
	__u64 unread = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	return unread >= wake_at && unread < wake_at + len ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* One event, followed by the --skb-fields values when the skb can be read,
 * and by the packet's flow once, when its headers are first readable. The
 * record sizes are constants to the verifier: skb_nfields is read-only.
 *
 * Only the tracepoints read flows (t is 0 for function probes): every packet
 * meets one with its headers in place (a device queue or receive, or its
 * free), and the flow reader is then verified in those ten programs instead
 * of in every one of the thousands of function probe clones. */
__noinline int vrft_note_task(__u32 packet, __u32 clone);

static __always_inline void emit(__u8 kind, __u32 func, __u32 packet, __u16 clone,
				 struct sk_buff *skb, __u8 flags, __s64 ret, struct vrft_track *t)
{
	__u32 nf = skb ? skb_nfields : 0, base = sizeof(struct vrft_event) + nf * 8;
	struct vrft_flow fl = {};
	struct vrft_event *e;
	int flow = 0;

	/* Tracepoints only, like the flow: every packet a process sends or reads
	 * meets one in that process's context (the device queue, the copy to user
	 * space, a drop), and the thousands of function probe clones are spared
	 * verifying the note (600 more instructions each on 6.1). */
	if (skb && t)
		vrft_note_task(packet, clone);

	if (skb && t && !t->flow_done) {
		int r = vrft_read_flow((__u64)skb, &fl);

		t->flow_done = r != FLOW_LATER;
		flow = r == FLOW_FOUND;
	}
	if (flow)
		e = bpf_ringbuf_reserve(&events, base + sizeof(fl), 0);
	else
		e = bpf_ringbuf_reserve(&events, base, 0);
	if (!e) {
		count(CNT_RINGBUF_DROPS);
		if (flow)
			t->flow_done = 0; /* try again at the next probe */
		return;
	}
	fill(e, kind, func, packet, clone, skb, flags, ret);
	if (nf) {
		read_fields(skb, (__u64 *)(e + 1));
		e->nfields = nf;
	}
	if (flow) {
		__builtin_memcpy((void *)(e + 1) + nf * 8, &fl, sizeof(fl));
		e->flags |= VRFT_F_FLOW;
	}
	bpf_ringbuf_submit(e, wake_flag(base + (flow ? sizeof(fl) : 0)));
}

/* The record header of a note: what ties it to its event (packet, clone,
 * stack). Not fill(): its context read would split the verifier's walk of
 * the rest of the note four ways. */
static __always_inline void note_header(struct vrft_event *e, __u8 kind, __u32 packet,
					__u16 clone)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->packet = packet;
	e->clone = clone;
	e->cpu = bpf_get_smp_processor_id();
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->kind = kind;
}

/* Threads whose process was noted, with the task's start time: a thread id
 * reused by a new process is noted again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} tasks_noted SEC(".maps");

/* The task whose process each CPU noted last: a run of one task's events
 * costs one compare, not a hash lookup each. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} last_task SEC(".maps");

/* Notes the process of the current task, once per thread, when the packet's
 * tracepoint runs in process context: who sent (or received) it. Global, so
 * the verifier checks it once per program, not at every call site. */
__noinline int vrft_note_task(__u32 packet, __u32 clone)
{
	__u64 id = bpf_get_current_pid_tgid(), task = bpf_get_current_task(), start;
	__u32 tid = (__u32)id, zero = 0;
	__u64 *last = bpf_map_lookup_elem(&last_task, &zero), *seen;
	struct vrft_event *e;
	struct vrft_task *tk;

	/* Where every context reads as process, a softirq's packet would be
	 * named after whatever task it interrupted: name none. */
	if (!tid || !last || *last == task || !context_known() ||
	    context_level() != VRFT_CTX_PROCESS)
		return 0;
	start = BPF_CORE_READ((struct task_struct *)task, start_time);
	seen = bpf_map_lookup_elem(&tasks_noted, &tid);
	if (seen && *seen == start) {
		*last = task;
		return 0;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e) + sizeof(*tk), 0);
	if (!e) {
		count(CNT_RINGBUF_DROPS);
		return 0;
	}
	note_header(e, VRFT_NOTE_TASK, packet, clone);
	tk = (void *)(e + 1);
	tk->pid = id >> 32;
	bpf_get_current_comm(tk->comm, sizeof(tk->comm));
	bpf_ringbuf_submit(e, wake_flag(sizeof(*e) + sizeof(*tk)));
	bpf_map_update_elem(&tasks_noted, &tid, &start, BPF_ANY);
	*last = task;
	return 0;
}

/* What identifies a packet's headers, from the first 48 bytes of its
 * network header: addresses, protocol, ports, tunnel headers; not what every
 * hop rewrites (TTL or hop limit, checksum, lengths). Never 0. */
static __always_inline __u32 headers_fingerprint(__u64 *w, __u16 eth)
{
	__u64 h = eth;

	if (eth == 0x0800) {
		w[0] &= ~0xffff0000ULL;            /* total length */
		w[1] &= ~0xffff00ffULL;            /* TTL, checksum */
	} else if (eth == 0x86dd) {
		w[0] &= ~0xff00ffff00000000ULL;    /* payload length, hop limit */
	}
#pragma unroll
	for (int i = 0; i < 6; i++)
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ULL;
	return (__u32)(h >> 32) | 1;
}

/* Sends the packet's headers (as a note before its next event) when they
 * are first written, whenever they change (encapsulation, decapsulation,
 * NAT) and on every new device or namespace, so that an export shows the
 * packet on each interface it crossed, as a capture there would. Called by
 * the tracepoints, which every packet meets at each device with its headers
 * in place, and by the probe that starts following a packet; global for the
 * same reason as vrft_read_flow (and verified once per program, not per
 * call site). */
__noinline int vrft_note_headers(__u64 skb_addr, struct vrft_track *t)
{
	struct sk_buff *skb = (struct sk_buff *)skb_addr;
	__u16 eth, mac, net, start, net_offset = 0;
	unsigned char *head;
	struct vrft_headers *hd;
	struct net_device *dev;
	struct vrft_event *e;
	__u64 w[6] = {};
	__u32 fp, tail;
	__u64 where = 0;

	if (!t || !skb || !snaplen)
		return 0;
	eth = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	if (!eth)
		return 0; /* not written yet (see vrft_read_flow) */
	mac = BPF_CORE_READ(skb, mac_header);
	net = BPF_CORE_READ(skb, network_header);
	if (!net || net == (__u16)~0U) {
		if (mac == (__u16)~0U)
			return 0;
		net = mac + 14;
	}
	start = net;
	if (mac != (__u16)~0U && mac < net && net - mac <= 64) {
		start = mac;
		net_offset = net - mac;
	}
	head = BPF_CORE_READ(skb, head);
	if (bpf_probe_read_kernel(w, sizeof(w), head + net))
		return 0;
	fp = headers_fingerprint(w, eth);
	/* Where the packet is: its device in its namespace. Leaving a device
	 * (a socket's queue has none) is no new place. */
	dev = BPF_CORE_READ(skb, dev);
	/* Exact, not hashed: a hash of the two lost the inode's lowest bit, so
	 * eth0 in two namespaces created one after the other (consecutive
	 * inodes) was one place and the second got no snapshot. */
	if (dev)
		where = (__u64)skb_netns(skb, dev) << 32 | BPF_CORE_READ(dev, ifindex);
	if (fp == t->hdr_fp && (!where || where == t->hdr_dev))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e) + sizeof(*hd), 0);
	if (!e) {
		count(CNT_RINGBUF_DROPS);
		return 0;
	}
	note_header(e, VRFT_NOTE_HEADERS, t->packet, t->clone);
	hd = (void *)(e + 1);
	hd->ethertype = eth;
	hd->net_offset = net_offset;
	hd->pad = 0;
	tail = BPF_CORE_READ(skb, tail);
	hd->len = tail <= start ? 0 : tail - start > snaplen ? snaplen : tail - start;
	if (bpf_probe_read_kernel(hd->bytes, sizeof(hd->bytes), head + start))
		hd->len = 0;
	bpf_ringbuf_submit(e, wake_flag(sizeof(*e) + sizeof(*hd)));
	t->hdr_fp = fp;
	if (where)
		t->hdr_dev = where;
	return 0;
}

/* The packet this skb belongs to, starting to follow it if the filter
 * matches. Returns 0 when the skb is not one of ours. */
static __always_inline struct vrft_track *lookup_or_start(struct sk_buff *skb, __u8 *flags,
							   __u32 role, int may_start)
{
	__u64 key = (__u64)skb;
	struct vrft_memo *memo = memo_slot(key);
	struct vrft_track *t;
	struct vrft_track fresh = {};
	struct vrft_pkt *marks;
	__u32 id = 0;

	/* The common case on a busy host: a packet the filter already turned
	 * down, unchanged since. */
	if (memo && memo_holds(memo, key))
		return 0;
	t = bpf_map_lookup_elem(&tracked, &key);
	/* With the free and birth functions probed, an address is one packet
	 * from birth to free, whatever happens to its head. Otherwise a new head
	 * means a new packet. skb->head is read only where it is compared or
	 * kept. */
	if (t && t->freed) {
		if (role == VRFT_ROLE_FREE_PATH || role == VRFT_ROLE_FREE)
			return t;
		bpf_map_delete_elem(&tracked, &key); /* a new life of the address */
		t = 0;
	}
	if (t && (frees_probed || t->head == (__u64)BPF_CORE_READ(skb, head)))
		return t;
	if (!may_start)
		return 0;
	if (filter_rejects())
		count(CNT_FILTER_RUNS);
	marks = clear_marks();
	if (!vrft_filter(skb, &id)) {
		if (memo)
			memo_store(memo, key, marks);
		return 0;
	}
	memo_forget(memo, key);
	fresh.head = (__u64)BPF_CORE_READ(skb, head);
	/* Packets without a payload id get counter ids with the top bit set,
	 * so that the two kinds never collide. */
#ifdef VRFT_COMPAT
	if (!id_from_payload || !id) {
		__u32 n = compat_packet_id();

		if (!n)
			return 0; /* not followed yet: the next probe tries again */
		id = id_from_payload ? n | 0x80000000 : n;
	}
#else
	if (!id_from_payload)
		id = __sync_fetch_and_add(&next_packet, 1) + 1;
	else if (!id)
		id = (__sync_fetch_and_add(&next_packet, 1) + 1) | 0x80000000;
#endif
	fresh.packet = id;
	bpf_map_update_elem(&tracked, &key, &fresh, BPF_ANY);
	*flags |= VRFT_F_FIRST_SEEN;
	return bpf_map_lookup_elem(&tracked, &key);
}

static __always_inline struct vrft_stack *task_stack(int create)
{
	__u64 task = bpf_get_current_task();
	struct vrft_stack *st = bpf_map_lookup_elem(&stacks, &task);

	if (st || !create)
		return st;
	bpf_map_update_elem(&stacks, &task, &empty_stack, BPF_NOEXIST);
	st = bpf_map_lookup_elem(&stacks, &task);
	if (!st)
		count(CNT_STACK_MISSING);
	return st;
}

/* The innermost traced call of this task, if any. */
static __always_inline struct vrft_frame *top_frame(void)
{
	struct vrft_stack *st = task_stack(0);
	__u32 d;

	if (!st)
		return 0;
	d = st->depth;
	if (d == 0 || d > MAX_DEPTH)
		return 0;
	return &st->frames[(d - 1) & (MAX_DEPTH - 1)];
}

/* Follows skb as a clone or copy of parent: same packet, the next clone index. */
static __always_inline void adopt(__u64 skb, struct vrft_track *parent, __u32 packet)
{
	struct vrft_track child = {};

	child.packet = packet;
	child.flow_done = parent ? parent->flow_done : 0;
#ifdef VRFT_COMPAT
	/* A clone index is a label: on a (rare) clash, a repeated one is harmless. */
	child.clone = parent ? compat_clone_index(parent) : 1;
#else
	child.clone = parent ? __sync_fetch_and_add(&parent->next_clone, 1) + 1 : 1;
#endif
	child.head = (__u64)BPF_CORE_READ((struct sk_buff *)skb, head);
	bpf_map_update_elem(&tracked, &skb, &child, BPF_ANY);
	memo_forget(memo_slot(skb), skb);
}

/* An sk_buff being built in place. Nested in a call on the same skb it is
 * part of that construction; nested in a clone or copy function it is the
 * copy (which belongs to the parent's packet); else whatever this address
 * was before is over, and the first probe that follows starts a new packet. */
static __always_inline void on_birth(__u64 skb)
{
	/* No frame anywhere (the usual case for a rejected packet): no stack to look up. */
	struct vrft_frame *top = frames_live ? top_frame() : 0;
	struct vrft_track *parent;

	if (top && top->skb == skb)
		return;
	/* Looking first spares the bucket lock of a delete that finds nothing. */
	if (bpf_map_lookup_elem(&tracked, &skb))
		bpf_map_delete_elem(&tracked, &skb);
	if (!top || top->role != VRFT_ROLE_CLONE)
		return;
	parent = bpf_map_lookup_elem(&tracked, &top->skb);
	if (parent && parent->packet == top->packet)
		adopt(skb, parent, top->packet);
}

/* skb is a clone or copy of packet (whose skb, if followed, is parent),
 * unless it already belongs to it. */
static __always_inline void join_packet(__u64 skb, struct vrft_track *parent, __u32 packet)
{
	struct vrft_track *t = bpf_map_lookup_elem(&tracked, &skb);

	if (!t || t->packet != packet)
		adopt(skb, parent, packet);
}

/* skb is being filled from src (`__skb_clone(n, skb)`, `__copy_skb_header(new, old)`):
 * if src is followed, skb is its clone from now on. */
static __always_inline void on_copy_into(__u64 skb, __u64 src)
{
	struct vrft_track *from = bpf_map_lookup_elem(&tracked, &src);

	if (from && skb != src)
		join_packet(skb, from, from->packet);
}

/* What on_entry did, which tells the exit side whether to run. */
enum { ENTRY_SKIPPED, ENTRY_PUSHED, ENTRY_DEEP_REENTRY };

/* Entry of a traced function. */
/* note_first: send the headers of a packet first seen here. Not in fentry
 * clones: verifying vrft_note_headers in each of them took 6.1's walk per
 * clone from 1,472 to 2,120 instructions (budget 2,000), paid at every attach;
 * there the next tracepoint sends them. The single-program backends verify it
 * once. */
static __always_inline int on_entry(__u64 cookie, struct sk_buff *skb, __u64 src, int note_first)
{
	__u32 func = VRFT_COOKIE_FUNC(cookie), role = VRFT_COOKIE_ROLE(cookie);
	__u8 flags = 0;
	struct vrft_track *t;
	struct vrft_stack *st;
	struct vrft_frame *top;
	__u32 packet, d;
	__u16 clone;

	count_hit(func);

	if (role == VRFT_ROLE_BIRTH)
		on_birth((__u64)skb);
	else if (role == VRFT_ROLE_COPY_INTO && src)
		on_copy_into((__u64)skb, src);
	/* Releasing an skb nobody followed starts no packet: its life
	 * happened where nothing looked (e.g. a clone made unprobed). */
	t = lookup_or_start(skb, &flags, role,
			    role != VRFT_ROLE_FREE_PATH && role != VRFT_ROLE_FREE);
	if (!t)
		return 0;
	packet = t->packet;
	clone = t->clone;
	/* The first bytes of a packet first seen here (a filter that starts
	 * matching mid-path, a packet born before any tracepoint). */
	if (note_first && (flags & VRFT_F_FIRST_SEEN))
		vrft_note_headers((__u64)skb, t);
	/* Without a task stack (counted) the exit could not be paired. */
	st = task_stack(1);
	if (!st)
		return ENTRY_SKIPPED;
	/* Without room for a frame the entry is shown flat and marked. One
	 * emit() site for both: the verifier walks it once per clone (the
	 * paths differ only in flags, which emit() never branches on). */
	if (st->depth >= MAX_DEPTH)
		flags |= VRFT_F_TOO_DEEP;
	/* Function probes never read the flow: see emit(). */
	emit(VRFT_ENTRY, func, packet, clone, skb, flags, 0, 0);
	/* Read again so that no depth range is live across emit(). */
	d = *(volatile __u32 *)&st->depth;
	if (d >= MAX_DEPTH) {
		count(CNT_STACK_OVERFLOW);
		top = &st->frames[MAX_DEPTH - 1];
		if (top->func != func || top->skb != (__u64)skb)
			return ENTRY_SKIPPED;
		st->deep_reentries++;
		return ENTRY_DEEP_REENTRY;
	}
	st->frames[d].skb = (__u64)skb;
	st->frames[d].func = func;
	st->frames[d].packet = packet;
	st->frames[d].clone = clone;
	st->frames[d].role = role;
	__sync_fetch_and_add(&frames_live, 1);
	st->depth = d + 1;
	return ENTRY_PUSHED;
}

/* What a clone function returned (a new skb, the same one, NULL or an
 * ERR_PTR) belongs to the caller's packet, unless it already does. */
static __always_inline void follow_clone(struct vrft_frame *f, __u64 new_skb)
{
	if (new_skb && new_skb < (__u64)-4095 && new_skb != f->skb)
		join_packet(new_skb, bpf_map_lookup_elem(&tracked, &f->skb), f->packet);
}

/* After the last call of a free function the address is the allocator's:
 * the next probe on it starts a new packet. */
static __always_inline void end_packet(struct vrft_frame *f)
{
	struct vrft_track *t = bpf_map_lookup_elem(&tracked, &f->skb);

	if (t && t->packet == f->packet)
		bpf_map_delete_elem(&tracked, &f->skb);
}

/* How many frames an exit may look below the top for its own: see on_exit(). */
#define UNWIND_MAX 8

/* The depth (1-based) of the frame below the top that this exit closes, or 0.
 * Only a known skb is matched: a function name alone could close a recursive
 * caller whose entry was pushed while this call's entry was missed. */
static __always_inline __u32 stale_match(struct vrft_stack *st, __u32 d, __u32 func, __u64 skb)
{
	struct vrft_frame *f;
	__u32 i;

	if (!skb)
		return 0;
#pragma unroll
	for (i = 2; i <= UNWIND_MAX + 1; i++) {
		if (i > d)
			return 0;
		f = &st->frames[(d - i) & (MAX_DEPTH - 1)];
		if (f->func == func && f->skb == skb)
			return d - i + 1;
	}
	return 0;
}

/* Exit of a traced function. skb is the argument value as passed at entry
 * (0 when the backend cannot know it); it is compared, never dereferenced. */
static __always_inline void on_exit(__u64 cookie, __u64 skb, __s64 ret)
{
	__u32 func = VRFT_COOKIE_FUNC(cookie);
	struct vrft_stack *st = task_stack(0);
	struct vrft_frame *f;
	__u32 d;

	if (!st)
		return;
	d = st->depth;
	if (d == 0 || d > MAX_DEPTH)
		return;
	f = &st->frames[(d - 1) & (MAX_DEPTH - 1)];
	if (f->func == func && (!skb || f->skb == skb)) {
		/* LIFO: while a re-entry beyond the limit is open, this exit is its. */
		if (d == MAX_DEPTH && st->deep_reentries) {
			st->deep_reentries--;
			return;
		}
	} else {
		/* A full stack expects exits of calls kept flat: they match nothing.
		 * Below it, frames above this exit's own lost their exits: a softirq
		 * run on irq exit while a program ran could not run it again (a
		 * counted recursion miss). Left in place they would shift every
		 * later pairing of this task; dropped here, the model marks them
		 * "no exit" when this exit arrives. */
		__u32 own;

		if (d == MAX_DEPTH)
			return;
		own = stale_match(st, d, func, skb);
		if (!own)
			return;
		__sync_fetch_and_add(&frames_live, -(__s64)(d - own));
		d = own;
		st->depth = d;
		/* Read again so that the emit below is walked once, not per depth. */
		d = *(volatile __u32 *)&st->depth;
		if (d == 0 || d > MAX_DEPTH)
			return;
		f = &st->frames[(d - 1) & (MAX_DEPTH - 1)];
	}
	st->depth = d - 1;
	__sync_fetch_and_add(&frames_live, -1);
	/* The exit of a free function is the end of the packet, tracepoint or
	 * not (7.2 frees a received datagram into the NAPI cache without one). */
	emit(VRFT_EXIT, func, f->packet, f->clone, 0,
	     f->role == VRFT_ROLE_FREE ? VRFT_F_FREED : 0, ret, 0);
	if (f->role == VRFT_ROLE_CLONE)
		follow_clone(f, (__u64)ret);
	else if (f->role == VRFT_ROLE_FREE)
		end_packet(f);
}

#ifdef VRFT_COMPAT
/* Kernels without fentry cookies, bpf_get_func_arg/ret and link create for
 * tracing (before 5.17-5.19): every clone has its function's cookie written
 * into this instruction by user space (tracer/src/backend/fentry/), and is
 * attached with BPF_RAW_TRACEPOINT_OPEN. */
static __always_inline __u64 clone_constant(void)
{
	__u64 c;

	asm volatile("%0 = %1 ll" : "=r"(c) : "i"(VRFT_CLONE_CONSTANT));
	return c;
}

/* Slot n of the trampoline's context (argument n, or the return value after
 * the arguments), as a number: loaded directly, an skb argument would be a
 * typed pointer, which the memo hash and the stack compare cannot use. */
static __always_inline __u64 ctx_slot(__u64 *ctx, __u32 n)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), (void *)ctx + (n & 15) * 8);
	return v;
}

SEC("fentry")
int vrft_fentry(__u64 *ctx)
{
	__u64 cookie, skb, src = 0;

	if (!armed)
		return 0;
	cookie = clone_constant();
	skb = ctx_slot(ctx, VRFT_COOKIE_SKB_ARG(cookie));
	if (!skb)
		return 0;
	if (VRFT_COOKIE_ROLE(cookie) == VRFT_ROLE_COPY_INTO)
		src = ctx_slot(ctx, VRFT_COOKIE_SRC_ARG(cookie));
	on_entry(cookie, (struct sk_buff *)skb, src, 0);
	return 0;
}

SEC("fexit")
int vrft_fexit(__u64 *ctx)
{
	__u64 cookie, skb, ret = 0;
	__u32 slot;

	if (!armed || !frames_live)
		return 0;
	cookie = clone_constant();
	skb = ctx_slot(ctx, VRFT_COOKIE_SKB_ARG(cookie));
	if (!skb)
		return 0;
	slot = VRFT_COOKIE_RET_SLOT(cookie);
	if (slot)
		ret = ctx_slot(ctx, slot - 1);
	on_exit(cookie, skb, (__s64)ret);
	return 0;
}
#else
SEC("fentry")
int vrft_fentry(__u64 *ctx)
{
	__u64 cookie, skb = 0, src = 0;

	if (!armed)
		return 0;
	cookie = bpf_get_attach_cookie(ctx);
	if (bpf_get_func_arg(ctx, VRFT_COOKIE_SKB_ARG(cookie), &skb) || !skb)
		return 0;
	if (VRFT_COOKIE_ROLE(cookie) == VRFT_ROLE_COPY_INTO)
		bpf_get_func_arg(ctx, VRFT_COOKIE_SRC_ARG(cookie), &src);
	on_entry(cookie, (struct sk_buff *)skb, src, 0);
	return 0;
}

SEC("fexit")
int vrft_fexit(__u64 *ctx)
{
	__u64 cookie, skb = 0, ret = 0;

	if (!armed || !frames_live)
		return 0;
	cookie = bpf_get_attach_cookie(ctx);
	if (bpf_get_func_arg(ctx, VRFT_COOKIE_SKB_ARG(cookie), &skb) || !skb)
		return 0;
	bpf_get_func_ret(ctx, &ret);
	on_exit(cookie, skb, (__s64)ret);
	return 0;
}
#endif

/* Session programs run at entry and at return of the same call, and keep one
 * value per call: the skb of an entry that pushed a frame, 0 otherwise, so
 * that a return with nothing pushed costs one load. Up to 6.18 the session
 * kfuncs take no argument (kprobe session, 6.10+); later they take the
 * program's context (and serve fsession too). libbpf resolves the flavour
 * whose prototype matches this kernel and leaves the other unset. */
extern bool bpf_session_is_return(void) __ksym __weak;
extern __u64 *bpf_session_cookie(void) __ksym __weak;
extern bool bpf_session_is_return___ctx(void *ctx) __ksym __weak;
extern __u64 *bpf_session_cookie___ctx(void *ctx) __ksym __weak;

static __always_inline bool session_is_return(void *ctx)
{
	if (bpf_ksym_exists(bpf_session_is_return___ctx))
		return bpf_session_is_return___ctx(ctx);
	return bpf_session_is_return();
}

static __always_inline __u64 *session_cookie(void *ctx)
{
	if (bpf_ksym_exists(bpf_session_cookie___ctx))
		return bpf_session_cookie___ctx(ctx);
	return bpf_session_cookie();
}

/* The n-th argument register. Every register is loaded at its constant offset
 * first: left to itself clang folds a switch into one load at ctx + variable,
 * which the verifier refuses. */
static __always_inline __u64 kprobe_arg(struct pt_regs *regs, __u32 n)
{
	__u64 a0 = PT_REGS_PARM1(regs), a1 = PT_REGS_PARM2(regs), a2 = PT_REGS_PARM3(regs);
	__u64 a3 = PT_REGS_PARM4(regs), a4 = PT_REGS_PARM5(regs), a5 = PT_REGS_PARM6(regs);

	barrier_var(a0);
	barrier_var(a1);
	barrier_var(a2);
	barrier_var(a3);
	barrier_var(a4);
	barrier_var(a5);
	return n == 0 ? a0 : n == 1 ? a1 : n == 2 ? a2 : n == 3 ? a3 : n == 4 ? a4 : n == 5 ? a5 : 0;
}

/* The kprobe backend's cookies by function address, in an open-addressed table
 * that user space fills from the link (tracer/src/backend/kprobe.rs): an
 * address's slot is its hash masked by kprobe_slot_mask, or one of the next
 * KPROBE_PROBES - 1 on a collision. An array lookup is inlined by the
 * verifier: the hash map this replaced cost a call and a hash at every hit,
 * and bpf_get_attach_cookie() of a kprobe.multi link (the fallback for an
 * address left out) binary-searches every address of the link through an
 * indirect compare call (docs/BENCHMARKS.md). */
#define KPROBE_PROBES VRFT_KPROBE_PROBES
struct kprobe_slot {
	__u64 ip;
	__u64 cookie;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* resized by the kprobe backend, a power of two */
	__type(key, __u32);
	__type(value, struct kprobe_slot);
} kprobe_slots SEC(".maps");

const volatile __u32 kprobe_slot_mask = 0;

static __always_inline __u64 kprobe_cookie(struct pt_regs *regs)
{
	__u64 ip = bpf_get_func_ip(regs);
	__u32 home = VRFT_KPROBE_HASH(ip);

#pragma unroll
	for (__u32 i = 0; i < KPROBE_PROBES; i++) {
		__u32 key = (home + i) & kprobe_slot_mask;
		struct kprobe_slot *s = bpf_map_lookup_elem(&kprobe_slots, &key);

		if (s && s->ip == ip)
			return s->cookie;
	}
	return bpf_get_attach_cookie(regs);
}

/* kprobe session: returning non-zero at entry skips the return probe, so
 * packets we do not follow cost one run. */
SEC("kprobe.session")
int vrft_kprobe(struct pt_regs *regs)
{
	__u64 cookie, skb, src = 0, pushed;

	if (session_is_return(regs)) {
		/* Only entries that pushed a frame get here: the cookie holds
		 * their skb, as fexit's argument. */
		pushed = *session_cookie(regs);
		if (pushed)
			on_exit(kprobe_cookie(regs), pushed, (__s64)PT_REGS_RC(regs));
		return 0;
	}
	if (!armed)
		return 1;
	cookie = kprobe_cookie(regs);
	skb = kprobe_arg(regs, VRFT_COOKIE_SKB_ARG(cookie));
	if (!skb)
		return 1;
	if (VRFT_COOKIE_ROLE(cookie) == VRFT_ROLE_COPY_INTO)
		src = kprobe_arg(regs, VRFT_COOKIE_SRC_ARG(cookie));
	if (on_entry(cookie, (struct sk_buff *)skb, src, 1) == ENTRY_SKIPPED)
		return 1;
	/* Asked for only here: a rejected hit makes one kfunc call fewer. */
	*session_cookie(regs) = skb;
	return 0;
}

/* fsession through the tracing multi-link (7.2+): one program per BTF object
 * runs at entry and at exit of every function of its link. A tracing program
 * must return 0, so the exit always runs; the session cookie tells it whether
 * its entry pushed a frame. Arguments only through bpf_get_func_arg(): the
 * multi-link hands the program no typed context. */
SEC("fsession")
int vrft_fsession(__u64 *ctx)
{
	__u64 cookie, skb = 0, src = 0, ret = 0, pushed;

	if (bpf_session_is_return___ctx(ctx)) {
		/* The cookie starts at 0 for every call. */
		pushed = *bpf_session_cookie___ctx(ctx);
		if (pushed) {
			bpf_get_func_ret(ctx, &ret);
			on_exit(bpf_get_attach_cookie(ctx), pushed, (__s64)ret);
		}
		return 0;
	}
	if (!armed)
		return 0;
	cookie = bpf_get_attach_cookie(ctx);
	if (bpf_get_func_arg(ctx, VRFT_COOKIE_SKB_ARG(cookie), &skb) || !skb)
		return 0;
	if (VRFT_COOKIE_ROLE(cookie) == VRFT_ROLE_COPY_INTO)
		bpf_get_func_arg(ctx, VRFT_COOKIE_SRC_ARG(cookie), &src);
	/* The cookie only for an entry that pushed, as in vrft_kprobe. */
	if (on_entry(cookie, (struct sk_buff *)skb, src, 1) != ENTRY_SKIPPED)
		*bpf_session_cookie___ctx(ctx) = skb;
	return 0;
}

/* Tracepoints: leaves in the tree. They can also be the first to see a packet
 * (the tracepoint backend has nothing else). */
static __always_inline int on_tracepoint(enum vrft_tp tp, struct sk_buff *typed, __u8 flags,
					 __s64 value, int ends_packet)
{
	/* A tracepoint's skb is a typed kernel pointer, which the global functions
	 * cannot take: copied out, it is a plain number like fentry's arguments. */
	struct sk_buff *skb = 0;
	struct vrft_track *t;
	__u32 packet;
	__u16 clone;

	if (!armed || !typed)
		return 0;
	count_hit(tp_func[tp & 15]);
	bpf_probe_read_kernel(&skb, sizeof(skb), &typed);
	/* An skb first seen as it is consumed is no packet worth a row: its
	 * life happened where nothing looked (a drop still is: why it died). */
	t = lookup_or_start(skb, &flags, VRFT_ROLE_PLAIN, tp != TP_CONSUME_SKB);
	if (!t)
		return 0;
	packet = t->packet;
	clone = t->clone;
	vrft_note_headers((__u64)skb, t);
	emit(VRFT_TRACEPOINT, tp_func[tp & 15], packet, clone, skb, flags, value, t);
	/* The last reference is gone. Inside a traced call on this skb (the
	 * free function that fired the tracepoint), the rest of the free path
	 * still belongs: the packet ends at that call's exit. Else it ends here. */
	if (ends_packet && tp_ends_tracking) {
		struct vrft_frame *top = top_frame();
		__u64 key = (__u64)skb;

		if (top && top->skb == key && top->packet == packet)
			top->role = VRFT_ROLE_FREE;
		else
			t->freed = 1;
	}
	return 0;
}

/* The tracepoints whose only argument of interest is the skb. */
#define VRFT_SKB_TP(name, tp)                               \
	SEC("tp_btf/" #name)                                \
	int BPF_PROG(tp_##name, struct sk_buff *skb)        \
	{                                                   \
		return on_tracepoint(tp, skb, 0, 0, 0);     \
	}

VRFT_SKB_TP(net_dev_queue, TP_NET_DEV_QUEUE)
VRFT_SKB_TP(net_dev_start_xmit, TP_NET_DEV_START_XMIT)
VRFT_SKB_TP(netif_receive_skb, TP_NETIF_RECEIVE_SKB)
VRFT_SKB_TP(netif_rx, TP_NETIF_RX)
VRFT_SKB_TP(napi_gro_receive_entry, TP_NAPI_GRO_RECEIVE_ENTRY)
VRFT_SKB_TP(netif_receive_skb_entry, TP_NETIF_RECEIVE_SKB_ENTRY)

SEC("tp_btf/net_dev_xmit")
int BPF_PROG(tp_net_dev_xmit, struct sk_buff *skb, int rc)
{
	return on_tracepoint(TP_NET_DEV_XMIT, skb, 0, rc, 0);
}

#ifdef VRFT_COMPAT
/* Before 5.17 the tracepoint passes no drop reason. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(tp_kfree_skb, struct sk_buff *skb, void *location)
{
	return on_tracepoint(TP_KFREE_SKB, skb, VRFT_F_DROP | VRFT_F_FREED, 0, 1);
}
#else
SEC("tp_btf/kfree_skb")
int BPF_PROG(tp_kfree_skb, struct sk_buff *skb, void *location, int reason)
{
	return on_tracepoint(TP_KFREE_SKB, skb, VRFT_F_DROP | VRFT_F_FREED, reason, 1);
}
#endif

SEC("tp_btf/consume_skb")
int BPF_PROG(tp_consume_skb, struct sk_buff *skb)
{
	return on_tracepoint(TP_CONSUME_SKB, skb, VRFT_F_FREED, 0, 1);
}

SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(tp_skb_copy_datagram_iovec, struct sk_buff *skb, int len)
{
	return on_tracepoint(TP_SKB_COPY_DATAGRAM_IOVEC, skb, 0, len, 0);
}
