/* BTF-formatted keys and values of kernel maps: the map's BTF comes from
 * the kernel by id, visor_btf_text (libbpf's btf_dump) prints typed data as
 * C-like text, as bpftool's formatted dump does. */
#include <bpf/btf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <visor/object.h>

#include "kernel_internal.h"

static int load_btf(struct visor_kernel_map *m)
{
	if (m->text)
		return 0;
	m->btf = btf__load_from_kernel_by_id(m->info.btf_id);
	if (!m->btf) {
		int e = errno ? errno : EINVAL;
		snprintf(m->errmsg, sizeof(m->errmsg), "BTF id %u: %s", m->info.btf_id,
			 strerror(e));
		return -e;
	}
	m->text = visor_btf_text_new(m->btf);
	if (!m->text) {
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
	r = visor_btf_text_format(m->text, type_id, data, size, buf, buf_len);
	if (r < 0)
		snprintf(m->errmsg, sizeof(m->errmsg), "BTF type %u: %s", type_id, strerror(-r));
	return r;
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
	visor_btf_text_free(map->text);
	btf__free(map->btf);
	map->text = NULL;
	map->btf = NULL;
}
