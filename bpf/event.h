/* SPDX-License-Identifier: GPL-2.0 */
/* The record the BPF programs put on the ring buffer. Mirrored by
 * src/tracer/wire.rs; a test there checks the size and field offsets. */
#ifndef VRFT_EVENT_H
#define VRFT_EVENT_H

enum vrft_kind {
	VRFT_ENTRY = 0,
	VRFT_EXIT = 1,
	VRFT_TRACEPOINT = 2,
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

/* The BPF cookie of every function probe: which function it is, where its skb
 * is, and what the function does to the skb's identity. */
#define VRFT_COOKIE_FUNC(c)    ((__u32)(c))
#define VRFT_COOKIE_SKB_ARG(c) ((__u32)((c) >> 32) & 0xff)
#define VRFT_COOKIE_ROLE(c)    ((__u32)((c) >> 40) & 0xff)

enum vrft_role {
	VRFT_ROLE_PLAIN = 0,
	VRFT_ROLE_FREE = 1,  /* the skb is released: stop tracking it after this call */
	VRFT_ROLE_CLONE = 2, /* returns a new skb that is a clone/copy of the argument */
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
	__u8 pad;
};

#endif
