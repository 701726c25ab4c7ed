/* Tables: an object's maps, typed through BTF, the same on both backends.
 * Elements go through visor_map_* (on the kernel a proxy over the map's
 * fd); keys and values are formatted through BTF: on the kernel through the
 * map's BTF as the kernel holds it (visor_kernel_map_format_*), on visor's
 * engine through the object's own BTF with the same formatter
 * (visor_btf_text), so the text is the same. Also the map dump `visor run`
 * prints when a run ends. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <visor/kernel.h>
#include <visor/maps.h>
#include <visor/object.h>

#include "api_internal.h"

/* ---- Formatting through BTF ------------------------------------------------ */

/* VM: data as type_id of the object's BTF into buf; the whole length (as
 * snprintf) or -ENODATA. */
static int vm_format(struct visor_bpf *b, uint32_t type_id, const void *data, size_t size,
		     char *buf, size_t len)
{
	const struct btf *btf = b->obj ? visor_obj_btf(b->obj) : NULL;
	if (!btf || !type_id)
		return -ENODATA;
	if (!b->btf_text) {
		b->btf_text = visor_btf_text_new(btf);
		if (!b->btf_text)
			return -ENODATA;
	}
	int n = visor_btf_text_format(b->btf_text, type_id, data, size, buf, len);
	return n < 0 ? -ENODATA : n;
}

/* A key (value = 0) or one CPU's value through BTF: the length, or -ENODATA. */
static int btf_format(struct visor_bpf_table *t, int value, const void *data, char *buf,
		      size_t len)
{
	if (t->kmap) {
		const struct visor_kernel_map_info *in = visor_kernel_map_info(t->kmap);
		if (!in->btf_id || !(value ? in->btf_value_type_id : in->btf_key_type_id))
			return -ENODATA;
		int n = value ? visor_kernel_map_format_value(t->kmap, data, buf, len)
			      : visor_kernel_map_format_key(t->kmap, data, buf, len);
		return n < 0 ? -ENODATA : n;
	}
	return vm_format(t->b, value ? t->btf_value_id : t->btf_key_id, data,
			 value ? t->value_size : t->key_size, buf, len);
}

static int hex_format(const void *data, size_t size, char *buf, size_t len)
{
	const uint8_t *p = data;
	size_t pos = 0;
	for (size_t i = 0; i < size; i++) {
		size_t room = pos < len ? len - pos : 0;
		pos += (size_t)snprintf(room ? buf + pos : NULL, room, "%s%02x", i ? " " : "", p[i]);
	}
	if (!size && len)
		buf[0] = 0;
	return (int)pos;
}

int visor_bpf_table_format_key(struct visor_bpf_table *t, const void *key, char *buf,
			       size_t len)
{
	if (!t || !key || (!buf && len))
		return -EINVAL;
	int n = btf_format(t, 0, key, buf, len);
	return n >= 0 ? n : hex_format(key, t->key_size, buf, len);
}

int visor_bpf_table_format_value(struct visor_bpf_table *t, const void *value, char *buf,
				 size_t len)
{
	if (!t || !value || (!buf && len))
		return -EINVAL;
	int n = btf_format(t, 1, value, buf, len);
	return n >= 0 ? n : hex_format(value, t->value_size, buf, len);
}

/* "struct IPKey" from "(struct IPKey){...}", the formatting of zeros. */
static void type_name(struct visor_bpf_table *t, int value, char *name, size_t len)
{
	size_t size = value ? t->value_size : t->key_size;
	uint8_t *zeros = calloc(1, size ? size : 1);
	char text[256];
	name[0] = 0;
	if (zeros && btf_format(t, value, zeros, text, sizeof(text)) > 0 && text[0] == '(') {
		const char *close = strchr(text, ')');
		if (close)
			snprintf(name, len, "%.*s", (int)(close - text - 1), text + 1);
	}
	free(zeros);
}

/* ---- The table object ------------------------------------------------------- */

