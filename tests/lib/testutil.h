/* Small helpers shared by the test programs: checks that count failures,
 * a one-line skip, and the scale factor that the sanitizer build lowers. */
#ifndef VISOR_TESTUTIL_H
#define VISOR_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int test_failures;
extern int test_checks;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		test_checks++;                                                  \
		if (!(cond)) {                                                  \
			test_failures++;                                        \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

#define CHECK_EQ_U64(a, b, what)                                                \
	do {                                                                    \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                \
		CHECK(a_ == b_, "%s: got 0x%llx, want 0x%llx", what,            \
		      (unsigned long long)a_, (unsigned long long)b_);          \
	} while (0)

/* Multiplies iteration counts; VISOR_TEST_SCALE=0.25 in the ASan build. */
double test_scale(void);
/* Prints "<test>: N passed, M failed" and returns the exit status. */
int test_summary(const char *name);
/* Prints "SKIP <test>: reason" on stdout; returns the exit status ctest maps
 * to a skip (77, see SKIP_RETURN_CODE). */
int test_skip(const char *name, const char *reason);
/* Feeds every file kept in tests/fuzz/corpus/<name>/ to fn (a fuzz
 * target's entry point), so libFuzzer's findings are replayed in every
 * build, clang or not. Returns how many inputs ran; an empty or missing
 * corpus is a failed check. */
int test_replay_corpus(const char *name, void (*fn)(const uint8_t *data, size_t len));
/* snprintf into an optional message buffer: does nothing when buf is NULL
 * or len is 0 (the library functions that report why take both). */
void test_format(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Reads a whole file; NULL on error. *len receives its size. */
char *test_read_file(const char *path, size_t *len);
/* Compiles BCC text with visor_bpf_new on visor's engine, the object (if
 * any) freed again (bpf_diag.c): visor_bpf_new's rc (0 too when it failed
 * yet handed out an object); *diag, malloc'd or NULL, the diagnostics the
 * API printed. */
int test_bpf_compile_diag(const char *text, char **diag, char *err, size_t err_len);

#endif
