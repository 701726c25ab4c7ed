/* bcc/helpers.h — visor's prelude for the BCC dialect (included into every
 * BCC-dialect source with -include).
 *
 * It is read twice per compile:
 *  - with -D__VISOR_PARSE__ by the rewriter (libclang): tables are variables
 *    of a struct whose members are the table methods, so `t.lookup(&k)`
 *    type-checks at the user's line and column;
 *  - without it by clang-19 on the rewritten text: tables are libbpf BTF map
 *    definitions and the rewritten method calls (`__visor_lookup(&t, &k)`)
 *    are the macros below.
 * Kernel types come from vmlinux.h (made from BTF); the libbpf headers give
 * the helpers, PT_REGS_* and the CO-RE macros. */
#ifndef __VISOR_BCC_HELPERS_H
#define __VISOR_BCC_HELPERS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

/* ---- Constants kernel headers would have given (#defines: not in BTF) ---- */
#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif
#ifndef NAME_MAX
#define NAME_MAX 255
#endif
#ifndef PATH_MAX
#define PATH_MAX 4096
#endif
#ifndef PERF_MAX_STACK_DEPTH
#define PERF_MAX_STACK_DEPTH 127
#endif
#ifndef ETH_ALEN
#define ETH_ALEN 6
#endif
#ifndef ETH_HLEN
#define ETH_HLEN 14
#endif
#ifndef ETH_P_ALL
#define ETH_P_ALL 0x0003
#endif
#ifndef ETH_P_IP
#define ETH_P_IP 0x0800
#endif
#ifndef ETH_P_ARP
#define ETH_P_ARP 0x0806
#endif
#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#ifndef ETH_P_IPV6
#define ETH_P_IPV6 0x86DD
#endif
#ifndef TC_ACT_UNSPEC
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0
#define TC_ACT_RECLASSIFY 1
#define TC_ACT_SHOT 2
#define TC_ACT_PIPE 3
#define TC_ACT_STOLEN 4
#define TC_ACT_QUEUED 5
#define TC_ACT_REPEAT 6
#define TC_ACT_REDIRECT 7
#endif
#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#ifndef KERNEL_VERSION
#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
#endif
/* file modes (linux/stat.h): filetop and friends test S_ISREG(mode) */
#ifndef S_IFMT
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFLNK 0120000
#define S_IFREG 0100000
#define S_IFBLK 0060000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define S_ISUID 0004000
#define S_ISGID 0002000
#define S_ISVTX 0001000
#define S_ISLNK(m) (((m) & S_IFMT) == S_IFLNK)
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define S_ISCHR(m) (((m) & S_IFMT) == S_IFCHR)
#define S_ISBLK(m) (((m) & S_IFMT) == S_IFBLK)
#define S_ISFIFO(m) (((m) & S_IFMT) == S_IFIFO)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)
#endif
/* task states and flags (linux/sched.h): runqlat, offcputime */
#ifndef TASK_RUNNING
#define TASK_RUNNING 0x00000000
#define TASK_INTERRUPTIBLE 0x00000001
#define TASK_UNINTERRUPTIBLE 0x00000002
#define __TASK_STOPPED 0x00000004
#define __TASK_TRACED 0x00000008
#define EXIT_DEAD 0x00000010
#define EXIT_ZOMBIE 0x00000020
#define TASK_DEAD 0x00000080
#define TASK_NOLOAD 0x00000400
#define TASK_IDLE (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)
#endif
#ifndef PF_KTHREAD
#define PF_EXITING 0x00000004
#define PF_KTHREAD 0x00200000
#endif
/* sizes and units */
#ifndef NSEC_PER_SEC
#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_USEC 1000ULL
#define USEC_PER_SEC 1000000ULL
#endif
#ifndef IFNAMSIZ
#define IFNAMSIZ 16
#endif
#ifndef DNAME_INLINE_LEN
#define DNAME_INLINE_LEN 40
#endif
#ifndef DISK_NAME_LEN
#define DISK_NAME_LEN 32
#endif
#ifndef MINORBITS
#define MINORBITS 20
#define MINORMASK ((1U << MINORBITS) - 1)
#define MAJOR(dev) ((unsigned int)((dev) >> MINORBITS))
#define MINOR(dev) ((unsigned int)((dev) & MINORMASK))
#define MKDEV(ma, mi) (((ma) << MINORBITS) | (mi))
#endif
/* open(2) flags (uapi asm-generic/fcntl.h, x86) */
#ifndef O_ACCMODE
#define O_ACCMODE 00000003
#define O_RDONLY 00000000
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_EXCL 00000200
#define O_NOCTTY 00000400
#define O_TRUNC 00001000
#define O_APPEND 00002000
#define O_NONBLOCK 00004000
#define O_DSYNC 00010000
#define O_DIRECT 00040000
#define O_LARGEFILE 00100000
#define O_DIRECTORY 00200000
#define O_NOFOLLOW 00400000
#define O_NOATIME 01000000
#define O_CLOEXEC 02000000
#endif
/* kernel source annotations BCC programs carry */
#ifndef __user
#define __user
#endif
#ifndef __kernel
#define __kernel
#endif
#ifndef __force
#define __force
#endif
#ifndef __percpu
#define __percpu
#endif
#ifndef __rcu
#define __rcu
#endif
#ifndef PT_REGS_PARM6
#define PT_REGS_PARM6(x) (((struct pt_regs *)(x))->r9)
#endif

