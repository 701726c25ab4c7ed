/* Differential runs of one program of a compiled object on visor's
 * interpreter, visor's JIT and the kernel (see objdiff.h). Each engine runs
 * every case on a fresh load and records what it saw (results, ring buffer
 * samples per case, final map contents); the records are then compared with
 * the interpreter's, so a message names the case, both engines, the map and
 * the key. */
#define _GNU_SOURCE
#include "objdiff.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <visor/maps.h>
#include <visor/object.h>
#include <visor/visor.h>

#include "kernel_run.h"
#include "testutil.h"

#define MAX_DIFFS_PER_MAP 8 /* mismatching keys reported per map, then a count */

/* ---- Small containers -------------------------------------------------- */

struct blob {
	uint8_t *p;
	size_t len, cap;
};

static void blob_put(struct blob *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			CHECK(0, "objdiff: out of memory");
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void hex(const void *data, size_t n, char *out, size_t outlen)
{
	const uint8_t *p = data;
	size_t show = n > 32 ? 32 : n, o = 0;
	out[0] = 0;
	for (size_t i = 0; i < show && o + 3 < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%02x", p[i]);
	if (show < n && o + 4 < outlen)
		snprintf(out + o, outlen - o, "...");
}

/* All (key, value) pairs of one map, sorted by key. */
struct map_dump {
	bool compared;
	uint32_t key_size, value_size; /* value_size: as user space sees it (all CPUs) */
	size_t count;
	uint8_t *entries; /* count x (key_size + value_size) */
};

/* What one engine saw. */
struct engine_run {
	const char *name;
	bool ran;
	struct objdiff_result *res; /* one per case */
	char (*msgs)[160];          /* per case: visor's message when the run failed */
	struct blob *samples;       /* per case: {u32 map, u32 size, bytes}... */
	struct map_dump *dumps;     /* one per map definition of the object */
	size_t ndumps;
};

static void engine_run_free(struct engine_run *r, size_t ncases)
{
	if (r->samples)
		for (size_t i = 0; i < ncases; i++)
			free(r->samples[i].p);
	if (r->dumps)
		for (size_t i = 0; i < r->ndumps; i++)
			free(r->dumps[i].entries);
	free(r->res);
	free(r->msgs);
	free(r->samples);
	free(r->dumps);
}

static bool engine_run_alloc(struct engine_run *r, const char *name, size_t ncases, size_t nmaps)
{
	*r = (struct engine_run){.name = name, .ndumps = nmaps};
	r->res = calloc(ncases ? ncases : 1, sizeof(*r->res));
	r->msgs = calloc(ncases ? ncases : 1, sizeof(*r->msgs));
	r->samples = calloc(ncases ? ncases : 1, sizeof(*r->samples));
	r->dumps = calloc(nmaps ? nmaps : 1, sizeof(*r->dumps));
	return r->res && r->msgs && r->samples && r->dumps;
}

/* ---- What is compared, and how programs are run ------------------------ */

static bool ignored(const struct objdiff *d, const char *map)
{
	for (const char *const *p = d->ignore_maps; p && *p; p++)
		if (!strcmp(*p, map))
			return true;
	return false;
}

/* Maps whose contents user space can walk with get-next-key; prog arrays,
 * maps of maps, ring buffers, perf event arrays, queues are not compared. */
static bool map_content_comparable(const struct objdiff *d, const struct visor_obj_map_def *def)
{
	if (def->origin == VISOR_OBJ_MAP_INNER || ignored(d, def->name))
		return false;
	switch (def->type) {
	case VISOR_MAP_TYPE_HASH:
	case VISOR_MAP_TYPE_ARRAY:
	case VISOR_MAP_TYPE_PERCPU_HASH:
	case VISOR_MAP_TYPE_PERCPU_ARRAY:
	case VISOR_MAP_TYPE_LRU_HASH:
	case VISOR_MAP_TYPE_LRU_PERCPU_HASH:
	case VISOR_MAP_TYPE_LPM_TRIE:
		return true;
	default:
		return false;
	}
}

static bool map_percpu(uint32_t type)
{
	return type == VISOR_MAP_TYPE_PERCPU_HASH || type == VISOR_MAP_TYPE_PERCPU_ARRAY ||
	       type == VISOR_MAP_TYPE_LRU_PERCPU_HASH;
}

/* Programs BPF_PROG_TEST_RUN feeds a packet (data_in / data_out, repeat);
 * the others (raw_tp, syscall ...) get only ctx_in. */
static bool type_has_packet(uint32_t type)
{
	switch (type) {
	case VISOR_PROG_TYPE_SOCKET_FILTER:
	case VISOR_PROG_TYPE_SCHED_CLS:
	case VISOR_PROG_TYPE_SCHED_ACT:
	case VISOR_PROG_TYPE_XDP:
	case VISOR_PROG_TYPE_CGROUP_SKB:
	case VISOR_PROG_TYPE_LWT_IN:
	case VISOR_PROG_TYPE_LWT_OUT:
	case VISOR_PROG_TYPE_LWT_XMIT:
		return true;
	default:
		return false;
	}
}

/* skb programs always hand back their __sk_buff; XDP only when given an
 * xdp_md (the kernel then returns it). */
static bool wants_ctx_out(uint32_t type, const struct objdiff_case *c)
{
	if (type == VISOR_PROG_TYPE_SOCKET_FILTER || type == VISOR_PROG_TYPE_SCHED_CLS ||
	    type == VISOR_PROG_TYPE_SCHED_ACT)
		return true;
	return type == VISOR_PROG_TYPE_XDP && c->ctx_len;
}

/* The user-space value of an update: per-CPU maps get the one value given
 * on every CPU, each slot rounded up to 8 bytes as bpf() wants. */
static uint8_t *update_value(const struct visor_obj_map_def *def, const void *value,
			     uint32_t ncpus, size_t *len)
{
	size_t slot = map_percpu(def->type) ? (def->value_size + 7u) & ~7u : def->value_size;
	uint32_t n = map_percpu(def->type) ? ncpus : 1;
	uint8_t *buf = calloc(n, slot ? slot : 1);
	if (!buf)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		memcpy(buf + i * slot, value, def->value_size);
	*len = n * slot;
	return buf;
}

static int sort_key_size;
static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, (size_t)sort_key_size);
}

