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
 * r2 = mem_len), with be's budget (0: none) and flags. It returns 0 with *r0
 * set, or a negative errno with a message naming the stage ("load: ...",
 * "exec: ..."). available (NULL: always) tells whether the backend works on
 * this host, and why not. One run function may serve several entries that
 * differ in budget or flags (a JIT with and without a budget, hardened...). */
struct backend {
	const char *name;
	int (*run)(const struct backend *be, const struct visor_insn *insns, size_t count,
		   void *mem, size_t mem_len, uint64_t *r0, char *msg, size_t msg_len);
	bool (*available)(char *why, size_t why_len);
	uint64_t budget;
	unsigned flags;
};

/* A fresh VM in unsafe mode with the bpf_conformance helpers and the
 * program loaded. */
static struct visor_vm *vm_with(const struct visor_insn *insns, size_t count, int *err,
				char *msg, size_t msg_len)
{
	struct visor_vm *vm = visor_vm_create();

	if (!vm) {
		snprintf(msg, msg_len, "visor_vm_create failed");
		*err = -ENOMEM;
		return NULL;
	}
	/* Unsafe mode: the bpf_conformance data tests ISA semantics, with
	 * programs no verifier accepts (unbounded pointers, division by a
	 * register ...); every access is checked at run time. */
	visor_vm_set_unsafe(vm, true);
	*err = visor_conformance_register_helpers(vm);
	if (*err) {
		snprintf(msg, msg_len, "registering helpers: %s", visor_vm_errmsg(vm));
		visor_vm_destroy(vm);
		return NULL;
	}
	*err = visor_vm_load(vm, insns, count);
	if (*err) {
		snprintf(msg, msg_len, "load: %s", visor_vm_errmsg(vm));
		visor_vm_destroy(vm);
		return NULL;
	}
	return vm;
}

static int run_interp(const struct backend *be, const struct visor_insn *insns, size_t count,
		      void *mem, size_t mem_len, uint64_t *r0, char *msg, size_t msg_len)
{
	char errbuf[VISOR_ERRMSG_LEN] = "";
	int err;
	struct visor_vm *vm = vm_with(insns, count, &err, msg, msg_len);

	if (!vm)
		return err;
	VISOR_OPTS(visor_vm_exec_opts, opts, .mem = mem, .mem_len = mem_len, .budget = be->budget,
		   .errbuf = errbuf, .errbuf_len = sizeof(errbuf));
	err = visor_vm_exec(vm, &opts, r0);
	if (err)
		snprintf(msg, msg_len, "exec: %s", errbuf[0] ? errbuf : visor_vm_errmsg(vm));
	visor_vm_destroy(vm);
	return err;
}

/* The JIT: compiled with be->flags; the plain variant runs without a
 * budget, the counting one with it. */
static int run_jit(const struct backend *be, const struct visor_insn *insns, size_t count,
		   void *mem, size_t mem_len, uint64_t *r0, char *msg, size_t msg_len)
{
	char errbuf[VISOR_ERRMSG_LEN] = "";
	int err;
	struct visor_vm *vm = vm_with(insns, count, &err, msg, msg_len);

	if (!vm)
		return err;
	err = visor_vm_jit_compile(vm, be->flags);
	if (err) {
		snprintf(msg, msg_len, "jit: %s", visor_vm_errmsg(vm));
		visor_vm_destroy(vm);
		return err;
	}
	VISOR_OPTS(visor_vm_exec_opts, opts, .mem = mem, .mem_len = mem_len, .budget = be->budget,
		   .errbuf = errbuf, .errbuf_len = sizeof(errbuf), .engine = VISOR_ENGINE_JIT);
	err = visor_vm_exec(vm, &opts, r0);
	if (err)
		snprintf(msg, msg_len, "exec: %s", errbuf[0] ? errbuf : visor_vm_errmsg(vm));
	visor_vm_destroy(vm);
	return err;
}

static bool jit_available(char *why, size_t why_len)
{
	if (visor_vm_jit_supported())
		return true;
	snprintf(why, why_len, "the JIT supports x86-64 only");
	return false;
}

static const struct backend backends[] = {
	{"interp", run_interp, NULL, RUN_BUDGET, 0},
	{"jit", run_jit, jit_available, RUN_BUDGET, 0},
	{"jit-nobudget", run_jit, jit_available, 0, 0},
	{"jit-harden", run_jit, jit_available, RUN_BUDGET, VISOR_JIT_HARDEN},
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

/* Returns p grown to hold need bytes (capacity *cap), or NULL with p
 * untouched. Doubling keeps files of many lines linear: ASan's realloc
 * always copies. */
static void *grow(void *p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *np = realloc(p, n);
	if (np)
		*cap = n;
	return np;
}

struct bytes {
	uint8_t *data;
	size_t len, cap;
};

/* Appends a line of hex byte pairs ("00 01 ff", "0001ff") to b. */
static int parse_hex_line(const char *line, struct bytes *b, char *why, size_t why_len)
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
		uint8_t *nb = grow(b->data, &b->cap, b->len + 1);
		if (!nb) {
			snprintf(why, why_len, "out of memory");
			return -1;
		}
		b->data = nb;
		char pair[3] = {p[0], p[1], 0};
		b->data[b->len++] = (uint8_t)strtoul(pair, NULL, 16);
		p += 2;
	}
	return 0;
}

static int append_text(char **text, size_t *len, size_t *cap, const char *line)
{
	size_t n = strlen(line);
	char *nt = grow(*text, cap, *len + n + 2);
	if (!nt)
		return -1;
	*text = nt;
	memcpy(*text + *len, line, n);
	(*text)[*len + n] = '\n';
	(*text)[*len + n + 1] = 0;
	*len += n + 1;
	return 0;
}

