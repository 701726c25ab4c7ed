/* bpf_spin_lock / bpf_spin_unlock and spin locks in map values.
 *
 * - spinlock.bpf.o (tc: packets and bytes under the value's lock, in an
 *   array and a hash) on the interpreter, the JIT and the kernel through
 *   objdiff: return values and both maps byte for byte (the kernel gives
 *   the lock field as zeros to user space), plus the expected totals.
 * - Four threads (two interpreters, two JITs, one VM each) run it on the
 *   same maps while a fifth reads the totals with VISOR_F_LOCK: totals
 *   exact, and every locked read consistent (bytes = packets x length).
 * - spinlock_misuse.bpf.o: what the kernel's verifier refuses (a second
 *   lock, unlocking a lock not held, exit with the lock held, a lock that
 *   is no lock field) fails the run with a message, and the lock is free
 *   afterwards.
 * - The map side: lock fields never copied to or from user space,
 *   VISOR_F_LOCK, and the kernel's creation rules. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "objdiff.h"
#include "packets.h"
#include "testutil.h"

#define PROGS VISOR_BINARY_DIR "/tests/progs/"
#define ETH_P_IP_BE 0x0008u   /* skb->protocol of IPv4, as the map key */
#define ETH_P_IPV6_BE 0xdd86u

struct locked_stats {
	uint32_t lock, pad;
	uint64_t packets, bytes;
};

/* ---- Kernel differential ------------------------------------------------ */

struct expect {
	uint64_t packets, bytes, v4_packets, v6_packets;
};

static void check_totals(void *arg, const struct visor_obj *obj, struct visor_map *const *maps)
{
	const struct expect *e = arg;
	struct visor_map *totals = objdiff_map(obj, maps, "totals");
	struct visor_map *by_proto = objdiff_map(obj, maps, "by_proto");
	struct locked_stats s;
	uint32_t zero = 0, k4 = ETH_P_IP_BE, k6 = ETH_P_IPV6_BE;
	CHECK(totals && by_proto, "maps found");
	if (!totals || !by_proto)
		return;
	CHECK(visor_map_spin_lock_off(totals) == 0 && visor_map_spin_lock_off(by_proto) == 0,
	      "the loader found the lock in both values");
	CHECK(visor_map_lookup(totals, &zero, &s) == 0, "totals");
	CHECK_EQ_U64(s.packets, e->packets, "total packets");
	CHECK_EQ_U64(s.bytes, e->bytes, "total bytes");
	CHECK(s.lock == 0, "lock field zero in user-space copies");
	CHECK(visor_map_lookup(by_proto, &k4, &s) == 0 && s.packets == e->v4_packets, "IPv4 packets");
	CHECK(visor_map_lookup(by_proto, &k6, &s) == 0 && s.packets == e->v6_packets, "IPv6 packets");
}

static void test_kernel_diff(void)
{
	static uint8_t f[4][256];
	uint8_t a6[16], b6[16];
	pkt_addr6(a6, 1);
	pkt_addr6(b6, 2);
	size_t l0 = pkt_udp4(f[0], 0xc0000201, 0xc6336407, 1000, 53, "abc", 3);
	size_t l1 = pkt_tcp4(f[1], 0xc0000202, 0xc6336407, 1001, 80, 0x02);
	size_t l2 = pkt_udp6(f[2], a6, b6, 1002, 53, "ipv6 payload", 12);
	size_t l3 = pkt_udp4(f[3], 0xc0000203, 0xc6336407, 1003, 9, "0123456789abcdef", 16);
	struct objdiff_case cases[] = {
		{.name = "udp4", .data = f[0], .data_len = (uint32_t)l0, .repeat = 3},
		{.name = "tcp4", .data = f[1], .data_len = (uint32_t)l1},
		{.name = "udp6", .data = f[2], .data_len = (uint32_t)l2, .repeat = 2},
		{.name = "udp4 long", .data = f[3], .data_len = (uint32_t)l3, .repeat = 5},
	};
	struct expect e = {
		.packets = 3 + 1 + 2 + 5,
		.bytes = 3 * l0 + l1 + 2 * l2 + 5 * l3,
		.v4_packets = 3 + 1 + 5,
		.v6_packets = 2,
	};
	struct objdiff d = {.path = PROGS "spinlock.bpf.o", .prog = "tc_spinlock",
			    .check_maps = check_totals, .check_arg = &e};
	struct objdiff_result res[4];
	int engines = objdiff_check(&d, cases, 4, res);
	CHECK(engines >= 2, "spinlock.bpf.o compared on %d engines", engines);
	for (int i = 0; i < 4 && engines >= 2; i++)
		CHECK(res[i].err == 0 && res[i].retval == 0, "case %d: TC_ACT_OK", i);
}