static void dump_sort(struct map_dump *m)
{
	sort_key_size = (int)m->key_size;
	if (m->count > 1)
		qsort(m->entries, m->count, m->key_size + m->value_size, cmp_key);
}

struct sample_sink {
	struct blob *blob;
	uint32_t map;
};

static int record_sample(void *ctx, void *data, size_t size)
{
	struct sample_sink *s = ctx;
	uint32_t hdr[2] = {s->map, (uint32_t)size};
	blob_put(s->blob, hdr, sizeof(hdr));
	blob_put(s->blob, data, size);
	return 0;
}

/* ---- visor ---------------------------------------------------------------- */

static int visor_apply_updates(const struct objdiff *d, const struct visor_obj *obj,
			       struct visor_map *const *maps)
{
	for (size_t i = 0; i < d->nupdates; i++) {
		const struct objdiff_update *u = &d->updates[i];
		int idx = visor_obj_find_map(obj, u->map);
		CHECK(idx >= 0, "objdiff %s: update: no map '%s'", d->prog, u->map);
		if (idx < 0)
			return -ENOENT;
		const struct visor_obj_map_def *def = visor_obj_map_def_at(obj, (size_t)idx);
		size_t len;
		uint8_t *val = update_value(def, u->value, visor_map_nr_cpus(maps[idx]), &len);
		int rc = val ? visor_map_update(maps[idx], u->key, val, VISOR_ANY) : -ENOMEM;
		free(val);
		CHECK(rc == 0, "objdiff %s: visor update of '%s': %d %s", d->prog, u->map, rc,
		      visor_map_errmsg(maps[idx]));
		if (rc)
			return rc;
	}
	return 0;
}

/* The visor side of loading: the whole object in one call (every program,
 * so prog arrays reach their tail-call targets; all compiled for the JIT),
 * then the updates. */
