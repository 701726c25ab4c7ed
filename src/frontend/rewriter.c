/* fe_rewrite: the BCC dialect to libbpf-style C (see frontend_internal.h).
 * libclang parses the user's text with bcc/helpers.h in its parse mode
 * (-D__VISOR_PARSE__); the passes turn the AST into text edits; the edits
 * are applied to the user's text, keeping every newline where it was. */
#define _GNU_SOURCE
#include "frontend/rewriter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RW_ERR(rc, ...) (snprintf(err, err_len, __VA_ARGS__), (rc))

/* libbpf and the kernel want a license; BCC programs never say one. It goes
 * before the first function, on that function's line. */
static void add_license(struct rw *rw)
{
	if (memmem(rw->text, rw->len, "\"license\"", 9) || !rw->nfuncs)
		return;
	size_t first = rw->len;
	for (size_t i = 0; i < rw->nfuncs; i++) {
		unsigned off;
		CXSourceRange r = rw->lc->clang_getCursorExtent(rw->funcs[i]->node->cur);
		if (rw_is_main_file(rw, rw->lc->clang_getRangeStart(r), &off) && off < first)
			first = off;
	}
	if (first < rw->len)
		rw_insert(rw, first, -1000,
			  "char _license[] __attribute__((section(\"license\"), used)) = \"GPL\"; ");
}

static size_t count_newlines(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += s[i] == '\n';
	return c;
}

static int finish_diags(struct rw *rw, struct fe_rewrite_result *res)
{
	if (rw->diag)
		fclose(rw->diag);
	rw->diag = NULL;
	res->diags = rw->diag_buf ? rw->diag_buf : strdup("");
	rw->diag_buf = NULL;
	res->nerrors = rw->nerrors;
	res->nwarnings = rw->nwarnings;
	return res->diags ? 0 : -ENOMEM;
}

int fe_rewrite(const struct fe_rewrite_opts *opts, struct fe_rewrite_result *res, char *err,
	       size_t err_len)
{
	memset(res, 0, sizeof(*res));
	if (!opts || !opts->text)
		return RW_ERR(-EINVAL, "fe_rewrite: no source text");
	const struct visor_clang *lc = visor_clang_load(err, err_len);
	if (!lc)
		return -ENOEXEC;

	struct rw rw = {.lc = lc, .opts = opts, .text = opts->text, .len = opts->len};
	const char *path = opts->path ? opts->path : "<text>.c";
	rw.diag = open_memstream(&rw.diag_buf, &rw.diag_len);
	const char **args = calloc(opts->nargs + 4, sizeof(*args));
	if (!rw.diag || !args) {
		free(args);
		if (rw.diag)
			fclose(rw.diag);
		free(rw.diag_buf);
		return RW_ERR(-ENOMEM, "fe_rewrite: out of memory");
	}
	/* C whatever the name ("<text>" has no .c to say so) */
	size_t na = 0;
	args[na++] = "-x";
	args[na++] = "c";
	for (size_t i = 0; i < opts->nargs; i++)
		args[na++] = opts->clang_args[i];
	args[na++] = "-D__VISOR_PARSE__";

	/* 1: only the user's declarations are walked, not the PCH's */
	CXIndex index = lc->clang_createIndex(1, 0);
	struct CXUnsavedFile unsaved = {path, opts->text, (unsigned long)opts->len};
	enum CXErrorCode pe = lc->clang_parseTranslationUnit2(
		index, path, args, (int)na, &unsaved, 1,
		CXTranslationUnit_DetailedPreprocessingRecord | CXTranslationUnit_KeepGoing, &rw.tu);
	free(args);
	int rc = 0;
	if (pe != CXError_Success || !rw.tu) {
		rc = RW_ERR(-EIO, "libclang-19 could not parse %s (error %d)", path, (int)pe);
		goto out;
	}
	rw.main_file = lc->clang_getFile(rw.tu, path);

	/* the tables are known before clang's messages are reworded */
	rc = rw_ast_build(&rw);
	if (rc) {
		rc = RW_ERR(rc, "fe_rewrite: out of memory");
		goto out;
	}
	rw_clang_diagnostics(&rw);
	/* the dialect's own checks also run on a source with errors, so one
	 * compile reports all it can */
	rw_sections(&rw);
	rw_tables(&rw);
	rw_printk(&rw);
	if (rw.nerrors) {
		rc = RW_ERR(-EINVAL, "%s: %d error%s", path, rw.nerrors, rw.nerrors > 1 ? "s" : "");
		goto out;
	}
	rw_kprobe_args(&rw);
	rw_probe_reads(&rw);
	rw_packet(&rw);
	add_license(&rw);
	if (rw.oom) {
		rc = RW_ERR(-ENOMEM, "fe_rewrite: out of memory");
		goto out;
	}
	if (rw.nerrors) {
		rc = RW_ERR(-EINVAL, "%s: %d error%s", path, rw.nerrors, rw.nerrors > 1 ? "s" : "");
		goto out;
	}
	rc = rw_edits_apply(&rw, &res->text, &res->len);
	if (rc) {
		rc = RW_ERR(rc, "fe_rewrite: %s", rc == -ENOMEM ? "out of memory"
								 : "internal error: overlapping edits");
		goto out;
	}
	if (count_newlines(res->text, res->len) != count_newlines(rw.text, rw.len)) {
		free(res->text);
		res->text = NULL;
		res->len = 0;
		rc = RW_ERR(-EINVAL, "fe_rewrite: internal error: the rewrite moved lines");
	}
out:
	if (finish_diags(&rw, res) && !rc)
		rc = RW_ERR(-ENOMEM, "fe_rewrite: out of memory");
	rw_edits_free(&rw);
	rw_ast_free(&rw);
	if (rw.tu)
		lc->clang_disposeTranslationUnit(rw.tu);
	lc->clang_disposeIndex(index);
	if (rc) {
		free(res->text);
		res->text = NULL;
		res->len = 0;
	}
	return rc;
}

void fe_rewrite_result_free(struct fe_rewrite_result *res)
{
	if (!res)
		return;
	free(res->text);
	free(res->diags);
	res->text = res->diags = NULL;
}