/* ---- Threads ---------------------------------------------------------- */

#define THREADS 4
#define ITERS 300
#define REPEAT 20

struct shared {
	struct visor_map **maps;
	size_t nmaps;
	struct visor_obj_prog *prog;
	uint8_t frame[128];
	uint32_t len;
	_Atomic int running;
	_Atomic long inconsistent, reads;
};

struct worker {
	struct shared *sh;
	int id;
	int err;
	char msg[256];
};

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct visor_vm *vm = visor_vm_create();
	w->err = vm ? visor_obj_prog_load_vm(vm, w->sh->prog, w->sh->maps, w->sh->nmaps, w->msg,
					     sizeof(w->msg))
		    : -ENOMEM;
	bool jit = w->id & 1;
	if (!w->err && jit)
		w->err = visor_vm_jit_compile(vm, 0);
	for (int i = 0; i < ITERS && !w->err; i++) {
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = w->sh->frame,
			   .data_size_in = w->sh->len, .repeat = REPEAT, .cpu = (uint32_t)w->id,
			   .engine = jit ? VISOR_ENGINE_JIT : VISOR_ENGINE_INTERP, .errbuf = w->msg,
			   .errbuf_len = sizeof(w->msg));
		w->err = visor_prog_test_run(vm, &o);
	}
	visor_vm_destroy(vm);
	return NULL;
}

/* Locked reads while the programs run: packets and bytes always agree. */
static void *run_reader(void *arg)
{
	struct shared *sh = arg;
	uint32_t zero = 0;
	struct visor_map *totals = sh->maps[0];
	while (atomic_load(&sh->running)) {
		struct locked_stats s;
		if (visor_map_lookup_flags(totals, &zero, &s, VISOR_F_LOCK) == 0) {
			atomic_fetch_add(&sh->reads, 1);
			if (s.bytes != s.packets * sh->len || s.lock)
				atomic_fetch_add(&sh->inconsistent, 1);
		}
	}
	return NULL;
}

static void test_threads(void)
{
	char err[256] = "";
	uint32_t old_cpus = visor_map_possible_cpus();
	CHECK(visor_map_set_possible_cpus(THREADS) == 0, "4 CPU slots");
	struct visor_obj *obj = visor_obj_open_file(PROGS "spinlock.bpf.o", NULL, err, sizeof(err));
	CHECK(obj != NULL, "open: %s", err);
	if (!obj)
		return;
	static struct shared sh;
	memset(&sh, 0, sizeof(sh));
	CHECK(visor_obj_maps_create(obj, &sh.maps, &sh.nmaps, err, sizeof(err)) == 0, "maps: %s", err);
	CHECK(visor_obj_find_map(obj, "totals") == 0, "totals is map 0");
	sh.prog = visor_obj_find_prog(obj, "tc_spinlock");
	sh.len = (uint32_t)pkt_udp4(sh.frame, 0xc0000201, 0xc6336407, 7, 53, "threads", 7);
	atomic_store(&sh.running, 1);
	pthread_t th[THREADS], reader;
	struct worker w[THREADS];
	CHECK(pthread_create(&reader, NULL, run_reader, &sh) == 0, "reader thread");
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.sh = &sh, .id = i};
		CHECK(pthread_create(&th[i], NULL, run_worker, &w[i]) == 0, "thread %d", i);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK(w[i].err == 0, "thread %d (%s): %d %s", i, i & 1 ? "jit" : "interp", w[i].err,
		      w[i].msg);
	}
	atomic_store(&sh.running, 0);
	pthread_join(reader, NULL);

	uint64_t n = (uint64_t)THREADS * ITERS * REPEAT;
	struct locked_stats s;
	uint32_t zero = 0, k4 = ETH_P_IP_BE;
	CHECK(visor_map_lookup(sh.maps[0], &zero, &s) == 0, "totals");
	CHECK_EQ_U64(s.packets, n, "packets from 4 threads");
	CHECK_EQ_U64(s.bytes, n * sh.len, "bytes from 4 threads");
	int bp = visor_obj_find_map(obj, "by_proto");
	CHECK(bp >= 0 && visor_map_lookup(sh.maps[bp], &k4, &s) == 0 && s.packets == n &&
		      s.bytes == n * sh.len,
	      "by_proto IPv4: %llu packets", (unsigned long long)s.packets);
	CHECK(atomic_load(&sh.inconsistent) == 0, "%ld of %ld locked reads saw a half update",
	      atomic_load(&sh.inconsistent), atomic_load(&sh.reads));
	visor_obj_maps_destroy(sh.maps, sh.nmaps);
	visor_obj_close(obj);
	visor_map_set_possible_cpus(old_cpus);
}