static int visor_load(const struct objdiff *d, const struct visor_obj *obj, int engine,
		      struct visor_obj_vm **ovm, struct visor_map *const **maps, size_t *nmaps,
		      struct visor_vm **vm, char *err, size_t errlen)
{
	if (!visor_obj_find_prog(obj, d->prog)) {
		snprintf(err, errlen, "no program '%s'", d->prog);
		return -ENOENT;
	}
	VISOR_OPTS(visor_obj_vm_opts, lo, .jit = engine == VISOR_ENGINE_JIT);
	*ovm = visor_obj_vm_load(obj, &lo, err, errlen);
	if (!*ovm)
		return -errno;
	*maps = visor_obj_vm_maps(*ovm, nmaps);
	const char *why;
	int rc = visor_obj_vm_prog_status(*ovm, d->prog, &why);
	if (rc) {
		snprintf(err, errlen, "%s", why);
		return rc;
	}
	*vm = visor_obj_vm_prog(*ovm, d->prog);
	if ((rc = visor_apply_updates(d, obj, *maps)))
		snprintf(err, errlen, "updates failed");
	return rc;
}

static void visor_dump(const struct visor_obj *obj, struct visor_map *const *maps,
		       const struct objdiff *d, struct engine_run *r)
{
	for (size_t i = 0; i < r->ndumps; i++) {
		const struct visor_obj_map_def *def = visor_obj_map_def_at(obj, i);
		struct map_dump *m = &r->dumps[i];
		if (!map_content_comparable(d, def))
			continue;
		m->compared = true;
		m->key_size = visor_map_key_size(maps[i]);
		m->value_size = (uint32_t)visor_map_user_value_size(maps[i]);
		size_t esz = m->key_size + m->value_size, max = visor_map_max_entries(maps[i]);
		m->entries = malloc((max + 1) * esz);
		uint8_t *prev = NULL;
		while (m->entries && m->count <= max) {
			uint8_t *e = m->entries + m->count * esz;
			if (visor_map_get_next_key(maps[i], prev, e))
				break;
			int rc = visor_map_lookup(maps[i], e, e + m->key_size);
			CHECK(rc == 0, "objdiff %s: %s: lookup of a key get_next_key gave in '%s': %d",
			      d->prog, r->name, def->name, rc);
			prev = e;
			m->count++;
		}
		CHECK(m->count <= max, "objdiff %s: %s: '%s' iterates past max_entries", d->prog,
		      r->name, def->name);
		dump_sort(m);
	}
}

static void visor_run(const struct objdiff *d, const struct objdiff_case *cases, size_t n,
		      int engine, struct engine_run *r)
{
	char err[512] = "";
	struct visor_obj *obj = visor_obj_open_file(d->path, NULL, err, sizeof(err));
	CHECK(obj != NULL, "objdiff: open %s: %s", d->path, err);
	if (!obj)
		return;
	struct visor_obj_vm *ovm = NULL;
	struct visor_map *const *maps = NULL;
	size_t nmaps = 0;
	struct visor_vm *vm = NULL;
	int rc = visor_load(d, obj, engine, &ovm, &maps, &nmaps, &vm, err, sizeof(err));
	CHECK(rc == 0, "objdiff %s (%s): visor load: %s", d->prog, r->name, err);
	uint32_t type = rc ? 0 : visor_obj_prog_type(visor_obj_find_prog(obj, d->prog));
	for (size_t i = 0; i < n && !rc; i++) {
		const struct objdiff_case *c = &cases[i];
		struct objdiff_result *res = &r->res[i];
		bool packet = type_has_packet(type), ctx_out = wants_ctx_out(type, c);
		char *msg = r->msgs[i];
		VISOR_OPTS(visor_prog_test_run_opts, o, .data_in = packet ? c->data : NULL,
			   .data_size_in = packet ? c->data_len : 0,
			   .data_out = packet ? res->data : NULL,
			   .data_size_out = packet ? OBJDIFF_MAX_DATA : 0, .ctx_in = c->ctx,
			   .ctx_size_in = c->ctx_len, .repeat = packet ? c->repeat : 0,
			   .engine = engine, .cpu = 0, .errbuf = msg, .errbuf_len = sizeof(r->msgs[i]),
			   .ctx_out = ctx_out || !packet ? res->ctx : NULL,
			   .ctx_size_out = ctx_out || !packet ? OBJDIFF_MAX_CTX : 0);
		res->err = visor_prog_test_run(vm, &o);
		if (!res->err) {
			res->retval = o.retval;
			res->data_len = packet ? o.data_size_out : 0;
			res->ctx_len = ctx_out || !packet ? o.ctx_size_out : 0;
		}
		for (size_t m = 0; m < nmaps; m++) {
			if (visor_obj_map_def_at(obj, m)->type != VISOR_MAP_TYPE_RINGBUF)
				continue;
			struct sample_sink s = {.blob = &r->samples[i], .map = (uint32_t)m};
			CHECK(visor_ringbuf_consume(maps[m], record_sample, &s) >= 0,
			      "objdiff %s: %s: ring buffer consume", d->prog, r->name);
		}
	}
	if (!rc) {
		if (engine == VISOR_ENGINE_INTERP && d->check_maps)
			d->check_maps(d->check_arg, obj, maps);
		visor_dump(obj, maps, d, r);
		r->ran = true;
	}
	visor_obj_vm_destroy(ovm);
	visor_obj_close(obj);
}

