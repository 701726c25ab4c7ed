/* struct tracepoint__CAT__EVENT: the record a tracepoint program's `args`
 * points to, as BCC's TRACEPOINT_PROBE gives it.
 *
 * Made from the tracepoint's format file (tracefs), the kernel's own
 * description of the record: every field at its format offset, with
 * explicit padding (and packed members where the offset is not naturally
 * aligned), each offset checked by a _Static_assert so a mismatch is a
 * compile error, never a wrong read. Like BCC: the common_ fields sit
 * under `u64 __do_not_use__` (kept by name too), scalars whose declared
 * type is not their recorded size become an integer of that size
 * (syscall arguments: `int dfd` of 8 bytes), and __data_loc fields become
 * `int data_loc_NAME` (also reachable as __data_loc_NAME, BTF's spelling).
 * Without a readable format file (unprivileged, no tracefs) the struct
 * comes from BTF's trace_event_raw_EVENT, where the kernel has one. */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <visor/kernel.h>

#include "pipeline.h"


/* ---- Scanning the source ------------------------------------------------- */

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int add_ref(struct fe_tracepoint_ref **refs, int *n, int *cap, const char *cat, size_t catlen,
		   const char *ev, size_t evlen, unsigned line, unsigned col)
{
	if (!catlen || !evlen || catlen >= sizeof((*refs)->category) ||
	    evlen >= sizeof((*refs)->event))
		return 0;
	for (int i = 0; i < *n; i++) {
		struct fe_tracepoint_ref *r = &(*refs)[i];
		if (strlen(r->category) == catlen && !strncmp(r->category, cat, catlen) &&
		    strlen(r->event) == evlen && !strncmp(r->event, ev, evlen))
			return 0;
	}
	if (*n == *cap) {
		int nc = *cap ? *cap * 2 : 8;
		struct fe_tracepoint_ref *nr = realloc(*refs, (size_t)nc * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		*refs = nr;
		*cap = nc;
	}
	struct fe_tracepoint_ref *r = &(*refs)[(*n)++];
	memset(r, 0, sizeof(*r));
	memcpy(r->category, cat, catlen);
	memcpy(r->event, ev, evlen);
	r->line = line;
	r->col = col;
	return 0;
}

/* Past the blanks at p, the identifier there (*name, *len, maybe empty)
 * and the blanks after it: where the next token starts. */
static const char *ident_arg(const char *p, const char **name, size_t *len)
{
	while (isspace((unsigned char)*p))
		p++;
	*name = p;
	while (ident_char(*p))
		p++;
	*len = (size_t)(p - *name);
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

/* At an identifier start p: TRACEPOINT_PROBE(cat, event) ->
 * the two names. */
static bool macro_args(const char *p, const char **a, size_t *alen, const char **b, size_t *blen)
{
	p += strlen("TRACEPOINT_PROBE");
	while (isspace((unsigned char)*p))
		p++;
	if (*p++ != '(')
		return false;
	p = ident_arg(p, a, alen);
	if (*p++ != ',')
		return false;
	p = ident_arg(p, b, blen);
	return *p == ')' && *alen && *blen;
}

int fe_tracepoints_scan(const char *text, struct fe_tracepoint_ref **refs)
{
	int n = 0, cap = 0;
	unsigned line = 1;
	const char *line_start = text;
	*refs = NULL;
	for (const char *p = text; *p;) {
		/* Comments, strings and character literals name nothing. */
		if (p[0] == '/' && p[1] == '/') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (p[0] == '/' && p[1] == '*') {
			p += 2;
			while (*p && !(p[0] == '*' && p[1] == '/')) {
				if (*p == '\n') {
					line++;
					line_start = p + 1;
				}
				p++;
			}
			if (*p)
				p += 2;
			continue;
		}
		if (*p == '"' || *p == '\'') {
			char q = *p++;
			while (*p && *p != q && *p != '\n') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p == q)
				p++;
			continue;
		}
		if (*p == '\n') {
			line++;
			line_start = ++p;
			continue;
		}
		if (!ident_char(*p) || isdigit((unsigned char)*p)) {
			p++;
			continue;
		}
		const char *id = p;
		while (ident_char(*p))
			p++;
		size_t len = (size_t)(p - id);
		unsigned col = (unsigned)(id - line_start) + 1;
		int rc = 0;
		const char *a, *b;
		size_t alen, blen;
		if (len == 16 && !strncmp(id, "TRACEPOINT_PROBE", 16) &&
		    macro_args(id, &a, &alen, &b, &blen)) {
			rc = add_ref(refs, &n, &cap, a, alen, b, blen, line, col);
		} else if (len > 12 && !strncmp(id, "tracepoint__", 12)) {
			const char *cat = id + 12;
			const char *sep = memmem(cat, (size_t)(p - cat), "__", 2);
			if (sep)
				rc = add_ref(refs, &n, &cap, cat, (size_t)(sep - cat), sep + 2,
					     (size_t)(p - sep - 2), line, col);
		}
		if (rc) {
			free(*refs);
			*refs = NULL;
			return rc;
		}
	}
	return n;
}

/* ---- tracefs ------------------------------------------------------------- */

/* Where tracefs is, mounted when root and missing (src/kernel/tracefs.c);
 * when it cannot be reached the format file is not found and BTF is used. */
static const char *tracefs_dir(void)
{
	const char *dir;
	visor_kernel_tracefs(&dir, NULL, NULL, 0);
	return dir;
}

struct field {
	char type[128], name[160];
	unsigned offset, size;
	bool is_signed;
};

/* "\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;" */
static bool parse_field(const char *line, struct field *f)
{
	const char *p = strstr(line, "field:");
	if (!p)
		return false;
	p += 6;
	const char *semi = strchr(p, ';');
	if (!semi)
		return false;
	const char *o = strstr(semi, "offset:"), *s = strstr(semi, "size:"),
		   *g = strstr(semi, "signed:");
	if (!o || !s)
		return false;
	f->offset = (unsigned)strtoul(o + 7, NULL, 10);
	f->size = (unsigned)strtoul(s + 5, NULL, 10);
	f->is_signed = g && g[7] == '1';
	/* The name is the last word of the declaration (with its [N]). */
	const char *end = semi;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	const char *name = end;
	while (name > p && !isspace((unsigned char)name[-1]) && name[-1] != '*')
		name--;
	size_t tl = (size_t)(name - p), nl = (size_t)(end - name);
	while (tl && isspace((unsigned char)p[tl - 1]))
		tl--;
	if (!tl || !nl || tl >= sizeof(f->type) || nl >= 128)
		return false;
	memcpy(f->type, p, tl);
	f->type[tl] = '\0';
	memcpy(f->name, name, nl);
	f->name[nl] = '\0';
	return true;
}

/* The C types format files use whose size the declaration implies, and
 * whether they are signed. */
static const struct {
	const char *name;
	unsigned size;
	bool is_signed;
} known_types[] = {
	{"char", 1, true},	     {"signed char", 1, true},	 {"unsigned char", 1, false},
	{"short", 2, true},	     {"unsigned short", 2, false}, {"int", 4, true},
	{"unsigned int", 4, false},  {"unsigned", 4, false},	 {"long", 8, true},
	{"unsigned long", 8, false}, {"long long", 8, true},	 {"unsigned long long", 8, false},
	{"bool", 1, false},	     {"_Bool", 1, false},	 {"u8", 1, false},
	{"s8", 1, true},	     {"u16", 2, false},		 {"s16", 2, true},
	{"u32", 4, false},	     {"s32", 4, true},		 {"u64", 8, false},
	{"s64", 8, true},	     {"__u8", 1, false},	 {"__s8", 1, true},
	{"__u16", 2, false},	     {"__s16", 2, true},	 {"__u32", 4, false},
	{"__s32", 4, true},	     {"__u64", 8, false},	 {"__s64", 8, true},
	{"pid_t", 4, true},	     {"uid_t", 4, false},	 {"gid_t", 4, false},
	{"size_t", 8, false},	     {"ssize_t", 8, true},	 {"loff_t", 8, true},
	{"umode_t", 2, false},	     {"gfp_t", 4, false},	 {"dev_t", 4, false},
	{"int8_t", 1, true},	     {"uint8_t", 1, false},	 {"int16_t", 2, true},
	{"uint16_t", 2, false},	     {"int32_t", 4, true},	 {"uint32_t", 4, false},
	{"int64_t", 8, true},	     {"uint64_t", 8, false},
};

struct emitter {
	FILE *out;
	const char *sname;
	unsigned cur;      /* end of the last member */
	unsigned npad;
};

static void pad_to(struct emitter *e, unsigned off, const char *indent)
{
	if (off > e->cur)
		fprintf(e->out, "%schar __pad%u[%u];\n", indent, e->npad++, off - e->cur);
	e->cur = off;
}

/* Emits one scalar/pointer/array field from a format file. */
static void emit_format_field(struct emitter *e, const struct field *f, const char *indent)
{
	char type[160];
	const char *attr = "";
	bool array = strchr(f->name, '[') != NULL, pointer = strchr(f->type, '*') != NULL;
	snprintf(type, sizeof(type), "%s", f->type);
	if (!array && !pointer) {
		const char *t = f->type;
		if (!strncmp(t, "const ", 6))
			t += 6;
		int k = -1;
		for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++)
			if (!strcmp(t, known_types[i].name))
				k = (int)i;
		bool sized = f->size == 1 || f->size == 2 || f->size == 4 || f->size == 8;
		if (sized && (k < 0 || known_types[k].size != f->size)) {
			bool sgn = k >= 0 ? known_types[k].is_signed : f->is_signed;
			snprintf(type, sizeof(type), "__%c%u", sgn ? 's' : 'u', f->size * 8);
		}
		if (sized && f->offset % f->size)
			attr = " __attribute__((packed))";
	} else if (pointer && f->offset % 8) {
		attr = " __attribute__((packed))";
	}
	fprintf(e->out, "%s%s %s%s;\n", indent, type, f->name, attr);
}