static struct visor_bpf_table *table_new(struct visor_bpf *b, const char *name)
{
	struct visor_map *m = visor_loaded_map(b->loaded, name);
	if (!m) {
		api_err(b, -ENOENT, "no table (map) named '%s'", name);
		return NULL;
	}
	struct visor_bpf_table *t = calloc(1, sizeof(*t));
	struct visor_bpf_table **grown = realloc(b->tables, (b->ntables + 1) * sizeof(*grown));
	if (grown)
		b->tables = grown;
	if (!t || !grown || !(t->name = strdup(name))) {
		free(t);
		api_err(b, -ENOMEM, "table '%s': out of memory", name);
		return NULL;
	}
	t->b = b;
	t->map = m;
	t->type = visor_map_type(m);
	t->key_size = visor_map_key_size(m);
	t->value_size = visor_map_value_size(m);
	t->max_entries = visor_map_max_entries(m);
	t->flags = visor_map_flags(m);
	t->nr_cpus = visor_map_nr_cpus(m);
	t->user_value_size = visor_map_user_value_size(m);
	t->stride = t->nr_cpus > 1 ? (t->value_size + 7) / 8 * 8 : t->value_size;
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
	if (k) {
		t->kmap = visor_kernel_obj_map(k, name);
		if (t->kmap)
			t->flags = visor_kernel_map_info(t->kmap)->map_flags;
	} else if (b->obj) {
		int i = visor_obj_find_map(b->obj, name);
		if (i < 0 && strchr(name, '.'))
			i = visor_obj_find_map(b->obj, strchr(name, '.'));
		if (i >= 0) {
			const struct visor_obj_map_def *d = visor_obj_map_def_at(b->obj, (size_t)i);
			t->btf_key_id = d->btf_key_type_id;
			t->btf_value_id = d->btf_value_type_id;
			t->global_data = d->origin == VISOR_OBJ_MAP_DATA;
			t->flags = d->map_flags;
		}
	}
	type_name(t, 0, t->key_type, sizeof(t->key_type));
	type_name(t, 1, t->value_type, sizeof(t->value_type));
	b->tables[b->ntables++] = t;
	return t;
}

struct visor_bpf_table *visor_bpf_table(struct visor_bpf *b, const char *name)
{
	if (!b || !name)
		return NULL;
	for (size_t i = 0; i < b->ntables; i++)
		if (!strcmp(b->tables[i]->name, name))
			return b->tables[i];
	return table_new(b, name);
}

size_t visor_bpf_table_count(const struct visor_bpf *b)
{
	if (!b)
		return 0;
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
	if (k)
		return visor_kernel_obj_map_count(k);
	return b->obj ? visor_obj_map_count(b->obj) : 0;
}

const char *visor_bpf_table_name_at(const struct visor_bpf *b, size_t i)
{
	if (!b || i >= visor_bpf_table_count(b))
		return NULL;
	struct visor_kernel_obj *k = visor_loaded_kernel_obj(b->loaded);
	if (k)
		return visor_kernel_obj_map_name(k, i);
	return visor_obj_map_def_at(b->obj, i)->name;
}

void api_tables_free(struct visor_bpf *b)
{
	for (size_t i = 0; i < b->ntables; i++) {
		free(b->tables[i]->name);
		free(b->tables[i]);
	}
	free(b->tables);
	b->tables = NULL;
	b->ntables = 0;
	visor_btf_text_free(b->btf_text);
	b->btf_text = NULL;
}

const char *visor_bpf_table_name(const struct visor_bpf_table *t) { return t ? t->name : NULL; }
uint32_t visor_bpf_table_type(const struct visor_bpf_table *t) { return t ? t->type : 0; }
uint32_t visor_bpf_table_key_size(const struct visor_bpf_table *t) { return t ? t->key_size : 0; }
uint32_t visor_bpf_table_value_size(const struct visor_bpf_table *t)
{
	return t ? t->value_size : 0;
}
uint32_t visor_bpf_table_nr_cpus(const struct visor_bpf_table *t) { return t ? t->nr_cpus : 0; }
const char *visor_bpf_table_key_type(const struct visor_bpf_table *t)
{
	return t ? t->key_type : "";
}
const char *visor_bpf_table_value_type(const struct visor_bpf_table *t)
{
	return t ? t->value_type : "";
}

/* ---- Elements ------------------------------------------------------------------ */

static int map_err(struct visor_bpf_table *t, int rc, const char *op)
{
	if (rc && rc != -ENOENT)
		api_err(t->b, rc, "table '%s': %s: %s", t->name, op, visor_map_errmsg(t->map));
	return rc;
}