/* ---- BCC's helper spellings ---------------------------------------------- */
#define bpf_probe_read bpf_probe_read_kernel
#ifndef ntohs
#define ntohs(x) bpf_ntohs(x)
#define htons(x) bpf_htons(x)
#define ntohl(x) bpf_ntohl(x)
#define htonl(x) bpf_htonl(x)
#endif
#define lock_xadd(ptr, val) ((void)__sync_fetch_and_add(ptr, val))

static __always_inline unsigned int bpf_log2(unsigned int v)
{
	unsigned int r, shift;
	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline unsigned int bpf_log2l(unsigned long v)
{
	unsigned int hi = v >> 32;
	if (hi)
		return bpf_log2(hi) + 32 + 1;
	return bpf_log2(v) + 1;
}

/* BCC's socket-filter loads: a byte, a 16- or 32-bit big-endian field at
 * an offset of the packet, in host order (0 past its end). BCC emits
 * LD_ABS for them; bpf_skb_load_bytes works in tc programs too. */
static __always_inline u64 load_byte(void *skb, u64 off)
{
	u8 v;
	return bpf_skb_load_bytes(skb, off, &v, 1) ? 0 : v;
}
static __always_inline u64 load_half(void *skb, u64 off)
{
	u16 v;
	return bpf_skb_load_bytes(skb, off, &v, 2) ? 0 : bpf_ntohs(v);
}
static __always_inline u64 load_word(void *skb, u64 off)
{
	u32 v;
	return bpf_skb_load_bytes(skb, off, &v, 4) ? 0 : bpf_ntohl(v);
}

/* Packet cursor: a pointer used as an offset from the start of the packet
 * (BCC's proto.h style: `u8 *cursor = 0;`). */
#define cursor_advance(_cursor, _len) ({ void *_tmp = _cursor; _cursor += _len; _tmp; })

/* ---- bpf_trace_printk ------------------------------------------------------
 * Phase 1: a plain function, so its arguments stay the user's text and the
 * rewriter checks the literal format. Phase 2: the helper with a static
 * const format and its size. */
#ifdef __VISOR_PARSE__
/* BCC compiles with -Wno-pointer-sign: `u32 zero; arr.lookup(&zero)` on an
 * int-keyed array is how BCC programs are written. */
#pragma clang diagnostic ignored "-Wpointer-sign"
int __visor_trace_printk(const char *fmt, ...);
#define bpf_trace_printk __visor_trace_printk
#undef bpf_printk
#define bpf_printk __visor_trace_printk
#else
#define bpf_trace_printk(fmt, ...)                                                          \
	({                                                                                  \
		static const char ____fmt[] = fmt;                                          \
		bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__);                  \
	})
#endif

/* ---- Implicit probe reads (the rewriter wraps kernel memory reads) --------
 * `p->a.b` becomes __visor_probe_from(p, ->a.b): the pointer is evaluated
 * first, outside the CO-RE builtin (a chain nests reads, and clang takes no
 * nested __builtin_preserve_access_index). `*p` becomes __visor_probe_deref(p). */
#define __visor_probe_from(base, ...)                                                       \
	({                                                                                  \
		typeof(base) __visor_b = (base);                                            \
		typeof(__visor_b __VA_ARGS__) __visor_v;                                    \
		bpf_probe_read_kernel((void *)&__visor_v, sizeof(__visor_v),                \
				      __builtin_preserve_access_index(&(__visor_b __VA_ARGS__))); \
		__visor_v;                                                                  \
	})
/* One read of a kernel lvalue with no pointer load inside (fe_common.md's
 * form; the rewriter itself emits __visor_probe_from). */
