/* BTF-formatted keys and values of kernel maps: the map's BTF comes from
 * the kernel by id, libbpf's btf_dump prints typed data as C-like text, as
 * bpftool's formatted dump does. */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_internal.h"

/* btf_dump's output callback: append to map->out, counting what does not
 * fit (snprintf semantics for the caller). */
static void out_printf(void *ctx, const char *fmt, va_list ap)
{
	struct visor_kernel_map *m = ctx;
	size_t room = m->out_pos < m->out_len ? m->out_len - m->out_pos : 0;
	int n = vsnprintf(room ? m->out + m->out_pos : NULL, room, fmt, ap);
	if (n > 0)
		m->out_pos += (size_t)n;
}

static int load_btf(struct visor_kernel_map *m)
{
	if (m->dump)
		return 0;
	m->btf = btf__load_from_kernel_by_id(m->info.btf_id);
	if (!m->btf) {
		int e = errno ? errno : EINVAL;
		snprintf(m->errmsg, sizeof(m->errmsg), "BTF id %u: %s", m->info.btf_id,
			 strerror(e));
		return -e;
	}
	m->dump = btf_dump__new(m->btf, out_printf, m, NULL);
	if (!m->dump) {
		int e = errno ? errno : ENOMEM;
		btf__free(m->btf);
		m->btf = NULL;
		snprintf(m->errmsg, sizeof(m->errmsg), "BTF dump: %s", strerror(e));
		return -e;
	}
	return 0;
}

static int format(struct visor_kernel_map *m, uint32_t type_id, const void *data, size_t size,
		  char *buf, size_t buf_len)
{
	if (!m->info.btf_id || !type_id)
		return -ENODATA;
	int r = load_btf(m);
	if (r)
		return r;
	m->out = buf;
	m->out_len = buf_len;
	m->out_pos = 0;
	if (buf_len)
		buf[0] = 0;
	/* compact: one line; emit_zeroes: a zeroed field still shows its name. */
	LIBBPF_OPTS(btf_dump_type_data_opts, o, .compact = true, .emit_zeroes = true);
	r = btf_dump__dump_type_data(m->dump, type_id, data, size, &o);
	size_t pos = m->out_pos;
	m->out = NULL;
	m->out_len = m->out_pos = 0;
	if (r < 0) {
		snprintf(m->errmsg, sizeof(m->errmsg), "BTF type %u: %s", type_id, strerror(-r));
		return r;
	}
	if (buf_len)
		buf[pos < buf_len ? pos : buf_len - 1] = 0;
	return pos > (size_t)INT32_MAX ? INT32_MAX : (int)pos;
}

int visor_kernel_map_format_key(struct visor_kernel_map *map, const void *key, char *buf,
				size_t buf_len)
{
	return format(map, map->info.btf_key_type_id, key, map->info.key_size, buf, buf_len);
}

int visor_kernel_map_format_value(struct visor_kernel_map *map, const void *value, char *buf,
				  size_t buf_len)
{
	return format(map, map->info.btf_value_type_id, value, map->info.value_size, buf,
		      buf_len);
}

void kernel_map_btf_free(struct visor_kernel_map *map)
{
	btf_dump__free(map->dump);
	btf__free(map->btf);
	map->dump = NULL;
	map->btf = NULL;
}