/* ---- kernel ------------------------------------------------------------- */

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

static int libbpf_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* Global data updates become initial values (the kernel freezes .rodata at
 * load); the others are applied after the load. */
static int kernel_open_load(const struct objdiff *d, const struct visor_obj *vobj,
			    bool only_prog, struct bpf_object **out)
{
	struct bpf_object *bo = bpf_object__open_file(d->path, NULL);
	if (!bo)
		return -errno;
	struct bpf_program *p;
	if (only_prog)
		bpf_object__for_each_program(p, bo)
			bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), d->prog));
	for (size_t i = 0; i < d->nupdates; i++) {
		const struct objdiff_update *u = &d->updates[i];
		int idx = visor_obj_find_map(vobj, u->map);
		const struct visor_obj_map_def *def = idx >= 0 ? visor_obj_map_def_at(vobj, (size_t)idx) : NULL;
		if (!def || def->origin != VISOR_OBJ_MAP_DATA)
			continue;
		struct bpf_map *m = bpf_object__find_map_by_name(bo, u->map);
		int rc = m ? bpf_map__set_initial_value(m, u->value, def->value_size) : -ENOENT;
		CHECK(rc == 0 && *(const uint32_t *)u->key == 0,
		      "objdiff %s: kernel: initial value of '%s' (key must be 0): %d", d->prog, u->map, rc);
	}
	int rc = bpf_object__load(bo);
	if (rc) {
		bpf_object__close(bo);
		return rc;
	}
	*out = bo;
	return 0;
}

static void kernel_dump(const struct visor_obj *vobj, struct bpf_object *bo,
			const struct objdiff *d, struct engine_run *r)
{
	int ncpus = libbpf_num_possible_cpus();
	for (size_t i = 0; i < r->ndumps; i++) {
		const struct visor_obj_map_def *def = visor_obj_map_def_at(vobj, i);
		struct map_dump *m = &r->dumps[i];
		if (!map_content_comparable(d, def))
			continue;
		struct bpf_map *bm = bpf_object__find_map_by_name(bo, def->name);
		CHECK(bm != NULL, "objdiff %s: kernel has no map '%s'", d->prog, def->name);
		if (!bm)
			continue;
		int fd = bpf_map__fd(bm);
		m->compared = true;
		m->key_size = bpf_map__key_size(bm);
		m->value_size = bpf_map__value_size(bm);
		if (map_percpu(def->type))
			m->value_size = ((m->value_size + 7u) & ~7u) * (uint32_t)ncpus;
		size_t esz = m->key_size + m->value_size, max = bpf_map__max_entries(bm);
		m->entries = malloc((max + 1) * esz);
		uint8_t *prev = NULL;
		while (m->entries && m->count <= max) {
			uint8_t *e = m->entries + m->count * esz;
			if (bpf_map_get_next_key(fd, prev, e))
				break;
			int rc = bpf_map_lookup_elem(fd, e, e + m->key_size);
			CHECK(rc == 0, "objdiff %s: kernel lookup in '%s': %d", d->prog, def->name, rc);
			prev = e;
			m->count++;
		}
		dump_sort(m);
	}
}

