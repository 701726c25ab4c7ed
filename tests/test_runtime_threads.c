/* The runtime from several threads at once: four threads run the same
 * compiled XDP program on the same maps through visor_prog_test_run, each
 * with its own CPU slot, and the map totals must be exact afterwards.
 *
 * - xdp_parser.bpf.o: packets and bytes per protocol in a hash map, with
 *   atomic adds and the racy first insertion handled by the program
 *   (BPF_NOEXIST, then look up again): every packet counted once.
 * - percpu.bpf.o: plain increments in a per-CPU array (size classes) and a
 *   per-CPU hash (first byte). Each CPU's value must equal what its thread
 *   ran, and the sum over CPUs the total. The shared first-byte keys are
 *   created beforehand: the program's own lookup-then-insert would lose a
 *   count when two CPUs insert the same key at once (in the kernel too);
 *   each thread also has a key only it inserts.
 *
 * Both with one VM shared by all threads and with one VM per thread over
 * the same maps, in the interpreter, the JIT and both mixed. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "testutil.h"

#define PROGS_DIR VISOR_BINARY_DIR "/tests/progs/"
#define THREADS 4
#define MAX_PKT 1300
#define NPKT 10
#define KEY_NOT_COUNTED UINT32_MAX
#define FIRST_SHARED 3 /* first bytes every thread uses, pre-created */

struct counter {
	uint64_t packets, bytes;
};

struct pkt {
	uint8_t data[MAX_PKT];
	uint32_t len;
	uint32_t want; /* xdp_parser's action */
	uint32_t key;  /* protocol it counts, KEY_NOT_COUNTED if none */
};

static struct pkt pk[NPKT];
static const uint8_t shared_first[FIRST_SHARED] = {0x02, 0x0a, 0x33};

static uint32_t eth(uint8_t *p, uint16_t proto)
{
	static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
	memcpy(p, macs, 12);
	p[12] = proto >> 8;
	p[13] = proto & 0xff;
	return 14;
}

/* IPv4 192.0.2.1 -> 198.51.100.7 (ihl 5), then l4 bytes and pad zeros. */
static uint32_t ipv4(uint8_t *p, uint8_t proto, const uint8_t *l4, uint32_t l4len, uint32_t pad)
{
	static const uint8_t h[20] = {0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 0, 0, 0,
				      192, 0, 2, 1, 198, 51, 100, 7};
	uint32_t tot = 20 + l4len + pad;
	memcpy(p, h, 20);
	p[2] = tot >> 8;
	p[3] = tot & 0xff;
	p[9] = proto;
	memcpy(p + 20, l4, l4len);
	memset(p + 20 + l4len, 0, pad);
	return tot;
}

/* IPv6 2001:db8::1 -> 2001:db8::2. */
static uint32_t ipv6(uint8_t *p, uint8_t next, const uint8_t *l4, uint32_t l4len, uint32_t pad)
{
	uint32_t plen = l4len + pad;
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = plen >> 8;
	p[5] = plen & 0xff;
	p[6] = next;
	p[7] = 64;
	p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = 1;
	p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 2;
	memcpy(p + 40, l4, l4len);
	memset(p + 40 + l4len, 0, pad);
	return 40 + plen;
}