int visor_bpf_table_lookup(struct visor_bpf_table *t, const void *key, void *value)
{
	return t ? map_err(t, visor_map_lookup(t->map, key, value), "lookup") : -EINVAL;
}

int visor_bpf_table_update(struct visor_bpf_table *t, const void *key, const void *value)
{
	return t ? map_err(t, visor_map_update(t->map, key, value, VISOR_ANY), "update") : -EINVAL;
}

int visor_bpf_table_delete(struct visor_bpf_table *t, const void *key)
{
	return t ? map_err(t, visor_map_delete(t->map, key), "delete") : -EINVAL;
}

int visor_bpf_table_next_key(struct visor_bpf_table *t, const void *key, void *next_key)
{
	return t ? map_err(t, visor_map_get_next_key(t->map, key, next_key), "next key") : -EINVAL;
}

static bool is_array(uint32_t type)
{
	return type == VISOR_MAP_TYPE_ARRAY || type == VISOR_MAP_TYPE_PERCPU_ARRAY;
}

static bool keyless(uint32_t type)
{
	return type == VISOR_MAP_TYPE_RINGBUF || type == VISOR_MAP_TYPE_QUEUE ||
	       type == VISOR_MAP_TYPE_STACK || type == VISOR_MAP_TYPE_PERF_EVENT_ARRAY;
}

/* Every key, in the map's order: a malloc'd array of n * key_size bytes. */
static int all_keys(struct visor_bpf_table *t, uint8_t **keys, size_t *n)
{
	size_t cap = 0, ks = t->key_size ? t->key_size : 1;
	*keys = NULL;
	*n = 0;
	uint8_t *k = NULL;
	int rc;
	for (;;) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			k = realloc(*keys, cap * ks);
			if (!k) {
				free(*keys);
				*keys = NULL;
				return api_err(t->b, -ENOMEM, "table '%s': out of memory", t->name);
			}
			*keys = k;
		}
		rc = visor_map_get_next_key(t->map, *n ? *keys + (*n - 1) * ks : NULL, *keys + *n * ks);
		if (rc)
			break;
		if (++*n > (size_t)t->max_entries + 1)
			break; /* a map changing under the walk: enough */
	}
	if (rc == -ENOENT)
		return 0;
	free(*keys);
	*keys = NULL;
	return map_err(t, rc, "next key");
}

int visor_bpf_table_clear(struct visor_bpf_table *t)
{
	if (!t)
		return -EINVAL;
	uint8_t *keys;
	size_t n;
	int rc = all_keys(t, &keys, &n);
	if (rc)
		return rc;
	uint8_t *zeros = is_array(t->type) ? calloc(1, t->user_value_size) : NULL;
	if (is_array(t->type) && !zeros)
		rc = api_err(t->b, -ENOMEM, "table '%s': out of memory", t->name);
	for (size_t i = 0; !rc && i < n; i++) {
		const uint8_t *k = keys + i * t->key_size;
		int r = zeros ? visor_map_update(t->map, k, zeros, VISOR_ANY)
			      : visor_map_delete(t->map, k);
		if (r && r != -ENOENT)
			rc = map_err(t, r, zeros ? "update" : "delete");
	}
	free(zeros);
	free(keys);
	return rc;
}

/* Per-CPU values summed into the first CPU's slot when they are integers. */
static void sum_cpus(struct visor_bpf_table *t, uint8_t *val)
{
	uint32_t vs = t->value_size;
	if (t->nr_cpus <= 1 || (vs != 1 && vs != 2 && vs != 4 && vs != 8))
		return;
	uint64_t sum = 0;
	for (uint32_t c = 0; c < t->nr_cpus; c++) {
		uint64_t v = 0;
		memcpy(&v, val + (size_t)c * t->stride, vs); /* little endian */
		sum += v;
	}
	memcpy(val, &sum, vs);
}

