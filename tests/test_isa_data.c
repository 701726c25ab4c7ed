/* Runs the instruction-semantics corpus, the .data files in tests/isa, on
 * every execution backend. The files use the bpf_conformance format:
 *
 *   # comment
 *   -- asm          program text for visor_asm()
 *   -- mem          optional input bytes in hex; r1 = their address, r2 = length
 *   -- result       expected r0 in hex ("0x" optional), or
 *   -- error        a substring (any case) of the expected load or run error
 *   -- mem-after    optional: the input memory expected after the run
 *
 * Usage: test_isa_data [-v] [--backend=NAME]... [FILTER]...
 * FILTERs select files whose name contains one of them. An assembler error
 * always fails the case: negative tests encode bad instructions with .raw so
 * that they reach the loader. */
#define _GNU_SOURCE /* strcasestr */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <visor/conformance.h>
#include <visor/visor.h>

#include "testutil.h"

#define ISA_DIR VISOR_SOURCE_DIR "/tests/isa"
#define MSG_LEN 512
/* Safety net so that a jump bug loops for a moment, not forever. */
#define RUN_BUDGET (1ull << 24)

struct isa_case {
	char *asm_text;
	uint8_t *mem, *mem_after;
	size_t mem_len, mem_after_len;
	bool has_mem, has_mem_after, has_result;
	uint64_t result;
	char *error; /* expected error substring, or NULL */
};

/* ---- Backends ----------------------------------------------------------- */

/* run loads insns into a fresh engine and runs it once on mem (r1 = mem,
 * r2 = mem_len). It returns 0 with *r0 set, or a negative errno with a
 * message naming the stage ("load: ...", "exec: "...). available (NULL:
 * always) tells whether the backend works on this host, and why not. */
struct backend {
	const char *name;
	int (*run)(const struct visor_insn *insns, size_t count, void *mem, size_t mem_len,
		   uint64_t *r0, char *msg, size_t msg_len);
	bool (*available)(char *why, size_t why_len);
};

static int run_interp(const struct visor_insn *insns, size_t count, void *mem, size_t mem_len,
		      uint64_t *r0, char *msg, size_t msg_len)
{
	struct visor_vm *vm = visor_vm_create();
	char errbuf[VISOR_ERRMSG_LEN] = "";
	int err;

	if (!vm) {
		snprintf(msg, msg_len, "visor_vm_create failed");
		return -ENOMEM;
	}
	err = visor_conformance_register_helpers(vm);
	if (err) {
		snprintf(msg, msg_len, "registering helpers: %s", visor_vm_errmsg(vm));
		goto out;
	}
	err = visor_vm_load(vm, insns, count);
	if (err) {
		snprintf(msg, msg_len, "load: %s", visor_vm_errmsg(vm));
		goto out;
	}
	VISOR_OPTS(visor_vm_exec_opts, opts, .mem = mem, .mem_len = mem_len, .budget = RUN_BUDGET,
		   .errbuf = errbuf, .errbuf_len = sizeof(errbuf));
	err = visor_vm_exec(vm, &opts, r0);
	if (err)
		snprintf(msg, msg_len, "exec: %s", errbuf[0] ? errbuf : visor_vm_errmsg(vm));
out:
	visor_vm_destroy(vm);
	return err;
}

static const struct backend backends[] = {
	{"interp", run_interp, NULL},
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

/* ---- Parsing ------------------------------------------------------------ */

static void case_free(struct isa_case *c)
{
	free(c->asm_text);
	free(c->mem);
	free(c->mem_after);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* Appends a line of hex byte pairs ("00 01 ff", "0001ff") to *buf. */
static int parse_hex_line(const char *line, uint8_t **buf, size_t *len, char *why, size_t why_len)
{
	for (const char *p = line; *p;) {
		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		if (*p == '#')
			break;
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1])) {
			snprintf(why, why_len, "bad hex byte at '%.8s'", p);
			return -1;
		}
		uint8_t *nb = realloc(*buf, *len + 1);
		if (!nb) {
			snprintf(why, why_len, "out of memory");
			return -1;
		}
		*buf = nb;
		char pair[3] = {p[0], p[1], 0};
		nb[(*len)++] = (uint8_t)strtoul(pair, NULL, 16);
		p += 2;
	}
	return 0;
}

static int append_text(char **text, size_t *len, const char *line)
{
	size_t n = strlen(line);
	char *nt = realloc(*text, *len + n + 2);
	if (!nt)
		return -1;
	memcpy(nt + *len, line, n);
	nt[*len + n] = '\n';
	nt[*len + n + 1] = 0;
	*text = nt;
	*len += n + 1;
	return 0;
}