static void plain_name(const char *name, char *out, size_t len)
{
	size_t n = strcspn(name, "[");
	snprintf(out, len, "%.*s", (int)n, name);
}

static int struct_from_format(const char *dir, const char *cat, const char *event, char **text)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/events/%s/%s/format", dir, cat, event);
	FILE *in = fopen(path, "re");
	if (!in)
		return -errno;
	struct field fields[128];
	size_t nf = 0;
	char line[1024];
	while (nf < 128 && fgets(line, sizeof(line), in))
		if (parse_field(line, &fields[nf]))
			nf++;
	fclose(in);
	if (!nf)
		return -ENOENT;

	char *buf = NULL;
	size_t blen = 0;
	FILE *out = open_memstream(&buf, &blen);
	if (!out)
		return -ENOMEM;
	char sname[300];
	snprintf(sname, sizeof(sname), "tracepoint__%s__%s", cat, event);
	struct emitter e = {.out = out, .sname = sname};
	fprintf(out, "/* %s (from %s) */\nstruct %s {\n", sname, path, sname);
	/* The common fields, under BCC's name for them. */
	size_t i = 0;
	fprintf(out, "\tunion {\n\t\t__u64 __do_not_use__;\n\t\tstruct {\n");
	for (; i < nf && !strncmp(fields[i].name, "common_", 7) && fields[i].offset >= e.cur &&
	       fields[i].offset + fields[i].size <= 8;
	     i++) {
		pad_to(&e, fields[i].offset, "\t\t\t");
		emit_format_field(&e, &fields[i], "\t\t\t");
		e.cur = fields[i].offset + fields[i].size;
	}
	fprintf(out, "\t\t};\n\t};\n");
	e.cur = 8;
	size_t first = i;
	for (; i < nf; i++) {
		struct field *f = &fields[i];
		if (f->offset < e.cur)
			continue; /* overlaps what came before: not expressible, skipped */
		pad_to(&e, f->offset, "\t");
		if (strstr(f->type, "__data_loc") || strstr(f->type, "__rel_loc")) {
			char n[140];
			plain_name(f->name, n, sizeof(n));
			fprintf(out, "\tunion {\n\t\tint data_loc_%s;\n\t\tint __data_loc_%s;\n\t};\n", n,
				n);
			snprintf(f->name, sizeof(f->name), "data_loc_%s", n);
		} else {
			emit_format_field(&e, f, "\t");
		}
		e.cur = f->offset + f->size;
	}
	fprintf(out, "};\n");
	for (i = first; i < nf; i++) {
		char n[140];
		plain_name(fields[i].name, n, sizeof(n));
		if (fields[i].offset >= 8)
			fprintf(out,
				"_Static_assert(__builtin_offsetof(struct %s, %s) == %u, \"%s.%s: offset\");\n",
				sname, n, fields[i].offset, sname, n);
	}
	if (fclose(out)) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	return 0;
}