int visor_bpf_table_each(struct visor_bpf_table *t, visor_bpf_table_fn fn, void *ctx)
{
	if (!t || !fn)
		return -EINVAL;
	uint8_t *keys, *val = malloc(t->user_value_size ? t->user_value_size : 1);
	size_t n, visited = 0;
	int rc = val ? all_keys(t, &keys, &n) : api_err(t->b, -ENOMEM, "out of memory");
	if (rc) {
		free(val);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *k = keys + i * t->key_size;
		int r = visor_map_lookup(t->map, k, val);
		if (r == -ENOENT)
			continue; /* deleted meanwhile */
		if (r) {
			rc = map_err(t, r, "lookup");
			break;
		}
		sum_cpus(t, val);
		visited++;
		if (fn(ctx, k, val))
			break;
	}
	free(keys);
	free(val);
	return rc ? rc : (int)visited;
}

/* ---- Printing ----------------------------------------------------------------- */

struct element {
	uint8_t *key, *val;
	uint64_t num; /* the value as an integer, for sorting */
};

struct collect {
	struct visor_bpf_table *t;
	struct element *e;
	size_t n, cap;
	int oom;
};

static int collect_one(void *ctx, const void *key, const void *value)
{
	struct collect *c = ctx;
	struct visor_bpf_table *t = c->t;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct element *e = realloc(c->e, cap * sizeof(*e));
		if (!e)
			return c->oom = 1;
		c->e = e;
		c->cap = cap;
	}
	struct element *e = &c->e[c->n];
	e->key = malloc(t->key_size ? t->key_size : 1);
	e->val = malloc(t->value_size ? t->value_size : 1);
	if (!e->key || !e->val) {
		free(e->key), free(e->val);
		return c->oom = 1;
	}
	memcpy(e->key, key, t->key_size);
	memcpy(e->val, value, t->value_size);
	e->num = 0;
	if (t->value_size <= 8)
		memcpy(&e->num, value, t->value_size);
	c->n++;
	return 0;
}

static int by_value(const void *a, const void *b)
{
	const struct element *x = a, *y = b;
	return x->num < y->num ? -1 : x->num > y->num;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].key), free(c->e[i].val);
	free(c->e);
}

int visor_bpf_table_print(struct visor_bpf_table *t, FILE *out, size_t max)
{
	if (!t || !out)
		return -EINVAL;
	struct collect c = {.t = t};
	int rc = visor_bpf_table_each(t, collect_one, &c);
	if (rc >= 0 && c.oom)
		rc = api_err(t->b, -ENOMEM, "table '%s': out of memory", t->name);
	if (rc < 0) {
		collect_free(&c);
		return rc;
	}
	uint32_t vs = t->value_size;
	if (vs == 1 || vs == 2 || vs == 4 || vs == 8)
		qsort(c.e, c.n, sizeof(*c.e), by_value);
	char kt[512], vt[512];
	size_t from = max && c.n > max ? c.n - max : 0; /* the largest values */
	for (size_t i = from; i < c.n; i++) {
		visor_bpf_table_format_key(t, c.e[i].key, kt, sizeof(kt));
		visor_bpf_table_format_value(t, c.e[i].val, vt, sizeof(vt));
		fprintf(out, "%s -> %s\n", kt, vt);
	}
	collect_free(&c);
	return 0;
}

/* ---- Histograms ------------------------------------------------------------------ */

/* Slots from keys (4 or 8 bytes) and counts (8 bytes, per-CPU summed):
 * 0, or -ERANGE when a key is not below n (not a histogram of that size). */
struct slots {
	uint64_t *vals;
	size_t n;
	uint32_t key_size;
	int out_of_range;
};

static int add_slot(void *ctx, const void *key, const void *value)
{
	struct slots *s = ctx;
	uint64_t k = 0, v;
	memcpy(&k, key, s->key_size);
	memcpy(&v, value, 8);
	if (k >= s->n) {
		s->out_of_range = 1;
		return 1;
	}
	s->vals[k] += v;
	return 0;
}

static int read_slots(struct visor_bpf_table *t, uint64_t *vals, size_t n)
{
	if ((t->key_size != 4 && t->key_size != 8) || t->value_size != 8)
		return api_err(t->b, -EINVAL,
			       "table '%s': a histogram has 4- or 8-byte keys (the slot) and 8-byte values (counts), not %u and %u",
			       t->name, t->key_size, t->value_size);
	memset(vals, 0, n * sizeof(*vals));
	struct slots s = {.vals = vals, .n = n, .key_size = t->key_size};
	int rc = visor_bpf_table_each(t, add_slot, &s);
	if (rc < 0)
		return rc;
	if (s.out_of_range)
		return api_err(t->b, -ERANGE, "table '%s': a key is not a slot below %zu", t->name, n);
	return 0;
}