/* Parses one .data file. Returns 0, or -1 with the reason in why. */
static int parse_case(char *text, struct isa_case *c, char *why, size_t why_len)
{
	enum { S_NONE, S_ASM, S_MEM, S_RESULT, S_ERROR, S_MEM_AFTER } sect = S_NONE;
	size_t asm_len = 0;
	bool has_asm = false;
	int lineno = 0;

	/* Lines are walked by hand, not with strtok, so that empty asm lines
	 * survive and the assembler's line numbers stay meaningful. */
	for (char *line = text; line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		lineno++;
		if (strncmp(line, "-- ", 3) == 0) {
			char *name = trim(line + 3);
			if (!strcmp(name, "asm")) {
				sect = S_ASM;
				has_asm = true;
			} else if (!strcmp(name, "mem")) {
				sect = S_MEM;
				c->has_mem = true;
			} else if (!strcmp(name, "result")) {
				sect = S_RESULT;
			} else if (!strcmp(name, "error")) {
				sect = S_ERROR;
			} else if (!strcmp(name, "mem-after")) {
				sect = S_MEM_AFTER;
				c->has_mem_after = true;
			} else {
				snprintf(why, why_len, "line %d: unknown section '%s'", lineno, name);
				return -1;
			}
		} else {
			char *t = trim(line);
			switch (sect) {
			case S_NONE:
				if (*t && *t != '#') {
					snprintf(why, why_len, "line %d: text before the first section",
						 lineno);
					return -1;
				}
				break;
			case S_ASM:
				/* Kept verbatim (even blank) so asm line numbers match the file's
				 * lines after the header. */
				if (append_text(&c->asm_text, &asm_len, line)) {
					snprintf(why, why_len, "out of memory");
					return -1;
				}
				break;
			case S_MEM:
				if (parse_hex_line(t, &c->mem, &c->mem_len, why, why_len))
					return -1;
				break;
			case S_MEM_AFTER:
				if (parse_hex_line(t, &c->mem_after, &c->mem_after_len, why, why_len))
					return -1;
				break;
			case S_RESULT:
				if (!*t || *t == '#')
					break;
				if (c->has_result) {
					snprintf(why, why_len, "line %d: second result value", lineno);
					return -1;
				}
				char *end;
				errno = 0;
				c->result = strtoull(t, &end, 16);
				if (errno || end == t || *trim(end)) {
					snprintf(why, why_len, "line %d: result '%s' is not a hex number",
						 lineno, t);
					return -1;
				}
				c->has_result = true;
				break;
			case S_ERROR:
				if (!*t || *t == '#' || c->error)
					break;
				c->error = strdup(t);
				if (!c->error) {
					snprintf(why, why_len, "out of memory");
					return -1;
				}
				break;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!has_asm || !c->asm_text) {
		snprintf(why, why_len, "no -- asm section");
		return -1;
	}
	if (c->has_result == !!c->error) {
		snprintf(why, why_len, "needs exactly one of -- result and -- error");
		return -1;
	}
	if (c->has_mem_after && c->mem_after_len != c->mem_len) {
		snprintf(why, why_len, "mem-after has %zu bytes, mem has %zu", c->mem_after_len,
			 c->mem_len);
		return -1;
	}
	return 0;
}

/* ---- Running ------------------------------------------------------------ */

static bool verbose;

static void fail(const char *backend, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(const char *backend, const char *file, const char *fmt, ...)
{
	va_list ap;

	test_failures++;
	fprintf(stderr, "FAIL [%s] %s: ", backend, file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool icontains(const char *hay, const char *needle)
{
	return strcasestr(hay, needle) != NULL;
}

static void run_case(const struct backend *be, const char *file, const struct isa_case *c,
		     const struct visor_insn *insns, size_t count)
{
	char msg[MSG_LEN] = "";
	uint64_t r0 = 0;
	uint8_t *mem = NULL;

	test_checks++;
	/* A fresh buffer of exactly the right size: an overrun by the engine
	 * shows up under ASan instead of landing in slack. */
	if (c->mem_len) {
		mem = malloc(c->mem_len);
		if (!mem) {
			fail(be->name, file, "out of memory");
			return;
		}
		memcpy(mem, c->mem, c->mem_len);
	}
	int err = be->run(insns, count, mem, c->mem_len, &r0, msg, sizeof(msg));
	if (c->error) {
		if (!err)
			fail(be->name, file, "expected an error containing \"%s\", got r0 = 0x%llx",
			     c->error, (unsigned long long)r0);
		else if (!icontains(msg, c->error))
			fail(be->name, file, "error \"%s\" does not contain \"%s\"", msg, c->error);
		else if (verbose)
			printf("ok   [%s] %s: %s\n", be->name, file, msg);
	} else {
		if (err)
			fail(be->name, file, "unexpected error %d: %s", err, msg);
		else if (r0 != c->result)
			fail(be->name, file, "r0 = 0x%llx, want 0x%llx", (unsigned long long)r0,
			     (unsigned long long)c->result);
		else if (verbose)
			printf("ok   [%s] %s: r0 = 0x%llx\n", be->name, file, (unsigned long long)r0);
	}
	if (c->has_mem_after && (c->error ? err != 0 : err == 0)) {
		for (size_t i = 0; i < c->mem_len; i++) {
			if (mem[i] != c->mem_after[i]) {
				fail(be->name, file, "mem[%zu] = %02x after the run, want %02x", i,
				     mem[i], c->mem_after[i]);
				break;
			}
		}
	}
	free(mem);
}

static void run_file(const char *dir, const char *file, const bool *use)
{
	char path[4096], why[MSG_LEN] = "";
	struct isa_case c = {0};
	struct visor_insn *insns = NULL;
	size_t count = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	char *text = test_read_file(path, NULL);
	if (!text) {
		test_checks++;
		fail("-", file, "cannot read %s: %s", path, strerror(errno));
		return;
	}
	if (parse_case(text, &c, why, sizeof(why))) {
		test_checks++;
		fail("-", file, "bad test file: %s", why);
		goto out;
	}
	if (visor_asm(c.asm_text, &insns, &count, why, sizeof(why))) {
		test_checks++;
		fail("asm", file, "%s", why);
		goto out;
	}
	for (size_t i = 0; i < NBACKENDS; i++)
		if (use[i])
			run_case(&backends[i], file, &c, insns, count);
out:
	free(insns);
	case_free(&c);
	free(text);
}

static int is_data_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 5 && !strcmp(d->d_name + n - 5, ".data");
}

int main(int argc, char **argv)
{
	bool use[NBACKENDS], any_backend = false;
	const char *filters[64];
	int nfilters = 0;

	memset(use, 0, sizeof(use));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-v")) {
			verbose = true;
		} else if (!strncmp(a, "--backend=", 10)) {
			size_t b;
			for (b = 0; b < NBACKENDS; b++)
				if (!strcmp(a + 10, backends[b].name))
					break;
			if (b == NBACKENDS) {
				fprintf(stderr, "unknown backend '%s'; have:", a + 10);
				for (b = 0; b < NBACKENDS; b++)
					fprintf(stderr, " %s", backends[b].name);
				fputc('\n', stderr);
				return 2;
			}
			use[b] = any_backend = true;
		} else if (a[0] == '-') {
			fprintf(stderr, "usage: %s [-v] [--backend=NAME]... [FILTER]...\n", argv[0]);
			return 2;
		} else if (nfilters < (int)(sizeof(filters) / sizeof(filters[0]))) {
			filters[nfilters++] = a;
		}
	}
	if (!any_backend)
		for (size_t b = 0; b < NBACKENDS; b++)
			use[b] = true;
	any_backend = false;
	for (size_t b = 0; b < NBACKENDS; b++) {
		char why[256] = "";
		if (use[b] && backends[b].available && !backends[b].available(why, sizeof(why))) {
			printf("backend %s not available, its cases are skipped: %s\n",
			       backends[b].name, why);
			use[b] = false;
		}
		any_backend |= use[b];
	}
	if (!any_backend)
		return test_skip("test_isa_data", "no backend available");
	/* One order for the ok and FAIL lines when both go to a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct dirent **names;
	int n = scandir(ISA_DIR, &names, is_data_file, alphasort);
	if (n < 0) {
		fprintf(stderr, "cannot list %s: %s\n", ISA_DIR, strerror(errno));
		return 1;
	}
	int files = 0;
	for (int i = 0; i < n; i++) {
		bool pick = nfilters == 0;
		for (int f = 0; f < nfilters && !pick; f++)
			pick = strstr(names[i]->d_name, filters[f]) != NULL;
		if (pick) {
			run_file(ISA_DIR, names[i]->d_name, use);
			files++;
		}
		free(names[i]);
	}
	free(names);
	if (files == 0) {
		fprintf(stderr, "no .data file in %s matched\n", ISA_DIR);
		return 1;
	}
	return test_summary("test_isa_data");
}
