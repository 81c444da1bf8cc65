/* SPDX-License-Identifier: GPL-2.0 */
/* The contract between the BPF programs and user space: every record, enum
 * and constant both sides use. The Rust side is generated from this file by
 * bindgen (tracer/build.rs); never mirror it by hand. */
#ifndef VRFT_EVENT_H
#define VRFT_EVENT_H

enum vrft_kind {
	VRFT_ENTRY = 0,
	VRFT_EXIT = 1,
	VRFT_TRACEPOINT = 2,
	/* Notes: no node of the tree, but something about the next event of the
	 * same packet and clone on the same stack (tid, or idle CPU). */
	VRFT_NOTE_HEADERS = 3, /* a struct vrft_headers follows */
	VRFT_NOTE_TASK = 4,    /* a struct vrft_task follows */
};

enum vrft_ctx {
	VRFT_CTX_PROCESS = 0,
	VRFT_CTX_SOFTIRQ = 1,
	VRFT_CTX_HARDIRQ = 2,
	VRFT_CTX_NMI = 3,
};

#define VRFT_F_NO_ENTRY   (1 << 0)
#define VRFT_F_FIRST_SEEN (1 << 1)
#define VRFT_F_FREED      (1 << 2)
#define VRFT_F_DROP       (1 << 3)
/* A struct vrft_flow follows the record's field values (once per packet). */
#define VRFT_F_FLOW       (1 << 4)
/* An entry nested deeper than the BPF call stack holds: its exit is not
 * followed, so the call is shown as a leaf, flat under the deepest call kept. */
#define VRFT_F_TOO_DEEP   (1 << 5)

/* Bytes of a packet's headers one headers note carries: Ethernet, outer IPv4,
 * UDP and VXLAN, inner Ethernet, IPv6 and TCP take 124. */
#define VRFT_HDR_BYTES 128

/* The most --skb-fields one event carries. */
#define VRFT_MAX_FIELDS 8

/* Bytes of a packet the pcap filter can read, and the first of them whose reads
 * a run of the filter marks for the rejection memo (filter/src/translate.rs,
 * Marks): the marks follow the bytes in the same buffer, then one byte that
 * says a read went past them. */
#define VRFT_PKT_CAP    256
#define VRFT_MEMO_BYTES 128

/* The kprobe backend's cookie table (vrft.bpf.c, kprobe_cookie): where an
 * address's search starts, and how many slots it tries. */
#define VRFT_KPROBE_GOLDEN 0x9E3779B97F4A7C15ULL
#define VRFT_KPROBE_HASH(ip) ((__u32)(((__u64)(ip) * VRFT_KPROBE_GOLDEN) >> 32))
#define VRFT_KPROBE_PROBES 4

/* The most interfaces (and namespaces) one --iface/--netns filter holds. */
#define VRFT_MAX_FILTER_DEVS 8

/* The BPF cookie of every function probe: which function it is (low 32 bits),
 * where its skb is, and what the function does to the skb's identity. */
#define VRFT_COOKIE_SKB_ARG_SHIFT 32
#define VRFT_COOKIE_ROLE_SHIFT    40
#define VRFT_COOKIE_SRC_ARG_SHIFT 48
#define VRFT_COOKIE_FUNC(c)    ((__u32)(c))
#define VRFT_COOKIE_SKB_ARG(c) ((__u32)((c) >> VRFT_COOKIE_SKB_ARG_SHIFT) & 0xff)
#define VRFT_COOKIE_ROLE(c)    ((__u32)((c) >> VRFT_COOKIE_ROLE_SHIFT) & 0xff)
#define VRFT_COOKIE_SRC_ARG(c) ((__u32)((c) >> VRFT_COOKIE_SRC_ARG_SHIFT) & 0xff)

/* Compatible clones (kernels without fentry cookies or bpf_get_func_arg) get
 * the cookie written into their instructions instead, with one more field: 1 +
 * the context slot of the return value (the argument count), 0 for a void
 * function, whose return slot fexit must not read. */
#define VRFT_COOKIE_RET_SLOT_SHIFT 56
#define VRFT_COOKIE_RET_SLOT(c) ((__u32)((c) >> VRFT_COOKIE_RET_SLOT_SHIFT) & 0xff)
/* The placeholder of that constant in the compatible object's fentry and fexit
 * programs ("VRFTCONS"), which user space replaces in each clone. */
