/* Diagnostics in clang's style, at the user's file:line:col: clang's own
 * (from the libclang parse, some reworded for the BCC dialect) and the
 * rewriter's. Each is "path:line:col: error: message", the source line and
 * a caret under the column. */
#define _GNU_SOURCE
#include "frontend/rewriter.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void print_source_line(FILE *out, const char *line, size_t len, unsigned col)
{
	fprintf(out, "%.*s\n", (int)len, line);
	/* the caret line keeps the tabs, so it lines up in any tab width */
	for (unsigned i = 1; i < col && i - 1 < len; i++)
		fputc(line[i - 1] == '\t' ? '\t' : ' ', out);
	fputs("^\n", out);
}

static void line_col(const char *text, size_t len, size_t off, unsigned *line, unsigned *col,
		     size_t *line_start)
{
	unsigned l = 1;
	size_t ls = 0;
	for (size_t i = 0; i < off && i < len; i++)
		if (text[i] == '\n') {
			l++;
			ls = i + 1;
		}
	*line = l;
	*col = (unsigned)(off - ls) + 1;
	*line_start = ls;
}

static void report_main(struct rw *rw, size_t off, const char *severity, const char *msg)
{
	unsigned line, col;
	size_t ls;
	line_col(rw->text, rw->len, off, &line, &col, &ls);
	size_t le = ls;
	while (le < rw->len && rw->text[le] != '\n')
		le++;
	fprintf(rw->diag, "%s:%u:%u: %s: %s\n", rw->opts->path ? rw->opts->path : "<text>", line, col,
		severity, msg);
	print_source_line(rw->diag, rw->text + ls, le - ls, col);
}

/* The formatted message at off, with its severity and source line, counted
 * in *count. */
static void __attribute__((format(printf, 5, 0)))
report_fmt(struct rw *rw, size_t off, const char *severity, int *count, const char *fmt,
	   va_list ap)
{
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	report_main(rw, off, severity, msg ? msg : fmt);
	free(msg);
	(*count)++;
}

void rw_error(struct rw *rw, size_t off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_fmt(rw, off, "error", &rw->nerrors, fmt, ap);
	va_end(ap);
}

void rw_warning(struct rw *rw, size_t off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_fmt(rw, off, "warning", &rw->nwarnings, fmt, ap);
	va_end(ap);
}

/* The text between `before` and the next quote, e.g. X of "... 'X' ...". */
static char *quoted_after(const char *s, const char *before)
{
	const char *p = strstr(s, before);
	if (!p)
		return NULL;
	p += strlen(before);
	const char *e = strchr(p, '\'');
	return e ? strndup(p, (size_t)(e - p)) : NULL;
}

/* ---- Table method calls in clang's messages ------------------------------------ */

/* The table method call whose parentheses hold off, found in the text (a
 * call clang found invalid leaves no CallExpr): `name.method(` with name a
 * table. *argi: the argument off is in; *arg, *arg_len: its text. */
struct table_call {
	const struct rw_table *table;
	char method[64];
	int argi;
	const char *arg;
	size_t arg_len;
};

static bool ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool table_call_at(struct rw *rw, size_t off, struct table_call *tc)
{
	const char *t = rw->text;
	size_t open = 0, comma = 0;
	int depth = 0, commas = 0;
	bool found = false;
	if (off > rw->len)
		return false;
	for (size_t i = off; i-- > 0;) {
		char c = t[i];
		if (c == ')' || c == ']') {
			depth++;
		} else if (c == '(' || c == '[') {
			if (!depth) {
				open = i;
				found = c == '(';
				break;
			}
			depth--;
		} else if (c == ',' && !depth) {
			if (!commas++)
				comma = i;
		} else if ((c == ';' || c == '{' || c == '}') && !depth) {
			return false;
		}
	}
	if (!found)
		return false;
	/* `name . method` before the parenthesis */
	size_t e = open;
	while (e > 0 && (t[e - 1] == ' ' || t[e - 1] == '\t'))
		e--;
	size_t ms = e;
	while (ms > 0 && ident_char(t[ms - 1]))
		ms--;
	size_t d = ms;
	while (d > 0 && (t[d - 1] == ' ' || t[d - 1] == '\t'))
		d--;
	if (ms == e || e - ms >= sizeof(tc->method) || !d || t[d - 1] != '.')
		return false;
	size_t ne = d - 1;
	while (ne > 0 && (t[ne - 1] == ' ' || t[ne - 1] == '\t'))
		ne--;
	size_t ns = ne;
	while (ns > 0 && ident_char(t[ns - 1]))
		ns--;
	char name[128];
	if (ns == ne || ne - ns >= sizeof(name))
		return false;
	memcpy(name, t + ns, ne - ns);
	name[ne - ns] = 0;
	tc->table = rw_table_find(rw, name);
	if (!tc->table)
		return false;
	memcpy(tc->method, t + ms, e - ms);
	tc->method[e - ms] = 0;
	tc->argi = commas;
	/* the argument's text: from after its '(' or ',' to the next ',' or ')' */
	size_t as = commas ? comma + 1 : open + 1;
	while (as < rw->len && (t[as] == ' ' || t[as] == '\t'))
		as++;
	size_t ae = as;
	for (int dd = 0; ae < rw->len; ae++) {
		char c = t[ae];
		if (c == '(' || c == '[')
			dd++;
		else if ((c == ')' || c == ']') && dd)
			dd--;
		else if ((c == ',' || c == ')' || c == ';') && !dd)
			break;
	}
	while (ae > as && (t[ae - 1] == ' ' || t[ae - 1] == '\t'))
		ae--;
	tc->arg = t + as;
	tc->arg_len = ae - as;
	return true;
}