#define __visor_probe(expr)                                                                 \
	({                                                                                  \
		typeof(expr) __visor_v;                                                     \
		bpf_probe_read_kernel((void *)&__visor_v, sizeof(__visor_v),                \
				      __builtin_preserve_access_index(&(expr)));             \
		__visor_v;                                                                  \
	})
#define __visor_probe_deref(ptr)                                                            \
	({                                                                                  \
		typeof(ptr) __visor_b = (ptr);                                              \
		typeof(*__visor_b) __visor_v;                                               \
		bpf_probe_read_kernel((void *)&__visor_v, sizeof(__visor_v), __visor_b);    \
		__visor_v;                                                                  \
	})
#define __visor_probe_bitfield(base, field)                                                 \
	({                                                                                  \
		typeof(base) __visor_b = (base);                                            \
		BPF_CORE_READ_BITFIELD_PROBED(__visor_b, field);                            \
	})

/* ---- Tracepoint __data_loc fields (BCC's names) ------------------------------
 * A __data_loc field holds (length << 16 | offset) of its data in the
 * record, which the program reads with a probe read (a variable offset
 * into the context is not a direct access the verifier takes). */
#define TP_DATA_LOC_READ_CONST(dst, field, length)                                          \
	do {                                                                                \
		unsigned short __visor_off = args->data_loc_##field & 0xFFFF;               \
		bpf_probe_read_kernel((void *)(dst), (length), (char *)args + __visor_off); \
	} while (0)