/* Sizes in all three of percpu.bpf.c's classes (<100, <1000, >=1000). */
static void make_packets(void)
{
	static const uint8_t udp53[8] = {0x30, 0x39, 0, 53, 0, 8, 0, 0};
	static const uint8_t udp9[8] = {0x30, 0x39, 0, 9, 0, 8, 0, 0};
	static const uint8_t tcp[20] = {0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff};
	static const uint8_t icmp[8] = {8, 0, 0xf7, 0xff, 0, 1, 0, 1};
	static const uint8_t icmp6[8] = {128, 0, 0, 0, 0, 1, 0, 1};
	static const uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 1, 192, 0, 2, 1,
					0, 0, 0, 0, 0, 0, 198, 51, 100, 7};
	uint32_t l;
	int n = 0;

	l = eth(pk[n].data, 0x0800);
	pk[n].len = l + ipv4(pk[n].data + l, 17, udp53, 8, 0), pk[n].want = 2, pk[n].key = 17, n++;
	l = eth(pk[n].data, 0x0800);
	pk[n].len = l + ipv4(pk[n].data + l, 17, udp9, 8, 300), pk[n].want = 1, pk[n].key = 17, n++;
	l = eth(pk[n].data, 0x0800);
	pk[n].len = l + ipv4(pk[n].data + l, 6, tcp, 20, 500), pk[n].want = 2, pk[n].key = 6, n++;
	l = eth(pk[n].data, 0x0800);
	pk[n].len = l + ipv4(pk[n].data + l, 1, icmp, 8, 1100), pk[n].want = 2, pk[n].key = 1, n++;
	l = eth(pk[n].data, 0x86dd);
	pk[n].len = l + ipv6(pk[n].data + l, 17, udp53, 8, 1200), pk[n].want = 2, pk[n].key = 17, n++;
	l = eth(pk[n].data, 0x86dd);
	pk[n].len = l + ipv6(pk[n].data + l, 58, icmp6, 8, 0), pk[n].want = 2, pk[n].key = 58, n++;
	l = eth(pk[n].data, 0x0806);
	memcpy(pk[n].data + l, arp, sizeof(arp));
	pk[n].len = l + sizeof(arp), pk[n].want = 2, pk[n].key = 255, n++;
	l = eth(pk[n].data, 0x8100);
	pk[n].data[l] = 0, pk[n].data[l + 1] = 5, pk[n].data[l + 2] = 0x08, pk[n].data[l + 3] = 0;
	l += 4;
	pk[n].len = l + ipv4(pk[n].data + l, 6, tcp, 20, 0), pk[n].want = 2, pk[n].key = 6, n++;
	l = eth(pk[n].data, 0x86dd);
	pk[n].len = l + ipv6(pk[n].data + l, 132, tcp, 20, 0), pk[n].want = 2, pk[n].key = 132, n++;
	pk[n].len = eth(pk[n].data, 0x0800) + 10, pk[n].want = 1, pk[n].key = KEY_NOT_COUNTED, n++;
}

enum prog_kind { PROG_PARSER, PROG_PERCPU };

struct targ {
	struct visor_vm *vm;
	pthread_barrier_t *start;
	enum prog_kind kind;
	int engine;
	uint32_t id;
	long n;
	/* out: what this thread ran */
	struct counter proto[256];
	uint64_t classes[3];
	uint64_t first[256];
	long runs, failed, wrong;
	char err[320];
};

static void *worker(void *p)
{
	struct targ *a = p;
	uint8_t buf[MAX_PKT];
	uint8_t own_first = (uint8_t)(0x40 + a->id);

	pthread_barrier_wait(a->start);
	for (long i = 0; i < a->n; i++) {
		/* Each thread its own mix, so per-CPU shares differ. */
		const struct pkt *q = &pk[(i * (a->id + 1) + i / 7 + a->id) % NPKT];
		uint32_t repeat = i % 5 == 0 ? 3 : 1;
		uint8_t first = i % 4 == 3 ? own_first : shared_first[(i + a->id) % FIRST_SHARED];
		char err[256] = "";

		memcpy(buf, q->data, q->len);
		buf[0] = first;
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = buf, .data_size_in = q->len,
			   .repeat = repeat, .engine = a->engine, .cpu = a->id, .errbuf = err,
			   .errbuf_len = sizeof(err));
		int r = visor_prog_test_run(a->vm, &o);
		if (r) {
			if (!a->failed++)
				snprintf(a->err, sizeof(a->err), "run %ld: %d %s", i, r, err);
			continue;
		}
		uint32_t want = a->kind == PROG_PARSER ? q->want : 2;
		if (o.retval != want && !a->wrong++)
			snprintf(a->err, sizeof(a->err), "run %ld: returned %u, want %u", i,
				 o.retval, want);
		a->runs += repeat;
		if (q->key != KEY_NOT_COUNTED) {
			a->proto[q->key].packets += repeat;
			a->proto[q->key].bytes += (uint64_t)repeat * q->len;
		}
		a->classes[q->len < 100 ? 0 : q->len < 1000 ? 1 : 2] += repeat;
		a->first[first] += repeat;
	}
	return NULL;
}