#define VRFT_CLONE_CONSTANT 0x56524654434f4e53ULL

enum vrft_role {
	VRFT_ROLE_PLAIN = 0,
	VRFT_ROLE_FREE = 1,  /* the skb is released: stop tracking it after this call */
	VRFT_ROLE_CLONE = 2, /* returns a new skb that is a clone/copy of the argument */
	VRFT_ROLE_BIRTH = 3, /* initialises the sk_buff in place: a new life of this address */
	VRFT_ROLE_COPY_INTO = 4, /* fills the skb (a new clone or copy) from the skb in
				  * argument VRFT_COOKIE_SRC_ARG */
	VRFT_ROLE_FREE_PATH = 5, /* part of releasing an skb (skb_release_data, sock_wfree) */
};

struct vrft_event {
	__u64 ts_ns;
	__s64 ret;
	__u32 packet;
	__u16 clone;
	__u16 cpu;
	__u32 func;
	__u32 tid;
	__u32 ifindex;
	__u32 netns;
	__u32 len;
	__u8 kind;
	__u8 ctx;
	__u8 flags;
	__u8 nfields; /* this many __u64 values of --skb-fields follow */
};

/* What the packet is, read once: its addresses and ports once its headers
 * are written, else what says it is no IP packet (its ethertype, or the family
 * of the socket that owns it: a netlink message, unix socket data). */
struct vrft_flow {
	__u8 saddr[16]; /* IPv4: the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;    /* host order; 0 unless TCP or UDP */
	__u16 dport;
	__u8 ipv;       /* 4 or 6; 0: no IP header (see ethertype and family) */
	__u8 proto;
	__u16 ethertype; /* skb->protocol in host order; 0 when not set */
	__u16 family;    /* skb->sk's address family (AF_*); 0 without a socket */
	__u16 pad;
};

/* A packet's headers as the kernel holds them at one tracepoint: sent when
 * first readable and again whenever its addresses or ports change. */
struct vrft_headers {
	__u16 ethertype;  /* skb->protocol in host order */
	__u16 net_offset; /* where the network header starts in bytes (0: no link header) */
	__u16 len;        /* bytes valid (the linear data may end before the window) */
	__u16 pad;
	__u8 bytes[VRFT_HDR_BYTES];
};

/* The process of the task a packet's event ran on, noted once per thread. */
struct vrft_task {
	__u32 pid;     /* thread group id */
	__u8 comm[16];
};

/* Where one of --skb-fields lives: in struct sk_buff, or in the
 * struct skb_shared_info at skb->head + skb->end. Offsets come from the
 * running kernel's BTF, resolved by user space before load. */
struct vrft_field {
	__u16 off;   /* byte offset of the first byte read */
	__u8 size;   /* bytes read, 1..8 */
	__u8 shinfo; /* 1: relative to skb_shared_info */
	__u8 shift;  /* bitfields: value = (read >> shift) & mask(bits) */
	__u8 bits;   /* 64: no mask */
	__u8 be;     /* big-endian in memory (__be16, __be32): swap to host order */
	__u8 pad;
};

/* The skb tracepoints; each has a program named tp_<name> in vrft.bpf.c. */
enum vrft_tp {
	TP_NET_DEV_QUEUE,
	TP_NET_DEV_START_XMIT,
	TP_NET_DEV_XMIT,
	TP_NETIF_RECEIVE_SKB,
	TP_NETIF_RX,
	TP_NAPI_GRO_RECEIVE_ENTRY,
	TP_NETIF_RECEIVE_SKB_ENTRY,
	TP_KFREE_SKB,
	TP_CONSUME_SKB,
	TP_SKB_COPY_DATAGRAM_IOVEC,
	TP_COUNT, /* how many there are (at most 16: tp_func[]) */
};

/* Per-CPU counters of what could not be recorded; user space shows every one. */
enum vrft_counter {
	CNT_RINGBUF_DROPS,   /* events lost because the ring buffer was full */
	CNT_STACK_OVERFLOW,  /* calls nested deeper than MAX_DEPTH: exit cannot be paired */
	CNT_STACK_MISSING,   /* no call stack could be created for the task */
	CNT_FILTER_RUNS,     /* filter decisions made (not a loss: the rejection memo's misses) */
	CNT_MAX,
};

#endif