/* ---- Misuse ------------------------------------------------------------ */

/* Loads (verified, or in unsafe mode) and runs name: 0 or the error. */
static int run_prog(struct visor_obj *obj, struct visor_map **maps, size_t n, const char *name,
		    int engine, bool unsafe, char *msg, size_t len)
{
	uint8_t frame[64];
	size_t fl = pkt_udp4(frame, 0xc0000201, 0xc6336407, 7, 53, "x", 1);
	struct visor_vm *vm = visor_vm_create();
	visor_vm_set_unsafe(vm, unsafe);
	int err = visor_obj_prog_load_vm(vm, visor_obj_find_prog(obj, name), maps, n, msg, len);
	if (!err && engine == VISOR_ENGINE_JIT)
		err = visor_vm_jit_compile(vm, 0);
	if (!err) {
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)fl,
			   .engine = engine, .errbuf = msg, .errbuf_len = len);
		err = visor_prog_test_run(vm, &o);
	}
	visor_vm_destroy(vm);
	return err;
}

static void test_misuse(void)
{
	char err[256] = "", msg[512];
	struct visor_obj *obj =
		visor_obj_open_file(PROGS "spinlock_misuse.bpf.o", NULL, err, sizeof(err));
	CHECK(obj != NULL, "open: %s", err);
	struct visor_map **maps = NULL;
	size_t n = 0;
	if (!obj || visor_obj_maps_create(obj, &maps, &n, err, sizeof(err))) {
		CHECK(0, "maps: %s", err);
		visor_obj_close(obj);
		return;
	}
	static const struct {
		const char *prog, *msg;
	} bad[] = {
		{"lock_twice", "already holds the lock"},
		{"unlock_unheld", "not the lock this run holds (it holds none)"},
		{"exit_locked", "still held when the program exits"},
		{"lock_not_a_lock", "is not the bpf_spin_lock field"},
	};
	/* The verifier refuses each misuse, naming the source line ... */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = 0;
		int rc = run_prog(obj, maps, n, bad[i].prog, VISOR_ENGINE_INTERP, false, msg,
				  sizeof(msg));
		CHECK(rc == -EACCES && strstr(msg, "refused by the verifier") &&
			      strstr(msg, "spinlock_misuse.bpf.c:"),
		      "%s: verifier: %d '%s'", bad[i].prog, rc, msg);
	}
	/* ... and in unsafe mode the run-time checks catch it. */
	for (int engine = VISOR_ENGINE_INTERP; engine <= VISOR_ENGINE_JIT; engine++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			/* Twice: a second run would hang if the first left the lock held. */
			for (int k = 0; k < 2; k++) {
				msg[0] = 0;
				int rc = run_prog(obj, maps, n, bad[i].prog, engine, true, msg,
						  sizeof(msg));
				CHECK(rc == -EINVAL && strstr(msg, bad[i].msg), "%s (engine %d): %d '%s'",
				      bad[i].prog, engine, rc, msg);
			}
		}
		CHECK(run_prog(obj, maps, n, "lock_ok", engine, false, msg, sizeof(msg)) == 0,
		      "lock_ok: %s", msg);
	}
	struct locked_stats s;
	uint32_t zero = 0;
	/* exit_locked counted before failing (2 engines x 2 runs), lock_ok twice. */
	CHECK(visor_map_lookup(maps[0], &zero, &s) == 0 && s.packets == 6 && s.lock == 0,
	      "count %llu", (unsigned long long)s.packets);
	visor_obj_maps_destroy(maps, n);
	visor_obj_close(obj);
}

/* ---- The map side -------------------------------------------------------- */

static struct visor_map *locked_map(uint32_t type, uint32_t flags, uint32_t off, int *err)
{
	struct visor_map *m = NULL;
	VISOR_OPTS(visor_map_create_opts, o, .type = type, .key_size = 4,
		   .value_size = sizeof(struct locked_stats), .max_entries = 4, .map_flags = flags,
		   .spin_lock = true, .spin_lock_off = off);
	*err = visor_map_create(&o, &m);
	return m;
}