/* ---- BTF fallback --------------------------------------------------------- */

static void btf_printf(void *ctx, const char *fmt, va_list args)
{
	vfprintf(ctx, fmt, args);
}

static int struct_from_btf(const char *btf_path, const char *cat, const char *event, char **text)
{
	struct btf *btf = btf__parse(btf_path, NULL);
	if (!btf)
		return -ENOENT;
	char raw[256];
	snprintf(raw, sizeof(raw), "trace_event_raw_%s", event);
	int id = btf__find_by_name_kind(btf, raw, BTF_KIND_STRUCT);
	if (id < 0) {
		btf__free(btf);
		return -ENOENT;
	}
	char *buf = NULL;
	size_t blen = 0;
	FILE *out = open_memstream(&buf, &blen);
	struct btf_dump *d = out ? btf_dump__new(btf, btf_printf, out, NULL) : NULL;
	if (!d) {
		if (out)
			fclose(out);
		free(buf);
		btf__free(btf);
		return -ENOMEM;
	}
	char sname[300];
	snprintf(sname, sizeof(sname), "tracepoint__%s__%s", cat, event);
	fprintf(out, "/* %s (from BTF: struct %s) */\nstruct %s {\n", sname, raw, sname);
	struct emitter e = {.out = out, .sname = sname};
	const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
	const struct btf_member *m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *name = btf__name_by_offset(btf, m->name_off);
		unsigned bits = btf_member_bit_offset(t, (uint32_t)i);
		if (btf_member_bitfield_size(t, (uint32_t)i) || bits % 8 || !name || !*name)
			continue;
		unsigned off = bits / 8;
		long long size = btf__resolve_size(btf, m->type);
		if (size < 0 || off < e.cur)
			continue;
		pad_to(&e, off, "\t");
		if (!strcmp(name, "ent")) {
			fprintf(out, "\tunion {\n\t\t__u64 __do_not_use__;\n\t\tstruct trace_entry ent;\n\t};\n");
			e.cur = off + (unsigned)(size > 8 ? size : 8);
			continue;
		}
		if (!strncmp(name, "__data_loc_", 11)) {
			fprintf(out, "\tunion {\n\t\tint data_loc_%s;\n\t\tint __data_loc_%s;\n\t};\n",
				name + 11, name + 11);
		} else {
			LIBBPF_OPTS(btf_dump_emit_type_decl_opts, o, .field_name = name, .indent_level = 1);
			fprintf(out, "\t");
			btf_dump__emit_type_decl(d, m->type, &o);
			fprintf(out, ";\n");
		}
		e.cur = off + (unsigned)size;
	}
	fprintf(out, "};\n");
	btf_dump__free(d);
	btf__free(btf);
	if (fclose(out)) {
		free(buf);
		return -ENOMEM;
	}
	*text = buf;
	return 0;
}