/* Parses one .data file. Returns 0, or -1 with the reason in why. */
static int parse_case(char *text, struct isa_case *c, char *why, size_t why_len)
{
	enum { S_NONE, S_ASM, S_MEM, S_RESULT, S_ERROR, S_MEM_AFTER } sect = S_NONE;
	size_t asm_len = 0, asm_cap = 0;
	struct bytes mem = {0}, after = {0};
	bool has_asm = false;
	int lineno = 0, ret = -1;

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
				goto out;
			}
			line = nl ? nl + 1 : NULL;
			continue;
		}
		/* The asm text is kept verbatim (blank lines too) for visor_asm. */
		if (sect == S_ASM) {
			if (append_text(&c->asm_text, &asm_len, &asm_cap, line)) {
				snprintf(why, why_len, "out of memory");
				goto out;
			}
			line = nl ? nl + 1 : NULL;
			continue;
		}
		char *t = trim(line), *end;
		switch (sect) {
		case S_MEM:
		case S_MEM_AFTER:
			if (parse_hex_line(t, sect == S_MEM ? &mem : &after, why, why_len))
				goto out;
			break;
		case S_RESULT:
			if (!*t || *t == '#')
				break;
			errno = 0;
			c->result = strtoull(t, &end, 16);
			if (c->has_result || errno || end == t || *trim(end)) {
				snprintf(why, why_len, "line %d: the result must be one hex number", lineno);
				goto out;
			}
			c->has_result = true;
			break;
		case S_ERROR:
			if (!*t || *t == '#' || c->error)
				break;
			c->error = strdup(t);
			if (!c->error) {
				snprintf(why, why_len, "out of memory");
				goto out;
			}
			break;
		default: /* before the first section: comments only */
			if (*t && *t != '#') {
				snprintf(why, why_len, "line %d: text before the first section", lineno);
				goto out;
			}
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!has_asm || !c->asm_text) {
		snprintf(why, why_len, "no -- asm section");
		goto out;
	}
	if (c->has_result == !!c->error) {
		snprintf(why, why_len, "needs exactly one of -- result and -- error");
		goto out;
	}
	if (c->has_mem_after && after.len != mem.len) {
		snprintf(why, why_len, "mem-after has %zu bytes, mem has %zu", after.len, mem.len);
		goto out;
	}
	ret = 0;
out:
	c->mem = mem.data;
	c->mem_len = mem.len;
	c->mem_after = after.data;
	c->mem_after_len = after.len;
	return ret;
}

/* ---- Running ------------------------------------------------------------ */

static bool verbose;

/* Prints one failure line; the caller counts the case as failed once. */
static void fail(const char *backend, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(const char *backend, const char *file, const char *fmt, ...)
{
	va_list ap;

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

/* Runs one case on one backend; returns true if it behaved as expected. */
static bool run_case(const struct backend *be, const char *file, const struct isa_case *c,
		     const struct visor_insn *insns, size_t count)
{
	char msg[MSG_LEN] = "";
	uint64_t r0 = 0;
	uint8_t *mem = NULL;
	bool ok = true;

	/* A fresh buffer of exactly the right size: an overrun by the engine
	 * shows up under ASan instead of landing in slack. */
	if (c->mem_len) {
		mem = malloc(c->mem_len);
		if (!mem) {
			fail(be->name, file, "out of memory");
			return false;
		}
		memcpy(mem, c->mem, c->mem_len);
	}
	int err = be->run(be, insns, count, mem, c->mem_len, &r0, msg, sizeof(msg));
	if (c->error && !err) {
		fail(be->name, file, "expected an error containing \"%s\", got r0 = 0x%llx", c->error,
		     (unsigned long long)r0);
		ok = false;
	} else if (c->error && !icontains(msg, c->error)) {
		fail(be->name, file, "error \"%s\" does not contain \"%s\"", msg, c->error);
		ok = false;
	} else if (!c->error && err) {
		fail(be->name, file, "unexpected error %d: %s", err, msg);
		ok = false;
	} else if (!c->error && r0 != c->result) {
		fail(be->name, file, "r0 = 0x%llx, want 0x%llx", (unsigned long long)r0,
		     (unsigned long long)c->result);
		ok = false;
	}
	/* The memory is compared whenever the run ended the expected way. */
	if (c->has_mem_after && !err == !c->error) {
		for (size_t i = 0; i < c->mem_len; i++) {
			if (mem[i] != c->mem_after[i]) {
				fail(be->name, file, "mem[%zu] = %02x after the run, want %02x", i,
				     mem[i], c->mem_after[i]);
				ok = false;
				break;
			}
		}
	}
	if (ok && verbose) {
		if (c->error)
			printf("ok   [%s] %s: %s\n", be->name, file, msg);
		else
			printf("ok   [%s] %s: r0 = 0x%llx\n", be->name, file, (unsigned long long)r0);
	}
	free(mem);
	return ok;
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
		test_failures++;
		fail("-", file, "cannot read %s: %s", path, strerror(errno));
		return;
	}
	if (parse_case(text, &c, why, sizeof(why))) {
		test_checks++;
		test_failures++;
		fail("-", file, "bad test file: %s", why);
		goto out;
	}
	if (visor_asm(c.asm_text, &insns, &count, why, sizeof(why))) {
		test_checks++;
		test_failures++;
		fail("asm", file, "%s", why);
		goto out;
	}
	/* One check per backend and file. */
	for (size_t i = 0; i < NBACKENDS; i++) {
		if (!use[i])
			continue;
		test_checks++;
		if (!run_case(&backends[i], file, &c, insns, count))
			test_failures++;
	}
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
		} else if (nfilters == (int)(sizeof(filters) / sizeof(filters[0]))) {
			fprintf(stderr, "too many filters\n");
			return 2;
		} else {
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