#define TP_DATA_LOC_READ(dst, field)                                                        \
	do {                                                                                \
		unsigned short __visor_off = args->data_loc_##field & 0xFFFF;               \
		unsigned short __visor_len = (args->data_loc_##field >> 16) & 0xFFFF;       \
		bpf_probe_read_kernel((void *)(dst), __visor_len, (char *)args + __visor_off); \
	} while (0)
#define TP_DATA_LOC_READ_STR(dst, field, length)                                            \
	do {                                                                                \
		unsigned short __visor_off = args->data_loc_##field & 0xFFFF;               \
		bpf_probe_read_kernel_str((void *)(dst), (length), (char *)args + __visor_off); \
	} while (0)

/* ---- Syscall arguments in kprobe__sys_X ------------------------------------
 * On a kernel without kprobes the program runs on the syscalls/sys_enter_X
 * (kretprobe: sys_exit_X) tracepoint: arguments come from its record. */
#define __VISOR_SYSENTER_ARG(ctx, n) (((struct trace_event_raw_sys_enter *)(ctx))->args[n])
#define __VISOR_SYSEXIT_RC(ctx) (((struct trace_event_raw_sys_exit *)(ctx))->ret)
#define __VISOR_SYSENTER_PARM1(ctx) __VISOR_SYSENTER_ARG(ctx, 0)
#define __VISOR_SYSENTER_PARM2(ctx) __VISOR_SYSENTER_ARG(ctx, 1)
#define __VISOR_SYSENTER_PARM3(ctx) __VISOR_SYSENTER_ARG(ctx, 2)
#define __VISOR_SYSENTER_PARM4(ctx) __VISOR_SYSENTER_ARG(ctx, 3)
#define __VISOR_SYSENTER_PARM5(ctx) __VISOR_SYSENTER_ARG(ctx, 4)
#define __VISOR_SYSENTER_PARM6(ctx) __VISOR_SYSENTER_ARG(ctx, 5)
/* With kprobes, on the syscall wrapper (__x64_sys_X): the first argument is
 * the user's pt_regs, read with probe reads (r10 is the 4th argument). */
#define __VISOR_SYSWRAP_REG(ctx, reg)                                                       \
	({                                                                                  \
		struct pt_regs *__visor_r = (struct pt_regs *)PT_REGS_PARM1(ctx);           \
		unsigned long __visor_v;                                                    \
		bpf_probe_read_kernel(&__visor_v, sizeof(__visor_v), &__visor_r->reg);      \
		__visor_v;                                                                  \
	})
#define __VISOR_SYSWRAP_ARG1(ctx) __VISOR_SYSWRAP_REG(ctx, di)
#define __VISOR_SYSWRAP_ARG2(ctx) __VISOR_SYSWRAP_REG(ctx, si)
#define __VISOR_SYSWRAP_ARG3(ctx) __VISOR_SYSWRAP_REG(ctx, dx)
#define __VISOR_SYSWRAP_ARG4(ctx) __VISOR_SYSWRAP_REG(ctx, r10)
#define __VISOR_SYSWRAP_ARG5(ctx) __VISOR_SYSWRAP_REG(ctx, r8)
#define __VISOR_SYSWRAP_ARG6(ctx) __VISOR_SYSWRAP_REG(ctx, r9)

/* ---- Program macros: the section is part of the expansion ------------------ */
#define TRACEPOINT_PROBE(category, event)                                                   \
	__attribute__((section("tracepoint/" #category "/" #event), used)) int              \
	tracepoint__##category##__##event(struct tracepoint__##category##__##event *args)
#define RAW_TRACEPOINT_PROBE(event)                                                         \
	__attribute__((section("raw_tracepoint/" #event), used)) int                        \
	raw_tracepoint__##event(struct bpf_raw_tracepoint_args *ctx)
/* fentry/fexit as libbpf's BPF_PROG: typed arguments from the u64 array. */
#define KFUNC_PROBE(event, args...)                                                         \
	__attribute__((section("fentry/" #event), used)) int kfunc__##event(unsigned long long *ctx); \
	static __always_inline int ____kfunc__##event(unsigned long long *ctx, ##args);     \
	int kfunc__##event(unsigned long long *ctx)                                         \
	{                                                                                   \
		_Pragma("GCC diagnostic push")                                              \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                      \
		return ____kfunc__##event(___bpf_ctx_cast(args));                           \
		_Pragma("GCC diagnostic pop")                                               \
	}                                                                                   \
	static __always_inline int ____kfunc__##event(unsigned long long *ctx, ##args)
#define KRETFUNC_PROBE(event, args...)                                                      \
	__attribute__((section("fexit/" #event), used)) int kretfunc__##event(unsigned long long *ctx); \
	static __always_inline int ____kretfunc__##event(unsigned long long *ctx, ##args);  \
	int kretfunc__##event(unsigned long long *ctx)                                      \
	{                                                                                   \
		_Pragma("GCC diagnostic push")                                              \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                      \
		return ____kretfunc__##event(___bpf_ctx_cast(args));                        \
		_Pragma("GCC diagnostic pop")                                               \
	}                                                                                   \
	static __always_inline int ____kretfunc__##event(unsigned long long *ctx, ##args)

/* ---- Tables ------------------------------------------------------------------
 * __VISOR_TABLE(kind, key, leaf, name, size, flags): kind is an identifier
 * (hash, array, ...). The user's BPF_TABLE("hash", ...) takes a string, as
 * BCC's: the rewriter turns the string into the identifier for phase 2. */
struct __visor_stacktrace { u64 ip[PERF_MAX_STACK_DEPTH]; };

#ifdef __VISOR_PARSE__
/* Every method is a member; the rewriter checks which ones the kind allows
 * (__visor_kind_NAME says the kind) and names them in its error. */
#define __VISOR_TABLE_S(kindstr, _key, _leaf, _name, _size, _flags)                         \
	struct __visor_table_##_name {                                                      \
		_key key;                                                                   \
		_leaf leaf;                                                                 \
		_leaf *(*lookup)(_key *);                                                   \
		_leaf *(*lookup_or_try_init)(_key *, _leaf *);                              \
		_leaf *(*lookup_or_init)(_key *, _leaf *);                                  \
		int (*update)(_key *, _leaf *);                                             \
		int (*insert)(_key *, _leaf *);                                             \
		int (*delete)(_key *);                                                      \
		void (*increment)(_key, ...);                                               \
		void (*atomic_increment)(_key, ...);                                        \
		int (*perf_submit)(void *, void *, u64);                                    \
		int (*perf_submit_skb)(void *, u64, void *, u64);                           \
		long (*redirect_map)(int, u64);                                             \
		int (*ringbuf_output)(void *, u64, u64);                                    \
		void *(*ringbuf_reserve)(u64);                                              \
		void (*ringbuf_submit)(void *, u64);                                        \
		void (*ringbuf_discard)(void *, u64);                                       \
		int (*get_stackid)(void *, u64);                                            \
		void (*call)(void *, int);                                                  \
		int (*push)(_leaf *, u64);                                                  \
		int (*pop)(_leaf *);                                                        \
		int (*peek)(_leaf *);                                                       \
	} _name;                                                                            \
	static const char __visor_kind_##_name[] __attribute__((unused)) = kindstr
#define __VISOR_TABLE(kind, _key, _leaf, _name, _size, _flags)                              \
	__VISOR_TABLE_S(#kind, _key, _leaf, _name, _size, _flags)
#define BPF_TABLE(kindstr, _key, _leaf, _name, _size)                                       \
	__VISOR_TABLE_S(kindstr, _key, _leaf, _name, _size, 0)
#define BPF_F_TABLE(kindstr, _key, _leaf, _name, _size, _flags)                             \
	__VISOR_TABLE_S(kindstr, _key, _leaf, _name, _size, _flags)

#else /* phase 2: libbpf BTF map definitions */

#define __VISOR_MAPTYPE_hash(K) BPF_MAP_TYPE_HASH
#define __VISOR_MAPTYPE_array(K) BPF_MAP_TYPE_ARRAY
#define __VISOR_MAPTYPE_percpu_hash(K) BPF_MAP_TYPE_PERCPU_HASH
#define __VISOR_MAPTYPE_percpu_array(K) BPF_MAP_TYPE_PERCPU_ARRAY
#define __VISOR_MAPTYPE_lru_hash(K) BPF_MAP_TYPE_LRU_HASH
#define __VISOR_MAPTYPE_lru_percpu_hash(K) BPF_MAP_TYPE_LRU_PERCPU_HASH
#define __VISOR_MAPTYPE_lpm_trie(K) BPF_MAP_TYPE_LPM_TRIE
#define __VISOR_MAPTYPE_stacktrace(K) BPF_MAP_TYPE_STACK_TRACE
/* BCC: a histogram with an int key is an array, otherwise a hash. */
#define __VISOR_MAPTYPE_histogram(K)                                                        \
	(__builtin_types_compatible_p(K, int) ? BPF_MAP_TYPE_ARRAY : BPF_MAP_TYPE_HASH)

#define __VISOR_MAP_KV(kind, _key, _leaf, _name, _size, _flags)                             \
	struct {                                                                            \
		__uint(type, __VISOR_MAPTYPE_##kind(_key));                                 \
		__type(key, _key);                                                          \
		__type(value, _leaf);                                                       \
		__uint(max_entries, _size);                                                 \
		__uint(map_flags, _flags);                                                  \
	} _name SEC(".maps")
#define __VISOR_MAP_hash __VISOR_MAP_KV
#define __VISOR_MAP_array __VISOR_MAP_KV
#define __VISOR_MAP_percpu_hash __VISOR_MAP_KV
#define __VISOR_MAP_percpu_array __VISOR_MAP_KV
#define __VISOR_MAP_lru_hash __VISOR_MAP_KV
#define __VISOR_MAP_lru_percpu_hash __VISOR_MAP_KV
/* the kernel takes LPM tries only without preallocation */
#define __VISOR_MAP_lpm_trie(kind, _key, _leaf, _name, _size, _flags)                       \
	__VISOR_MAP_KV(kind, _key, _leaf, _name, _size, (_flags) | BPF_F_NO_PREALLOC)
#define __VISOR_MAP_histogram __VISOR_MAP_KV
#define __VISOR_MAP_stacktrace __VISOR_MAP_KV
/* max_entries 0: libbpf sizes it to the number of CPUs. */
#define __VISOR_MAP_perf_output(kind, _key, _leaf, _name, _size, _flags)                    \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);                                \
		__uint(key_size, sizeof(int));                                              \
		__uint(value_size, sizeof(u32));                                            \
		__uint(max_entries, _size);                                                 \
	} _name SEC(".maps")
#define __VISOR_MAP_prog(kind, _key, _leaf, _name, _size, _flags)                           \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);                                      \
		__uint(key_size, sizeof(u32));                                              \
		__uint(value_size, sizeof(u32));                                            \
		__uint(max_entries, _size);                                                 \
	} _name SEC(".maps")
/* XDP redirect targets: ifindexes, CPUs, AF_XDP sockets by index */
#define __VISOR_MAP_IDX(maptype, _name, _size)                                              \
	struct {                                                                            \
		__uint(type, maptype);                                                      \
		__uint(key_size, sizeof(u32));                                              \
		__uint(value_size, sizeof(u32));                                            \
		__uint(max_entries, _size);                                                 \
	} _name SEC(".maps")
#define __VISOR_MAP_devmap(kind, _key, _leaf, _name, _size, _flags)                         \
	__VISOR_MAP_IDX(BPF_MAP_TYPE_DEVMAP, _name, _size)
#define __VISOR_MAP_cpumap(kind, _key, _leaf, _name, _size, _flags)                         \
	__VISOR_MAP_IDX(BPF_MAP_TYPE_CPUMAP, _name, _size)
#define __VISOR_MAP_xskmap(kind, _key, _leaf, _name, _size, _flags)                         \
	__VISOR_MAP_IDX(BPF_MAP_TYPE_XSKMAP, _name, _size)
#define __VISOR_MAP_ringbuf(kind, _key, _leaf, _name, _size, _flags)                        \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                         \
		__uint(max_entries, (_size) * 4096);                                        \
	} _name SEC(".maps")
#define __VISOR_MAP_QS(maptype, _leaf, _name, _size, _flags)                                \
	struct {                                                                            \
		__uint(type, maptype);                                                      \
		__type(value, _leaf);                                                       \
		__uint(max_entries, _size);                                                 \
		__uint(map_flags, _flags);                                                  \
	} _name SEC(".maps")
#define __VISOR_MAP_queue(kind, _key, _leaf, _name, _size, _flags)                          \
	__VISOR_MAP_QS(BPF_MAP_TYPE_QUEUE, _leaf, _name, _size, _flags)
#define __VISOR_MAP_stack(kind, _key, _leaf, _name, _size, _flags)                          \
	__VISOR_MAP_QS(BPF_MAP_TYPE_STACK, _leaf, _name, _size, _flags)

#define __VISOR_TABLE(kind, _key, _leaf, _name, _size, _flags)                              \
	__VISOR_MAP_##kind(kind, _key, _leaf, _name, _size, _flags)
/* After the rewrite the kind is an identifier: BPF_TABLE(hash, ...). */
#define BPF_TABLE(kind, _key, _leaf, _name, _size) __VISOR_TABLE(kind, _key, _leaf, _name, _size, 0)
#define BPF_F_TABLE(kind, _key, _leaf, _name, _size, _flags)                                \
	__VISOR_TABLE(kind, _key, _leaf, _name, _size, _flags)
#endif /* __VISOR_PARSE__ */

/* BCC's shorthands, with BCC's defaults for the optional arguments. */
#define __VISOR_PICK5(_1, _2, _3, _4, _5, NAME, ...) NAME
#define BPF_HASH(...)                                                                       \
	__VISOR_PICK5(__VA_ARGS__, __VISOR_HASH4, __VISOR_HASH4, __VISOR_HASH3, __VISOR_HASH2, \
		      __VISOR_HASH1)(hash, __VA_ARGS__)
#define __VISOR_HASH1(kind, name) __VISOR_TABLE(kind, u64, u64, name, 10240, 0)
#define __VISOR_HASH2(kind, name, key) __VISOR_TABLE(kind, key, u64, name, 10240, 0)
#define __VISOR_HASH3(kind, name, key, leaf) __VISOR_TABLE(kind, key, leaf, name, 10240, 0)
#define __VISOR_HASH4(kind, name, key, leaf, size) __VISOR_TABLE(kind, key, leaf, name, size, 0)
#define BPF_PERCPU_HASH(...)                                                                \
	__VISOR_PICK5(__VA_ARGS__, __VISOR_HASH4, __VISOR_HASH4, __VISOR_HASH3, __VISOR_HASH2, \
		      __VISOR_HASH1)(percpu_hash, __VA_ARGS__)
#define BPF_LRU_HASH(...)                                                                   \
	__VISOR_PICK5(__VA_ARGS__, __VISOR_HASH4, __VISOR_HASH4, __VISOR_HASH3, __VISOR_HASH2, \
		      __VISOR_HASH1)(lru_hash, __VA_ARGS__)
#define BPF_LRU_PERCPU_HASH(...)                                                            \
	__VISOR_PICK5(__VA_ARGS__, __VISOR_HASH4, __VISOR_HASH4, __VISOR_HASH3, __VISOR_HASH2, \
		      __VISOR_HASH1)(lru_percpu_hash, __VA_ARGS__)

#define BPF_ARRAY(...)                                                                      \
	__VISOR_PICK5(__VA_ARGS__, __VISOR_ARRAY3, __VISOR_ARRAY3, __VISOR_ARRAY3, __VISOR_ARRAY2, \
		      __VISOR_ARRAY1)(array, __VA_ARGS__)
#define BPF_PERCPU_ARRAY(...)                                                               \
	__VISOR_PICK5(__VA_ARGS__, __VISOR_ARRAY3, __VISOR_ARRAY3, __VISOR_ARRAY3, __VISOR_ARRAY2, \
		      __VISOR_ARRAY1)(percpu_array, __VA_ARGS__)
#define __VISOR_ARRAY1(kind, name) __VISOR_TABLE(kind, int, u64, name, 10240, 0)
#define __VISOR_ARRAY2(kind, name, leaf) __VISOR_TABLE(kind, int, leaf, name, 10240, 0)
#define __VISOR_ARRAY3(kind, name, leaf, size) __VISOR_TABLE(kind, int, leaf, name, size, 0)

#define BPF_HISTOGRAM(...)                                                                  \
	__VISOR_PICK5(__VA_ARGS__, __VISOR_HIST3, __VISOR_HIST3, __VISOR_HIST3, __VISOR_HIST2, \
		      __VISOR_HIST1)(histogram, __VA_ARGS__)
#define __VISOR_HIST1(kind, name) __VISOR_TABLE(kind, int, u64, name, 64, 0)
#define __VISOR_HIST2(kind, name, key) __VISOR_TABLE(kind, key, u64, name, 64, 0)
#define __VISOR_HIST3(kind, name, key, size) __VISOR_TABLE(kind, key, u64, name, size, 0)

#define BPF_LPM_TRIE(...)                                                                   \
	__VISOR_PICK5(__VA_ARGS__, __VISOR_LPM4, __VISOR_LPM4, __VISOR_LPM3, __VISOR_LPM2, \
		      __VISOR_LPM1)(lpm_trie, __VA_ARGS__)
#define __VISOR_LPM1(kind, name) __VISOR_TABLE(kind, u64, u64, name, 10240, BPF_F_NO_PREALLOC)
#define __VISOR_LPM2(kind, name, key) __VISOR_TABLE(kind, key, u64, name, 10240, BPF_F_NO_PREALLOC)
#define __VISOR_LPM3(kind, name, key, leaf)                                                 \
	__VISOR_TABLE(kind, key, leaf, name, 10240, BPF_F_NO_PREALLOC)
#define __VISOR_LPM4(kind, name, key, leaf, size)                                           \
	__VISOR_TABLE(kind, key, leaf, name, size, BPF_F_NO_PREALLOC)

#define BPF_PERF_OUTPUT(name) __VISOR_TABLE(perf_output, int, u32, name, 0, 0)
#define BPF_RINGBUF_OUTPUT(name, page_cnt) __VISOR_TABLE(ringbuf, int, u32, name, page_cnt, 0)
#define BPF_STACK_TRACE(name, size)                                                         \
	__VISOR_TABLE(stacktrace, int, struct __visor_stacktrace, name, size, 0)
#define BPF_PROG_ARRAY(name, size) __VISOR_TABLE(prog, int, u32, name, size, 0)
#define BPF_DEVMAP(name, size) __VISOR_TABLE(devmap, int, u32, name, size, 0)
#define BPF_CPUMAP(name, size) __VISOR_TABLE(cpumap, int, u32, name, size, 0)
#define BPF_XSKMAP(name, size) __VISOR_TABLE(xskmap, int, u32, name, size, 0)
#define BPF_QUEUE(name, leaf, size) __VISOR_TABLE(queue, int, leaf, name, size, 0)
#define BPF_STACK(name, leaf, size) __VISOR_TABLE(stack, int, leaf, name, size, 0)

/* ---- Table methods (phase 2; the rewriter turns `t.m(` into `__visor_m(&t, `).
 * Keys and values by pointer, as BCC; increment takes the key by value. */
#define __visor_lookup(m, k) ((typeof((m)->value))bpf_map_lookup_elem((m), (k)))
#define __visor_update(m, k, v) bpf_map_update_elem((m), (k), (v), BPF_ANY)
#define __visor_insert(m, k, v) bpf_map_update_elem((m), (k), (v), BPF_NOEXIST)
#define __visor_delete(m, k) bpf_map_delete_elem((m), (k))
#define __visor_lookup_or_try_init(m, k, init)                                              \
	({                                                                                  \
		typeof((m)->value) __visor_p = bpf_map_lookup_elem((m), (k));              \
		if (!__visor_p) {                                                           \
			bpf_map_update_elem((m), (k), (init), BPF_NOEXIST);                 \
			__visor_p = bpf_map_lookup_elem((m), (k));                          \
		}                                                                           \
		__visor_p;                                                                  \
	})
#define __visor_increment_n(m, k, n)                                                        \
	({                                                                                  \
		typeof(*(m)->key) __visor_k = (k);                                          \
		typeof(*(m)->value) __visor_n = (n);                                        \
		typeof((m)->value) __visor_p = bpf_map_lookup_elem((m), &__visor_k);       \
		if (__visor_p)                                                              \
			__sync_fetch_and_add(__visor_p, __visor_n);                         \
		else if (bpf_map_update_elem((m), &__visor_k, &__visor_n, BPF_NOEXIST)) {  \
			/* lost a race with another CPU's insert: add to its value */       \
			__visor_p = bpf_map_lookup_elem((m), &__visor_k);                   \
			if (__visor_p)                                                      \
				__sync_fetch_and_add(__visor_p, __visor_n);                 \
		}                                                                           \
	})
#define __VISOR_PICK3(_1, _2, _3, NAME, ...) NAME
#define __visor_increment(...)                                                              \
	__VISOR_PICK3(__VA_ARGS__, __visor_increment_n, __visor_increment_1)(__VA_ARGS__)
#define __visor_increment_1(m, k) __visor_increment_n(m, k, 1)
#define __visor_atomic_increment __visor_increment
#define __visor_perf_submit(m, ctx, data, size)                                             \
	bpf_perf_event_output((ctx), (m), BPF_F_CURRENT_CPU, (data), (size))
/* BCC's perf_submit_skb: the packet's first skb_len bytes follow the data
 * in the record (the helper's flags carry the length). */
#define __visor_perf_submit_skb(m, skb, skb_len, data, size)                                \
	bpf_perf_event_output((skb), (m), ((u64)(skb_len) << 32) | BPF_F_CURRENT_CPU,       \
			      (data), (size))
#define __visor_redirect_map(m, index, flags) bpf_redirect_map((m), (index), (flags))
#define __visor_ringbuf_output(m, data, size, flags) bpf_ringbuf_output((m), (data), (size), (flags))
#define __visor_ringbuf_reserve(m, size) bpf_ringbuf_reserve((m), (size), 0)
#define __visor_ringbuf_submit(m, data, flags) bpf_ringbuf_submit((data), (flags))
#define __visor_ringbuf_discard(m, data, flags) bpf_ringbuf_discard((data), (flags))
#define __visor_get_stackid(m, ctx, flags) bpf_get_stackid((ctx), (m), (flags))
#define __visor_call(m, ctx, index) bpf_tail_call((ctx), (m), (index))
#define __visor_push(m, v, flags) bpf_map_push_elem((m), (v), (flags))
#define __visor_pop(m, v) bpf_map_pop_elem((m), (v))
#define __visor_peek(m, v) bpf_map_peek_elem((m), (v))

/* ---- Packet field reads (bcc/proto.h structs) --------------------------------
 * __visor_pkt_read(ctx, off, bit, bits): the field of `bits` bits that
 * starts `bit` bits (from the most significant bit) into byte `off` of the
 * packet, in host order, as BCC's bpf_dext_pkt; 0 when out of the packet. */
static __always_inline u64 __visor_be_bits(const unsigned char *b, unsigned int nbytes,
					   unsigned int bit, unsigned int bits)
{
	u64 v = 0;
	for (unsigned int i = 0; i < nbytes; i++)
		v = (v << 8) | b[i];
	v >>= nbytes * 8 - bit - bits;
	return bits >= 64 ? v : v & ((1ULL << bits) - 1);
}

static __always_inline u64 __visor_pkt_read_skb(struct __sk_buff *skb, u64 off, unsigned int bit,
						unsigned int bits)
{
	unsigned char b[8];
	unsigned int nbytes = (bit + bits + 7) / 8;
	if (bpf_skb_load_bytes(skb, off, b, nbytes))
		return 0;
	return __visor_be_bits(b, nbytes, bit, bits);
}

static __always_inline u64 __visor_pkt_read_xdp(struct xdp_md *xdp, u64 off, unsigned int bit,
						unsigned int bits)
{
	unsigned int nbytes = (bit + bits + 7) / 8;
	void *data = (void *)(long)xdp->data, *end = (void *)(long)xdp->data_end;
	unsigned char *p;
	/* bound the offset first (the verifier takes packet pointers with a
	 * variable offset below 64 KiB only) */
	if (off > 0x3fff)
		return 0;
	p = (unsigned char *)data + off;
	if ((void *)(p + nbytes) > end)
		return 0;
	return __visor_be_bits(p, nbytes, bit, bits);
}

#define __visor_pkt_read(ctx, off, bit, bits)                                               \
	_Generic((ctx),                                                                     \
		struct xdp_md *: __visor_pkt_read_xdp,                                      \
		default: __visor_pkt_read_skb)((void *)(ctx), (u64)(off), (bit), (bits))

#endif /* __VISOR_BCC_HELPERS_H */