static void test_map_side(void)
{
	int err;
	uint32_t k = 1;
	/* The kernel's creation rules (map_check_btf). */
	CHECK(!locked_map(VISOR_MAP_TYPE_PERCPU_ARRAY, 0, 0, &err) && err == -EOPNOTSUPP,
	      "per-CPU array with a lock: %d", err);
	CHECK(!locked_map(VISOR_MAP_TYPE_ARRAY, 0, 2, &err) && err == -EINVAL, "misaligned: %d", err);
	CHECK(!locked_map(VISOR_MAP_TYPE_ARRAY, 0, 24, &err) && err == -EINVAL, "past the value");
	CHECK(!locked_map(VISOR_MAP_TYPE_ARRAY, VISOR_F_RDONLY_PROG, 0, &err) && err == -EACCES,
	      "read-only for programs: %d", err);

	for (int t = 0; t < 2; t++) {
		uint32_t type = t ? VISOR_MAP_TYPE_HASH : VISOR_MAP_TYPE_ARRAY;
		struct visor_map *m = locked_map(type, 0, 0, &err);
		CHECK(m && err == 0, "create %s: %d", visor_map_type_name(type), err);
		if (!m)
			continue;
		/* An update never copies the lock in: a new hash element starts free. */
		struct locked_stats in = {.lock = 0xdead, .packets = 5, .bytes = 50}, out;
		CHECK(visor_map_update(m, &k, &in, VISOR_ANY) == 0, "update");
		visor_map_read_lock();
		struct locked_stats *v = visor_map_lookup_ptr(m, &k);
		CHECK(v && v->lock == 0 && v->packets == 5, "lock not copied in");
		/* Held (as by a program): copies out show zeros, plain updates
		 * leave it held. */
		visor_map_value_lock(&v->lock);
		memset(&out, 0xff, sizeof(out));
		CHECK(visor_map_lookup(m, &k, &out) == 0 && out.lock == 0 && out.bytes == 50,
		      "lock zero in lookups");
		if (type == VISOR_MAP_TYPE_ARRAY) {
			in.packets = 6;
			CHECK(visor_map_update(m, &k, &in, VISOR_EXIST) == 0 && v->lock != 0 &&
				      v->packets == 6,
			      "array update leaves the lock alone");
		}
		visor_map_value_unlock(&v->lock);
		visor_map_read_unlock();
		/* VISOR_F_LOCK. */
		in.packets = 7;
		CHECK(visor_map_update(m, &k, &in, VISOR_F_LOCK | VISOR_EXIST) == 0, "F_LOCK update");
		CHECK(visor_map_update(m, &k, &in, VISOR_F_LOCK | VISOR_NOEXIST) == -EEXIST,
		      "F_LOCK|NOEXIST on an existing key");
		CHECK(visor_map_lookup_flags(m, &k, &out, VISOR_F_LOCK) == 0 && out.packets == 7 &&
			      out.lock == 0,
		      "F_LOCK lookup");
		CHECK(visor_map_lookup_flags(m, &k, &out, VISOR_F_LOCK | 1) == -EINVAL, "other flags");
		uint32_t k2 = 2;
		CHECK(visor_map_update(m, &k2, &in, VISOR_F_LOCK) == 0 &&
			      visor_map_lookup(m, &k2, &out) == 0 && out.packets == 7,
		      "F_LOCK update of a new key");
		visor_map_destroy(m);
	}
	struct visor_map *plain = NULL;
	VISOR_OPTS(visor_map_create_opts, o, .type = VISOR_MAP_TYPE_ARRAY, .key_size = 4,
		   .value_size = 8, .max_entries = 2);
	uint64_t v8 = 0;
	CHECK(visor_map_create(&o, &plain) == 0 && visor_map_spin_lock_off(plain) == -1, "plain");
	CHECK(visor_map_update(plain, &k, &v8, VISOR_F_LOCK) == -EINVAL &&
		      visor_map_lookup_flags(plain, &k, &v8, VISOR_F_LOCK) == -EINVAL,
	      "F_LOCK without a lock");
	visor_map_destroy(plain);
}

int main(void)
{
	test_map_side();
	test_kernel_diff();
	test_threads();
	test_misuse();
	return test_summary("test_runtime_spinlock");
}
