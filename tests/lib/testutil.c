#include "testutil.h"

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