/* Returns false (after one SKIP line) when the kernel cannot be used. */
static bool kernel_run(const struct objdiff *d, const struct objdiff_case *cases, size_t n,
		       const struct visor_obj *vobj, struct engine_run *r)
{
	static bool skip_reported;
	char why[256];
	if (!kernel_available(why, sizeof(why))) {
		if (!skip_reported)
			printf("SKIP kernel comparison: %s\n", why);
		skip_reported = true;
		return false;
	}
	/* The whole object first (as libbpf loads it; tail calls need the
	 * other programs); if some program of it does not load in this
	 * kernel, only the one under test. */
	struct bpf_object *bo = NULL;
	libbpf_print_fn_t old = libbpf_set_print(libbpf_quiet);
	int rc = kernel_open_load(d, vobj, false, &bo);
	if (!rc) {
		/* SEC("?...") programs are not loaded by default. */
		struct bpf_program *p = bpf_object__find_program_by_name(bo, d->prog);
		if (!p || bpf_program__fd(p) < 0) {
			bpf_object__close(bo);
			bo = NULL;
			rc = -ENOENT;
		}
	}
	libbpf_set_print(libbpf_warnings);
	if (rc)
		rc = kernel_open_load(d, vobj, true, &bo);
	libbpf_set_print(old);
	CHECK(rc == 0, "objdiff %s: kernel load of %s: %d %s", d->prog, d->path, rc, strerror(-rc));
	if (rc)
		return true;
	struct bpf_program *prog = bpf_object__find_program_by_name(bo, d->prog);
	CHECK(prog != NULL, "objdiff: kernel: no program '%s'", d->prog);
	size_t nmaps = r->ndumps;
	struct ring_buffer **rbs = calloc(nmaps ? nmaps : 1, sizeof(*rbs));
	struct sample_sink *sinks = calloc(nmaps ? nmaps : 1, sizeof(*sinks));
	for (size_t i = 0; i < d->nupdates && prog; i++) {
		const struct objdiff_update *u = &d->updates[i];
		int idx = visor_obj_find_map(vobj, u->map);
		const struct visor_obj_map_def *def = idx >= 0 ? visor_obj_map_def_at(vobj, (size_t)idx) : NULL;
		if (!def || def->origin == VISOR_OBJ_MAP_DATA)
			continue;
		struct bpf_map *m = bpf_object__find_map_by_name(bo, u->map);
		size_t len;
		uint8_t *val = update_value(def, u->value, (uint32_t)libbpf_num_possible_cpus(), &len);
		int urc = m && val ? bpf_map_update_elem(bpf_map__fd(m), u->key, val, BPF_ANY) : -ENOENT;
		free(val);
		CHECK(urc == 0, "objdiff %s: kernel update of '%s': %d", d->prog, u->map, urc);
	}
	for (size_t i = 0; i < nmaps && rbs && sinks; i++) {
		const struct visor_obj_map_def *def = visor_obj_map_def_at(vobj, i);
		if (def->type != VISOR_MAP_TYPE_RINGBUF)
			continue;
		struct bpf_map *m = bpf_object__find_map_by_name(bo, def->name);
		sinks[i].map = (uint32_t)i;
		rbs[i] = m ? ring_buffer__new(bpf_map__fd(m), record_sample, &sinks[i], NULL) : NULL;
		CHECK(rbs[i] != NULL, "objdiff %s: kernel ring buffer '%s'", d->prog, def->name);
	}
	uint32_t type = prog ? bpf_program__type(prog) : 0;
	for (size_t i = 0; i < n && prog; i++) {
		const struct objdiff_case *c = &cases[i];
		struct objdiff_result *res = &r->res[i];
		bool packet = type_has_packet(type), ctx_out = wants_ctx_out(type, c);
		/* A syscall program's context is written back into ctx_in. */
		uint8_t ctx[OBJDIFF_MAX_CTX] = {0};
		uint32_t ctx_len = c->ctx_len <= sizeof(ctx) ? c->ctx_len : sizeof(ctx);
		if (c->ctx)
			memcpy(ctx, c->ctx, ctx_len);
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = packet ? c->data : NULL,
			    .data_size_in = packet ? c->data_len : 0,
			    .data_out = packet ? res->data : NULL,
			    .data_size_out = packet ? OBJDIFF_MAX_DATA : 0,
			    .ctx_in = c->ctx ? ctx : NULL, .ctx_size_in = c->ctx ? ctx_len : 0,
			    .ctx_out = ctx_out ? res->ctx : NULL,
			    .ctx_size_out = ctx_out ? OBJDIFF_MAX_CTX : 0,
			    .repeat = packet ? c->repeat : 0);
		res->err = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
		if (res->err)
			res->err = -errno;
		else {
			res->retval = o.retval;
			res->data_len = packet ? o.data_size_out : 0;
			if (ctx_out)
				res->ctx_len = o.ctx_size_out;
			else if (type == VISOR_PROG_TYPE_SYSCALL && c->ctx) {
				memcpy(res->ctx, ctx, ctx_len);
				res->ctx_len = ctx_len;
			}
		}
		for (size_t m = 0; m < nmaps && rbs && sinks; m++) {
			if (!rbs[m])
				continue;
			sinks[m].blob = &r->samples[i];
			CHECK(ring_buffer__consume(rbs[m]) >= 0, "objdiff %s: kernel ring buffer consume",
			      d->prog);
		}
	}
	for (size_t i = 0; i < nmaps && rbs; i++)
		ring_buffer__free(rbs[i]);
	free(rbs);
	free(sinks);
	if (prog) {
		kernel_dump(vobj, bo, d, r);
		r->ran = true;
	}
	bpf_object__close(bo);
	return true;
}

