/* Typed data as text through BTF: libbpf's btf_dump prints it C-like, one
 * line (compact), zeroed fields named too (emit_zeroes), as bpftool's
 * formatted map dump does. btf_dump writes through a printf callback; the
 * formatter points it at the caller's buffer for one call at a time. */
#include <bpf/btf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <visor/object.h>

struct visor_btf_text {
	struct btf_dump *dump;
	char *out; /* the current call's buffer */
	size_t out_len, out_pos;
};

/* btf_dump's output callback: append to t->out, counting what does not fit
 * (snprintf semantics for the caller). */
static void text_printf(void *ctx, const char *fmt, va_list ap)
{
	struct visor_btf_text *t = ctx;
	size_t room = t->out_pos < t->out_len ? t->out_len - t->out_pos : 0;
	int n = vsnprintf(room ? t->out + t->out_pos : NULL, room, fmt, ap);
	if (n > 0)
		t->out_pos += (size_t)n;
}

struct visor_btf_text *visor_btf_text_new(const struct btf *btf)
{
	if (!btf) {
		errno = EINVAL;
		return NULL;
	}
	struct visor_btf_text *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->dump = btf_dump__new(btf, text_printf, t, NULL);
	if (!t->dump) {
		int e = errno ? errno : ENOMEM;
		free(t);
		errno = e;
		return NULL;
	}
	return t;
}

int visor_btf_text_format(struct visor_btf_text *t, uint32_t type_id, const void *data,
			  size_t size, char *buf, size_t len)
{
	if (!t || !type_id)
		return -EINVAL;
	t->out = buf;
	t->out_len = len;
	t->out_pos = 0;
	if (len)
		buf[0] = 0;
	LIBBPF_OPTS(btf_dump_type_data_opts, o, .compact = true, .emit_zeroes = true);
	int rc = btf_dump__dump_type_data(t->dump, type_id, data, size, &o);
	size_t pos = t->out_pos;
	t->out = NULL;
	t->out_len = t->out_pos = 0;
	if (rc < 0)
		return rc;
	if (len)
		buf[pos < len ? pos : len - 1] = 0;
	return pos > (size_t)INT32_MAX ? INT32_MAX : (int)pos;
}

void visor_btf_text_free(struct visor_btf_text *t)
{
	if (!t)
		return;
	btf_dump__free(t->dump);
	free(t);
}