static void check_parser(const char *who, struct visor_map *m, const struct targ *t)
{
	for (uint32_t k = 0; k < 256; k++) {
		struct counter want = {0, 0}, got = {0, 0};
		for (int i = 0; i < THREADS; i++) {
			want.packets += t[i].proto[k].packets;
			want.bytes += t[i].proto[k].bytes;
		}
		bool present = visor_map_lookup(m, &k, &got) == 0;
		CHECK(present == (want.packets != 0), "%s: key %u present %d", who, k, present);
		if (present)
			CHECK(got.packets == want.packets && got.bytes == want.bytes,
			      "%s: key %u: %llu packets %llu bytes, want %llu %llu (lost %lld)",
			      who, k, (unsigned long long)got.packets,
			      (unsigned long long)got.bytes, (unsigned long long)want.packets,
			      (unsigned long long)want.bytes,
			      (long long)(want.packets - got.packets));
	}
}

/* One per-CPU value: each thread's slot holds exactly its count, the others
 * (slots no thread used) zero. */
static void check_percpu_value(const char *who, const char *what, uint32_t key,
			       const uint64_t *vals, uint32_t ncpu, const uint64_t *want)
{
	uint64_t sum = 0, wsum = 0;
	for (uint32_t c = 0; c < ncpu; c++) {
		uint64_t w = c < THREADS ? want[c] : 0;
		sum += vals[c];
		wsum += w;
		CHECK(vals[c] == w, "%s: %s %u cpu %u: %llu, want %llu", who, what, key, c,
		      (unsigned long long)vals[c], (unsigned long long)w);
	}
	CHECK(sum == wsum, "%s: %s %u: sum %llu, want %llu", who, what, key,
	      (unsigned long long)sum, (unsigned long long)wsum);
}

static void check_percpu(const char *who, struct visor_map *classes, struct visor_map *first,
			 const struct targ *t)
{
	uint32_t ncpu = visor_map_nr_cpus(classes);
	uint64_t *vals = calloc(ncpu, sizeof(*vals));
	uint64_t want[THREADS];

	CHECK(vals != NULL, "calloc");
	if (!vals)
		return;
	for (uint32_t k = 0; k < 3; k++) {
		for (int i = 0; i < THREADS; i++)
			want[i] = t[i].classes[k];
		CHECK(visor_map_lookup(classes, &k, vals) == 0, "%s: class %u lookup", who, k);
		check_percpu_value(who, "class", k, vals, ncpu, want);
	}
	CHECK(visor_map_nr_cpus(first) == ncpu, "%s: first_byte cpus", who);
	for (uint32_t k = 0; k < 256; k++) {
		bool expect = false;
		for (int i = 0; i < THREADS; i++)
			want[i] = t[i].first[k], expect |= want[i] != 0;
		for (int i = 0; i < FIRST_SHARED; i++)
			expect |= k == shared_first[i];
		memset(vals, 0, ncpu * sizeof(*vals));
		bool present = visor_map_lookup(first, &k, vals) == 0;
		CHECK(present == expect, "%s: first byte %u present %d", who, k, present);
		if (present)
			check_percpu_value(who, "first byte", k, vals, ncpu, want);
	}
	free(vals);
}

enum vm_mode { VM_SHARED, VM_PER_THREAD };