int fe_tracepoint_struct(const char *tracefs, const char *btf_path, const char *category,
			 const char *event, char **text, char *err, size_t err_len)
{
	const char *dir = tracefs ? tracefs : tracefs_dir();
	if (!struct_from_format(dir, category, event, text))
		return 0;
	/* tracefs readable but no such event: it does not exist (BTF's struct
	 * is named by the event alone and would hide a wrong category) */
	char events[512];
	snprintf(events, sizeof(events), "%s/events", dir);
	if (!access(events, R_OK | X_OK))
		return visor_errf(err, err_len, -ENOENT, "no tracepoint %s/%s (see %s/%s)", category,
			      event, events, category);
	btf_path = fe_btf_path(btf_path);
	if (!struct_from_btf(btf_path, category, event, text))
		return 0;
	return visor_errf(err, err_len, -ENOENT,
		      "no tracepoint %s/%s (looked for %s/events/%s/%s/format and struct "
		      "trace_event_raw_%s in %s)",
		      category, event, dir, category, event, event, btf_path);
}

int fe_tracepoint_header(const char *tracefs, const char *btf_path, const char *category,
			 const char *event, const char *out_path, char *err, size_t err_len)
{
	char *text;
	int rc = fe_tracepoint_struct(tracefs, btf_path, category, event, &text, err, err_len);
	if (rc)
		return rc;
	rc = fe_write_atomic(out_path, text, strlen(text), err, err_len);
	free(text);
	return rc;
}
