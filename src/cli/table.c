#define _GNU_SOURCE /* vasprintf */
/* Aligned text tables for the `visor` command, BCC-tool style: a header row,
 * columns padded to their widest cell, two spaces between columns. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_table_init(struct cli_table *t, size_t ncols, const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols < CLI_TABLE_MAX_COLS ? ncols : CLI_TABLE_MAX_COLS;
	cli_table_row(t);
	for (size_t c = 0; c < t->ncols; c++) {
		const char *h = headers[c];
		t->right[c] = h[0] == '>'; /* ">COUNT": a right-aligned number column */
		cli_table_cell(t, "%s", h + t->right[c]);
	}
}

void cli_table_row(struct cli_table *t)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **cells = realloc(t->cells, cap * CLI_TABLE_MAX_COLS * sizeof(*cells));
		if (!cells) {
			t->oom = 1;
			return;
		}
		memset(cells + t->cap * CLI_TABLE_MAX_COLS, 0,
		       (cap - t->cap) * CLI_TABLE_MAX_COLS * sizeof(*cells));
		t->cells = cells;
		t->cap = cap;
	}
	t->nrows++;
	t->col = 0;
}

void cli_table_cell(struct cli_table *t, const char *fmt, ...)
{
	if (t->oom || !t->nrows || t->col >= t->ncols)
		return;
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	t->cells[(t->nrows - 1) * CLI_TABLE_MAX_COLS + t->col++] = s;
}

void cli_table_print(struct cli_table *t, FILE *out)
{
	size_t w[CLI_TABLE_MAX_COLS] = {0};
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * CLI_TABLE_MAX_COLS + c];
			if (s && strlen(s) > w[c])
				w[c] = strlen(s);
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * CLI_TABLE_MAX_COLS + c];
			int last = c + 1 == t->ncols;
			if (t->right[c])
				fprintf(out, "%*s", (int)w[c], s ? s : "");
			else if (last)
				fputs(s ? s : "", out); /* no trailing blanks */
			else
				fprintf(out, "%-*s", (int)w[c], s ? s : "");
			fputs(last ? "\n" : "  ", out);
		}
	}
}

void cli_table_free(struct cli_table *t)
{
	for (size_t i = 0; i < t->nrows * CLI_TABLE_MAX_COLS; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void cli_hexdump(FILE *out, const void *data, size_t len, const char *indent)
{
	const uint8_t *p = data;
	for (size_t off = 0; off < len; off += 16) {
		fprintf(out, "%s%08zx ", indent, off);
		for (size_t i = 0; i < 16; i++) {
			if (i == 8)
				fputc(' ', out);
			if (off + i < len)
				fprintf(out, " %02x", p[off + i]);
			else
				fputs("   ", out);
		}
		fputs("  |", out);
		for (size_t i = 0; i < 16 && off + i < len; i++)
			fputc(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.', out);
		fputs("|\n", out);
	}
}

void cli_hex_bytes(FILE *out, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%s%02x", i ? " " : "", p[i]);
}