/* ---- Comparisons -------------------------------------------------------- */

static void compare_result(const struct objdiff *d, const struct objdiff_case *cases, size_t i,
			   const struct engine_run *a, const struct engine_run *b)
{
	const struct objdiff_case *c = &cases[i];
	const struct objdiff_result *ra = &a->res[i], *rb = &b->res[i];
	char ha[80], hb[80];
	CHECK(ra->err == rb->err, "objdiff %s case '%s': err %s %d %s, %s %d %s", d->prog, c->name,
	      a->name, ra->err, a->msgs[i], b->name, rb->err,
	      b->msgs[i]);
	if (ra->err || rb->err)
		return;
	CHECK(ra->retval == rb->retval, "objdiff %s case '%s': retval %s %u, %s %u", d->prog,
	      c->name, a->name, ra->retval, b->name, rb->retval);
	if (!d->ignore_data_out) {
		uint32_t la = ra->data_len < OBJDIFF_MAX_DATA ? ra->data_len : OBJDIFF_MAX_DATA;
		uint32_t lb = rb->data_len < OBJDIFF_MAX_DATA ? rb->data_len : OBJDIFF_MAX_DATA;
		size_t at = 0;
		while (at < la && at < lb && ra->data[at] == rb->data[at])
			at++;
		hex(ra->data + at, la - at, ha, sizeof(ha));
		hex(rb->data + at, lb - at, hb, sizeof(hb));
		CHECK(ra->data_len == rb->data_len && at == la,
		      "objdiff %s case '%s': data_out %s %u bytes, %s %u bytes, differ at %zu: %s / %s",
		      d->prog, c->name, a->name, ra->data_len, b->name, rb->data_len, at, ha, hb);
	}
	uint32_t la = ra->ctx_len < OBJDIFF_MAX_CTX ? ra->ctx_len : OBJDIFF_MAX_CTX;
	size_t at = 0;
	while (at < la && ra->ctx[at] == rb->ctx[at])
		at++;
	hex(ra->ctx + at, la - at, ha, sizeof(ha));
	hex(rb->ctx + at, la - at, hb, sizeof(hb));
	CHECK(ra->ctx_len == rb->ctx_len && at == la,
	      "objdiff %s case '%s': ctx_out %s %u bytes, %s %u bytes, differ at offset %zu: %s / %s",
	      d->prog, c->name, a->name, ra->ctx_len, b->name, rb->ctx_len, at, ha, hb);
}