int visor_bpf_table_print_log2_hist(struct visor_bpf_table *t, const char *val_type,
				    FILE *out)
{
	uint64_t vals[VISOR_BPF_LOG2_SLOTS];
	if (!t || !out)
		return -EINVAL;
	int rc = read_slots(t, vals, VISOR_BPF_LOG2_SLOTS);
	if (!rc)
		visor_print_log2_hist(out, vals, VISOR_BPF_LOG2_SLOTS, val_type ? val_type : "value");
	return rc;
}

int visor_bpf_table_print_linear_hist(struct visor_bpf_table *t, const char *val_type,
				      FILE *out)
{
	if (!t || !out)
		return -EINVAL;
	uint64_t *vals = calloc(VISOR_BPF_LINEAR_SLOTS, sizeof(*vals));
	if (!vals)
		return api_err(t->b, -ENOMEM, "out of memory");
	int rc = read_slots(t, vals, VISOR_BPF_LINEAR_SLOTS);
	if (!rc)
		visor_print_linear_hist(out, vals, VISOR_BPF_LINEAR_SLOTS,
					val_type ? val_type : "value");
	free(vals);
	return rc;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcasecmp(s + a - b, suffix);
}

bool visor_bpf_table_is_log2_hist(const struct visor_bpf_table *t)
{
	static const uint32_t kinds[] = {VISOR_MAP_TYPE_ARRAY, VISOR_MAP_TYPE_HASH,
					 VISOR_MAP_TYPE_PERCPU_ARRAY, VISOR_MAP_TYPE_PERCPU_HASH,
					 VISOR_MAP_TYPE_LRU_HASH, VISOR_MAP_TYPE_LRU_PERCPU_HASH};
	bool kind = false;
	for (size_t i = 0; t && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		kind |= t->type == kinds[i];
	if (!kind || (t->key_size != 4 && t->key_size != 8) || t->value_size != 8)
		return false;
	return ends_with(t->name, "hist") || strcasestr(t->key_type, "hist") ||
	       strcasestr(t->value_type, "hist");
}

/* ---- The dump `visor run` prints ------------------------------------------------- */

static void hex_line(FILE *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%02x", i ? " " : "", p[i]);
}

/* One element: "  KEY -> VALUE" through BTF (per-CPU: a line per CPU),
 * else the hex lines `visor map dump` prints. */
static void dump_element(struct visor_bpf_table *t, FILE *out, const uint8_t *key,
			 const uint8_t *val, char *kt, char *vt, size_t len)
{
	int percpu = t->nr_cpus > 1 || t->user_value_size != t->value_size;
	int n = btf_format(t, 0, key, kt, len);
	int ok = n >= 0 && (size_t)n < len;
	for (uint32_t c = 0; ok && c < (percpu ? t->nr_cpus : 1); c++) {
		n = btf_format(t, 1, val + (size_t)c * t->stride, vt, len);
		ok = n >= 0 && (size_t)n < len;
	}
	if (ok && !percpu) {
		fprintf(out, "  %s -> %s\n", kt, vt);
		return;
	}
	if (ok) {
		fprintf(out, "  %s ->\n", kt);
		for (uint32_t c = 0; c < t->nr_cpus; c++) {
			btf_format(t, 1, val + (size_t)c * t->stride, vt, len);
			fprintf(out, "    CPU %02u: %s\n", c, vt);
		}
		return;
	}
	fputs("key: ", out);
	hex_line(out, key, t->key_size);
	if (!percpu) {
		fputs("  value: ", out);
		hex_line(out, val, t->value_size);
		fputc('\n', out);
		return;
	}
	fputc('\n', out);
	for (uint32_t c = 0; c < t->nr_cpus; c++) {
		fprintf(out, "  value (CPU %02u): ", c);
		hex_line(out, val + (size_t)c * t->stride, t->value_size);
		fputc('\n', out);
	}
}

static bool has_btf(struct visor_bpf_table *t)
{
	if (t->kmap)
		return visor_kernel_map_info(t->kmap)->btf_value_type_id != 0;
	return t->btf_value_id && t->b->obj && visor_obj_btf(t->b->obj);
}

int visor_bpf_table_dump(struct visor_bpf_table *t, FILE *out)
{
	if (!t || !out)
		return -EINVAL;
	const char *tn = visor_map_type_name(t->type);
	if (visor_bpf_table_is_log2_hist(t)) {
		uint64_t vals[VISOR_BPF_LOG2_SLOTS];
		int rc = read_slots(t, vals, VISOR_BPF_LOG2_SLOTS);
		if (rc && rc != -ERANGE)
			return rc;
		if (!rc) {
			fprintf(out, "map %s: %s, log2 histogram\n", t->name, tn);
			size_t used = 0;
			for (size_t i = 1; i < VISOR_BPF_LOG2_SLOTS; i++)
				used |= vals[i] != 0;
			if (used)
				visor_print_log2_hist(out, vals, VISOR_BPF_LOG2_SLOTS, "value");
			else
				fprintf(out, "  (empty histogram)\n");
			return 0;
		}
		/* Keys that are not slots: dumped as a map. */
	}
	fprintf(out, "map %s: ", t->name);
	if (tn)
		fputs(tn, out);
	else
		fprintf(out, "type %u", t->type);
	fprintf(out, ", key %u, value %u, max_entries %u", t->key_size, t->value_size,
		t->max_entries);
	if (t->flags)
		fprintf(out, ", flags 0x%x", t->flags);
	fprintf(out, "%s\n", has_btf(t) ? ", btf" : "");
	if (t->type == VISOR_MAP_TYPE_PERF_EVENT_ARRAY) {
		fprintf(out, "  (its records are read as they come: visor_bpf_open_perf_buffer)\n");
		return 0;
	}
	if (keyless(t->type)) {
		fprintf(out, "  (a %s has no keys to list)\n", tn ? tn : "map");
		return 0;
	}
	uint8_t *keys, *val = malloc(t->user_value_size ? t->user_value_size : 1);
	char *kt = malloc(4096), *vt = malloc(4096);
	size_t n, found = 0;
	int rc = val && kt && vt ? all_keys(t, &keys, &n) : api_err(t->b, -ENOMEM, "out of memory");
	if (rc) {
		free(val), free(kt), free(vt);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *k = keys + i * t->key_size;
		int r = visor_map_lookup(t->map, k, val);
		if (r == -ENOENT)
			continue; /* deleted meanwhile, or an empty prog/map array slot */
		if (r == -EOPNOTSUPP || r == -VISOR_ENOTSUPP) {
			fprintf(out, "  (values of a %s cannot be read from user space)\n",
				tn ? tn : "map of this type");
			break;
		}
		if (r) {
			rc = map_err(t, r, "lookup");
			break;
		}
		found++;
		dump_element(t, out, k, val, kt, vt, 4096);
	}
	fprintf(out, "Found %zu element%s\n", found, found == 1 ? "" : "s");
	free(keys), free(val), free(kt), free(vt);
	return rc;
}

int visor_bpf_dump(struct visor_bpf *b, FILE *out)
{
	if (!b || !out)
		return -EINVAL;
	int status = 0;
	char first[sizeof(b->errmsg)] = "";
	for (size_t i = 0; i < visor_bpf_table_count(b); i++) {
		const char *name = visor_bpf_table_name_at(b, i);
		struct visor_bpf_table *t = name ? visor_bpf_table(b, name) : NULL;
		int rc = t ? 0 : -ENOENT;
		if (t && t->type == VISOR_MAP_TYPE_PERF_EVENT_ARRAY)
			continue;
		/* Constants (format strings ...): nothing a run changes. */
		if (t && (ends_with(t->name, ".rodata") || ends_with(t->name, ".kconfig")))
			continue;
		if (t) {
			fputc('\n', out);
			rc = visor_bpf_table_dump(t, out);
		}
		if (rc && !status) {
			status = rc;
			snprintf(first, sizeof(first), "%s", b->errmsg);
		}
	}
	if (status)
		snprintf(b->errmsg, sizeof(b->errmsg), "%s", first);
	return status;
}
