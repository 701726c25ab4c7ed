#include "testutil.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>

int test_failures;
int test_checks;

double test_scale(void)
{
	const char *s = getenv("VISOR_TEST_SCALE");
	double v = s ? atof(s) : 1.0;
	return v > 0 ? v : 1.0;
}

int test_summary(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, test_checks - test_failures, test_failures);
	return test_failures ? 1 : 0;
}

int test_skip(const char *name, const char *reason)
{
	printf("SKIP %s: %s\n", name, reason);
	return 77;
}

void test_format(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

int test_replay_corpus(const char *name, void (*fn)(const uint8_t *data, size_t len))
{
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", VISOR_SOURCE_DIR, name);
	DIR *d = opendir(dir);
	CHECK(d != NULL, "cannot open %s", dir);
	if (!d)
		return 0;
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[2048];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		size_t len;
		char *buf = test_read_file(path, &len);
		CHECK(buf != NULL, "cannot read %s", path);
		if (!buf)
			continue;
		test_checks++;
		fn((const uint8_t *)buf, len); /* a target aborts on a finding */
		free(buf);
		n++;
	}
	closedir(d);
	CHECK(n > 0, "corpus %s is empty", dir);
	printf("%s: replayed %d inputs\n", name, n);
	return n;
}