/* Decodes the next {map, size, bytes} record at *off; false at the end. */
static bool next_sample(const struct blob *b, size_t *off, uint32_t *map, const uint8_t **data,
			uint32_t *size)
{
	uint32_t hdr[2];
	if (*off + sizeof(hdr) > b->len)
		return false;
	memcpy(hdr, b->p + *off, sizeof(hdr));
	*map = hdr[0];
	*size = hdr[1];
	*data = b->p + *off + sizeof(hdr);
	*off += sizeof(hdr) + hdr[1];
	return true;
}

static void compare_samples(const struct objdiff *d, const struct objdiff_case *c,
			    const struct visor_obj *obj, const struct engine_run *a,
			    const struct blob *sa, const struct engine_run *b, const struct blob *sb)
{
	size_t oa = 0, ob = 0;
	for (unsigned k = 0;; k++) {
		uint32_t ma = 0, mb = 0, za = 0, zb = 0;
		const uint8_t *da = NULL, *db = NULL;
		bool ha = next_sample(sa, &oa, &ma, &da, &za), hb = next_sample(sb, &ob, &mb, &db, &zb);
		if (!ha && !hb)
			return;
		const char *mname = visor_obj_map_def_at(obj, ha ? ma : mb)->name;
		char xa[80] = "-", xb[80] = "-";
		if (ha)
			hex(da, za, xa, sizeof(xa));
		if (hb)
			hex(db, zb, xb, sizeof(xb));
		bool same = ha && hb && ma == mb && za == zb && !memcmp(da, db, za);
		CHECK(same, "objdiff %s case '%s': ring buffer '%s' sample %u: %s %s (%u bytes), %s %s (%u bytes)",
		      d->prog, c->name, mname, k, a->name, ha ? xa : "none", za, b->name,
		      hb ? xb : "none", zb);
		if (!same)
			return;
	}
}

static void compare_dumps(const struct objdiff *d, const char *last_case,
			  const struct visor_obj *obj, const struct engine_run *a,
			  const struct engine_run *b)
{
	for (size_t i = 0; i < a->ndumps; i++) {
		const struct map_dump *ma = &a->dumps[i], *mb = &b->dumps[i];
		const char *name = visor_obj_map_def_at(obj, i)->name;
		if (!ma->compared || !mb->compared)
			continue;
		if (ma->key_size != mb->key_size || ma->value_size != mb->value_size) {
			CHECK(0, "objdiff %s: map '%s': %s key/value %u/%u bytes, %s %u/%u", d->prog,
			      name, a->name, ma->key_size, ma->value_size, b->name, mb->key_size,
			      mb->value_size);
			continue;
		}
		size_t ks = ma->key_size, vs = ma->value_size, esz = ks + vs;
		size_t ia = 0, ib = 0, diffs = 0;
		while (ia < ma->count || ib < mb->count) {
			const uint8_t *ea = ia < ma->count ? ma->entries + ia * esz : NULL;
			const uint8_t *eb = ib < mb->count ? mb->entries + ib * esz : NULL;
			int c = !ea ? 1 : !eb ? -1 : memcmp(ea, eb, ks);
			const uint8_t *key = c <= 0 ? ea : eb;
			char kx[80], va[80] = "", vb[80] = "";
			hex(key, ks, kx, sizeof(kx));
			bool ok = c == 0 && !memcmp(ea + ks, eb + ks, vs);
			if (!ok && ++diffs <= MAX_DIFFS_PER_MAP) {
				if (c <= 0)
					hex(ea + ks, vs, va, sizeof(va));
				if (c >= 0)
					hex(eb + ks, vs, vb, sizeof(vb));
				CHECK(0, "objdiff %s after case '%s': map '%s' key %s: %s %s, %s %s", d->prog,
				      last_case, name, kx, a->name, c <= 0 ? va : "missing", b->name,
				      c >= 0 ? vb : "missing");
			}
			ia += c <= 0;
			ib += c >= 0;
		}
		CHECK(diffs <= MAX_DIFFS_PER_MAP, "objdiff %s: map '%s': %zu keys differ in all",
		      d->prog, name, diffs);
		test_checks++; /* the map as a whole was compared */
	}
}