/* engine < 0: mixed, even threads the interpreter and odd ones the JIT. */
static void run_case(const struct visor_obj *obj, enum prog_kind kind, enum vm_mode mode,
		     int engine, long n)
{
	char who[96], lerr[512] = "";
	const char *prog_name = kind == PROG_PARSER ? "xdp_count_protocols" : "xdp_percpu";
	bool need_jit = engine != VISOR_ENGINE_INTERP;
	struct visor_vm *vms[THREADS] = {0};
	struct visor_map **maps = NULL;
	size_t nmaps = 0;
	static struct targ t[THREADS];
	pthread_t th[THREADS];
	pthread_barrier_t start;
	int nvm = mode == VM_SHARED ? 1 : THREADS;

	snprintf(who, sizeof(who), "%s, %s, %s", prog_name,
		 mode == VM_SHARED ? "shared vm" : "vm per thread",
		 engine == VISOR_ENGINE_INTERP ? "interp" : engine == VISOR_ENGINE_JIT ? "jit" : "mixed");
	struct visor_obj_prog *prog = visor_obj_find_prog(obj, prog_name);
	CHECK(prog != NULL, "%s: program not found", who);
	if (!prog)
		return;
	int rc = visor_obj_maps_create(obj, &maps, &nmaps, lerr, sizeof(lerr));
	CHECK(rc == 0, "%s: maps: %s", who, lerr);
	if (rc)
		return;
	CHECK(nmaps == (kind == PROG_PARSER ? 1u : 2u), "%s: %zu maps", who, nmaps);
	if (kind == PROG_PERCPU && nmaps == 2) {
		/* Shared first-byte keys exist before the threads start. */
		uint32_t ncpu = visor_map_nr_cpus(maps[1]);
		CHECK(ncpu >= THREADS, "%s: %u cpus", who, ncpu);
		uint64_t *zero = calloc(ncpu, sizeof(*zero));
		for (int i = 0; i < FIRST_SHARED && zero; i++) {
			uint32_t k = shared_first[i];
			CHECK(visor_map_update(maps[1], &k, zero, VISOR_NOEXIST) == 0,
			      "%s: pre-create %u: %s", who, k, visor_map_errmsg(maps[1]));
		}
		free(zero);
	}
	for (int i = 0; i < nvm && !rc; i++) {
		vms[i] = visor_vm_create();
		rc = visor_obj_prog_load_vm(vms[i], prog, maps, nmaps, lerr, sizeof(lerr));
		CHECK(rc == 0, "%s: load: %s", who, lerr);
		if (!rc && need_jit) {
			rc = visor_vm_jit_compile(vms[i], 0);
			CHECK(rc == 0, "%s: jit: %s", who, visor_vm_errmsg(vms[i]));
		}
	}
	if (rc)
		goto out;

	pthread_barrier_init(&start, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		t[i] = (struct targ){
			.vm = vms[mode == VM_SHARED ? 0 : i],
			.start = &start,
			.kind = kind,
			.engine = engine >= 0 ? engine : (i % 2 ? VISOR_ENGINE_JIT : VISOR_ENGINE_INTERP),
			.id = (uint32_t)i,
			.n = n,
		};
		rc = pthread_create(&th[i], NULL, worker, &t[i]);
		CHECK(rc == 0, "%s: pthread_create: %s", who, strerror(rc));
		if (rc)
			abort(); /* the others would wait at the barrier forever */
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);

	for (int i = 0; i < THREADS; i++) {
		CHECK(t[i].failed == 0 && t[i].wrong == 0,
		      "%s: thread %d: %ld failed, %ld wrong returns; first: %s", who, i,
		      t[i].failed, t[i].wrong, t[i].err);
		CHECK(t[i].runs >= n, "%s: thread %d ran %ld", who, i, t[i].runs);
	}
	if (kind == PROG_PARSER)
		check_parser(who, maps[0], t);
	else
		check_percpu(who, maps[0], maps[1], t);
out:
	for (int i = 0; i < nvm; i++)
		visor_vm_destroy(vms[i]);
	visor_obj_maps_destroy(maps, nmaps);
}

int main(void)
{
	static const struct {
		const char *file;
		enum prog_kind kind;
	} objs[] = {
		{PROGS_DIR "xdp_parser.bpf.o", PROG_PARSER},
		{PROGS_DIR "percpu.bpf.o", PROG_PERCPU},
	};
	long n = (long)(20000 * test_scale());
	bool jit = visor_vm_jit_supported();
	char err[256];

	if (n < 100)
		n = 100;
	make_packets();
	/* One slot per thread even on a machine with fewer CPUs. */
	if (visor_map_possible_cpus() < THREADS)
		CHECK(visor_map_set_possible_cpus(THREADS) == 0, "possible cpus");
	for (size_t o = 0; o < sizeof(objs) / sizeof(objs[0]); o++) {
		struct visor_obj *obj = visor_obj_open_file(objs[o].file, NULL, err, sizeof(err));
		CHECK(obj != NULL, "open %s: %s", objs[o].file, err);
		if (!obj)
			continue;
		for (int mode = VM_SHARED; mode <= VM_PER_THREAD; mode++) {
			run_case(obj, objs[o].kind, mode, VISOR_ENGINE_INTERP, n);
			if (jit) {
				run_case(obj, objs[o].kind, mode, VISOR_ENGINE_JIT, n);
				run_case(obj, objs[o].kind, mode, -1, n);
			}
		}
		visor_obj_close(obj);
	}
	if (!jit)
		printf("note: no JIT on this machine, interpreter only\n");
	return test_summary("test_runtime_threads");
}