/* The n-th word of a method's argument roles ("key value"), or NULL. */
static char *role_of(const struct rw_method_sig *sig, int n)
{
	const char *p = sig ? sig->roles : "";
	for (; *p; n--) {
		size_t len = strcspn(p, " ");
		if (!n)
			return strndup(p, len);
		p += len;
		p += *p == ' ';
	}
	return NULL;
}

static bool is_identifier(const char *s, size_t n)
{
	if (!n || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ident_char(s[i]))
			return false;
	return true;
}

/* clang's words about a table method's arguments, in the dialect's terms:
 * NULL when msg is not about them. */
static char *table_call_message(struct rw *rw, size_t off, const char *msg, bool *as_error)
{
	struct table_call tc;
	bool count = !strncmp(msg, "too few arguments to function call", 34) ||
		     !strncmp(msg, "too many arguments to function call", 35);
	bool by_value = !strncmp(msg, "incompatible integer to pointer conversion passing", 50);
	bool wrong_ptr = !strncmp(msg, "incompatible pointer types passing", 34);
	if ((!count && !by_value && !wrong_ptr) || !table_call_at(rw, off, &tc))
		return NULL;
	const struct rw_method_sig *sig = rw_table_method_sig(tc.method);
	const char *name = tc.table->name;
	char *out = NULL;
	int r = -1;
	if (count && sig) {
		const char *have = strstr(msg, "have ");
		int given = have ? atoi(have + 5) : -1;
		char takes[64];
		if (sig->min_args == sig->max_args)
			snprintf(takes, sizeof(takes), "%d argument%s", sig->min_args,
				 sig->min_args == 1 ? "" : "s");
		else
			snprintf(takes, sizeof(takes), "%d or %d arguments", sig->min_args,
				 sig->max_args);
		r = given >= 0 ? asprintf(&out, "%s.%s%s takes %s, not %d", name, tc.method,
					  sig->args, takes, given)
			       : asprintf(&out, "%s.%s%s takes %s", name, tc.method, sig->args, takes);
	} else if (by_value || wrong_ptr) {
		char *role = role_of(sig, tc.argi);
		char *param = quoted_after(msg, "to parameter of type '");
		char *given = quoted_after(msg, "passing '");
		size_t plen = param ? strlen(param) : 0;
		if (param && plen > 2 && !strcmp(param + plen - 2, " *"))
			param[plen - 2] = 0; /* the key or value type itself */
		const char *what = role ? role : "argument";
		if (!role || !param || !given) {
			r = -1;
		} else if (by_value && is_identifier(tc.arg, tc.arg_len)) {
			r = asprintf(&out, "%s.%s%s takes the %s by address: pass &%.*s", name,
				     tc.method, sig ? sig->args : "()", what, (int)tc.arg_len, tc.arg);
		} else if (by_value) {
			r = asprintf(&out, "%s.%s%s takes the %s by address: pass the address of a "
					   "%s variable",
				     name, tc.method, sig ? sig->args : "()", what, param);
		} else {
			/* a key of another size reads past the variable or only part of
			 * it: never what was meant */
			r = asprintf(&out, "table '%s' has %ss of type '%s', but %s() was given '%s': "
					   "pass the address of a %s",
				     name, what, param, tc.method, given, param);
			*as_error = true;
		}
		free(role);
		free(param);
		free(given);
	}
	return r < 0 ? NULL : out;
}

