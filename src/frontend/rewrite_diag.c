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

void rw_error(struct rw *rw, size_t off, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	report_main(rw, off, "error", msg ? msg : fmt);
	free(msg);
	rw->nerrors++;
}

void rw_warning(struct rw *rw, size_t off, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	report_main(rw, off, "warning", msg ? msg : fmt);
	free(msg);
	rw->nwarnings++;
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

/* clang's words for a wrong table method or a type the kernel lacks,
 * in the dialect's terms. */
static char *improve(struct rw *rw, const char *msg)
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
		const char *severity = sev == CXDiagnostic_Warning ? "warning" : "error";
		char *msg = visor_clang_string(lc, lc->clang_getDiagnosticSpelling(d));
		CXSourceLocation loc = lc->clang_getDiagnosticLocation(d);
		CXFile file = NULL;
		unsigned line = 0, col = 0, off = 0;
		lc->clang_getFileLocation(loc, &file, &line, &col, &off);
		bool in_main = file && lc->clang_File_isEqual(file, rw->main_file);
		/* the prelude's and the kernel's headers are not the user's to fix */
		if (sev == CXDiagnostic_Warning && !in_main)
			goto next;
		char *better = msg ? improve(rw, msg) : NULL;
		const char *text = better ? better : msg ? msg : "(no message)";
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