static void compare_runs(const struct objdiff *d, const struct objdiff_case *cases, size_t n,
			 const struct visor_obj *obj, const struct engine_run *ref,
			 const struct engine_run *other)
{
	for (size_t i = 0; i < n; i++) {
		compare_result(d, cases, i, ref, other);
		compare_samples(d, &cases[i], obj, ref, &ref->samples[i], other,
				&other->samples[i]);
	}
	compare_dumps(d, n ? cases[n - 1].name : "(none)", obj, ref, other);
}

/* ---- Entry point -------------------------------------------------------- */

struct visor_map *objdiff_map(const struct visor_obj *obj, struct visor_map *const *maps,
			      const char *name)
{
	int idx = visor_obj_find_map(obj, name);
	return idx >= 0 ? maps[idx] : NULL;
}

int objdiff_check(const struct objdiff *d, const struct objdiff_case *cases, size_t n,
		  struct objdiff_result *interp_results)
{
	char err[512] = "";
	/* The object model gives the map table both sides are indexed by. */
	struct visor_obj *obj = visor_obj_open_file(d->path, NULL, err, sizeof(err));
	CHECK(obj != NULL, "objdiff: open %s: %s", d->path, err);
	if (!obj)
		return -1;
	size_t nmaps = visor_obj_map_count(obj);

	/* Per-CPU slots must mean the same CPUs on both sides: as many as the
	 * kernel's possible CPUs, and this thread on CPU 0 = visor slot 0. */
	uint32_t old_cpus = visor_map_possible_cpus();
	int kcpus = libbpf_num_possible_cpus();
	if (kcpus > 0 && kcpus <= VISOR_MAP_MAX_CPUS)
		visor_map_set_possible_cpus((uint32_t)kcpus);
	cpu_set_t old_mask, cpu0;
	bool pinned = sched_getaffinity(0, sizeof(old_mask), &old_mask) == 0;
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	CHECK(sched_setaffinity(0, sizeof(cpu0), &cpu0) == 0, "objdiff: pin to CPU 0: %s",
	      strerror(errno));
	visor_map_set_cpu(0);

	struct engine_run interp = {0}, jit = {0}, kern = {0};
	bool ok = engine_run_alloc(&interp, "interp", n, nmaps) &&
		  engine_run_alloc(&jit, "jit", n, nmaps) && engine_run_alloc(&kern, "kernel", n, nmaps);
	CHECK(ok, "objdiff: out of memory");
	int engines = -1;
	if (ok) {
		visor_run(d, cases, n, VISOR_ENGINE_INTERP, &interp);
		if (interp.ran) {
			visor_run(d, cases, n, VISOR_ENGINE_JIT, &jit);
			engines = 1;
			if (jit.ran) {
				compare_runs(d, cases, n, obj, &interp, &jit);
				engines++;
			}
			if (kernel_run(d, cases, n, obj, &kern) && kern.ran) {
				compare_runs(d, cases, n, obj, &kern, &interp);
				engines++;
			}
			if (interp_results)
				memcpy(interp_results, interp.res, n * sizeof(*interp_results));
		}
	}
	engine_run_free(&interp, n);
	engine_run_free(&jit, n);
	engine_run_free(&kern, n);
	if (pinned)
		sched_setaffinity(0, sizeof(old_mask), &old_mask);
	visor_map_set_possible_cpus(old_cpus);
	visor_obj_close(obj);
	return engines;
}