/* ---- Names that are not declared ----------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];
	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* `count.lookup(...)` with count undeclared: a table that is not there. */
static char *undeclared_table_message(struct rw *rw, size_t off, const char *msg)
{
	char *name = quoted_after(msg, "use of undeclared identifier '");
	if (!name)
		return NULL;
	size_t n = strlen(name), p = off + n;
	char *out = NULL;
	if (off + n > rw->len || memcmp(rw->text + off, name, n)) {
		free(name);
		return NULL;
	}
	if (!strcmp(name, "ctx")) {
		/* BCC: TRACEPOINT_PROBE's context is `args` */
		for (size_t i = 0; i < rw->nfuncs; i++) {
			const struct rw_func *f = rw->funcs[i];
			if (f->body && f->body->start <= off && off < f->body->end && f->name &&
			    !strncmp(f->name, "tracepoint__", 12) && !f->node->editable) {
				free(name);
				return strdup("use of undeclared identifier 'ctx': in TRACEPOINT_PROBE "
					      "the context (the tracepoint's record) is 'args'");
			}
		}
	}
	while (p < rw->len && (rw->text[p] == ' ' || rw->text[p] == '\t'))
		p++;
	if (p >= rw->len || rw->text[p] != '.') {
		free(name);
		return NULL;
	}
	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; i < rw->ntables; i++) {
		size_t d = edit_distance(name, rw->tables[i].name);
		if (d < best_d) {
			best_d = d;
			best = rw->tables[i].name;
		}
	}
	int r;
	if (best)
		r = asprintf(&out, "no table named '%s'; did you mean '%s'?", name, best);
	else if (rw->ntables)
		r = asprintf(&out, "no table named '%s' (tables are declared before their use, "
				   "with BPF_HASH(%s, ...) and the like)",
			     name, name);
	else
		r = asprintf(&out, "no table named '%s': declare it before its use, e.g. "
				   "BPF_HASH(%s, u32, u64);",
			     name, name);
	free(name);
	return r < 0 ? NULL : out;
}

/* ---- Tracepoint fields ------------------------------------------------------------ */

struct field_list {
	struct rw *rw;
	FILE *out;
	int n;
};

static enum CXVisitorResult list_field(CXCursor c, CXClientData data)
{
	struct field_list *l = data;
	char *name = rw_spelling(l->rw, c);
	if (!name || !*name || strstr(name, "(anonymous")) {
		/* an anonymous union (data_loc_NAME / __data_loc_NAME): its members */
		l->rw->lc->clang_Type_visitFields(
			l->rw->lc->clang_getCanonicalType(l->rw->lc->clang_getCursorType(c)),
			list_field, l);
	} else if (strncmp(name, "common_", 7) && strncmp(name, "__", 2) && strcmp(name, "ent")) {
		/* not the record's common header (ent in BTF's struct), padding,
		 * nor the syscall number */
		fprintf(l->out, "%s%s", l->n++ ? ", " : "", name);
	}
	free(name);
	return CXVisit_Continue;
}

/* args->x with no field x: the tracepoint's fields, from its struct. */
static char *tracepoint_field_message(struct rw *rw, const char *msg)
{
	char *field = quoted_after(msg, "no member named '");
	char *tp = quoted_after(msg, "in 'struct tracepoint__");
	char *out = NULL;
	const char *sep = tp ? strstr(tp, "__") : NULL;
	if (!field || !tp || !sep)
		goto done;
	char fn[300];
	snprintf(fn, sizeof(fn), "tracepoint__%s", tp);
	struct rw_func *f = NULL;
	for (size_t i = 0; i < rw->nfuncs && !f; i++)
		if (rw->funcs[i]->name && !strcmp(rw->funcs[i]->name, fn) && rw->funcs[i]->nparams)
			f = rw->funcs[i];
	char *list = NULL;
	size_t len = 0;
	FILE *lf = open_memstream(&list, &len);
	if (!lf)
		goto done;
	if (f) {
		CXType t = rw->lc->clang_getPointeeType(rw_type(rw, f->params[0]));
		struct field_list l = {rw, lf, 0};
		rw->lc->clang_Type_visitFields(rw->lc->clang_getCanonicalType(t), list_field, &l);
	}
	fclose(lf);
	if (asprintf(&out, "tracepoint %.*s/%s has no field '%s'%s%s", (int)(sep - tp), tp, sep + 2,
		     field, list && *list ? "; its fields: " : "", list ? list : "") < 0)
		out = NULL;
	free(list);
done:
	free(field);
	free(tp);
	return out;
}

/* clang's words for a wrong table method, a table method's arguments, an
 * undeclared table or a type the kernel lacks, in the dialect's terms.
 * off: the offset in the user's file (in_main); *as_error: make a warning
 * an error. */
static char *improve(struct rw *rw, const char *msg, bool in_main, size_t off, bool *as_error)
{
	char *out = NULL;
	char *method = quoted_after(msg, "no member named '");
	char *table = quoted_after(msg, "in 'struct __visor_table_");
	if (method && table) {
		const struct rw_table *t = rw_table_find(rw, table);
		const char *kind = t && t->kind ? t->kind : "table";
		const char *methods = rw_table_methods(kind);
		if (asprintf(&out, "table '%s' (%s) has no method '%s'; its methods: %s", table, kind,
			     method, methods ? methods : "none") < 0)
			out = NULL;
	} else if ((out = tracepoint_field_message(rw, msg))) {
		/* done */
	} else if (in_main && (out = table_call_message(rw, off, msg, as_error))) {
		/* done */
	} else if (in_main && (out = undeclared_table_message(rw, off, msg))) {
		/* done */
	} else if (strstr(msg, "unknown type name '") ||
		   (strstr(msg, "incomplete") && strstr(msg, "'struct ")) ||
		   (strstr(msg, "incomplete") && strstr(msg, "'union "))) {
		if (asprintf(&out, "%s (not in the kernel's BTF: `visor btf dump` lists its types)",
			     msg) < 0)
			out = NULL;
	}
	free(method);
	free(table);
	return out;
}

static void report_header(struct rw *rw, const char *path, unsigned line, unsigned col,
			  const char *severity, const char *msg)
{
	fprintf(rw->diag, "%s:%u:%u: %s: %s\n", path, line, col, severity, msg);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n = 0;
	for (unsigned l = 1; l <= line && (n = getline(&buf, &cap, f)) >= 0; l++)
		;
	if (n > 0) {
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			n--;
		print_source_line(rw->diag, buf, (size_t)n, col);
	}
	free(buf);
	fclose(f);
}

void rw_clang_diagnostics(struct rw *rw)
{
	const struct visor_clang *lc = rw->lc;
	unsigned n = lc->clang_getNumDiagnostics(rw->tu);
	for (unsigned i = 0; i < n; i++) {
		CXDiagnostic d = lc->clang_getDiagnostic(rw->tu, i);
		enum CXDiagnosticSeverity sev = lc->clang_getDiagnosticSeverity(d);
		if (sev != CXDiagnostic_Warning && sev != CXDiagnostic_Error &&
		    sev != CXDiagnostic_Fatal) {
			lc->clang_disposeDiagnostic(d);
			continue;
		}
		char *msg = visor_clang_string(lc, lc->clang_getDiagnosticSpelling(d));
		CXSourceLocation loc = lc->clang_getDiagnosticLocation(d);
		CXFile file = NULL;
		unsigned line = 0, col = 0, off = 0;
		lc->clang_getFileLocation(loc, &file, &line, &col, &off);
		bool in_main = file && lc->clang_File_isEqual(file, rw->main_file);
		/* the prelude's and the kernel's headers are not the user's to fix */
		if (sev == CXDiagnostic_Warning && !in_main)
			goto next;
		bool as_error = false;
		char *better = msg ? improve(rw, msg, in_main, off, &as_error) : NULL;
		const char *text = better ? better : msg ? msg : "(no message)";
		if (as_error)
			sev = CXDiagnostic_Error;
		const char *severity = sev == CXDiagnostic_Warning ? "warning" : "error";
		if (in_main) {
			report_main(rw, off, severity, text);
		} else if (file) {
			char *path = visor_clang_string(lc, lc->clang_getFileName(file));
			report_header(rw, path ? path : "?", line, col, severity, text);
			free(path);
		} else {
			fprintf(rw->diag, "%s: %s: %s\n", rw->opts->path ? rw->opts->path : "<text>",
				severity, text);
		}
		free(better);
		if (sev == CXDiagnostic_Warning)
			rw->nwarnings++;
		else
			rw->nerrors++;
next:
		free(msg);
		lc->clang_disposeDiagnostic(d);
	}
}
