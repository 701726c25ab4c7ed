/* Replays every input kept under tests/fuzz/corpus/ through the fuzz
 * targets' entry points, in the normal and the sanitizer builds, so a crash
 * once found by libFuzzer stays fixed even where clang is absent. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#include "../tests/fuzz/fuzz_isa.c"

int main(void)
{
	const char *dir = VISOR_SOURCE_DIR "/tests/fuzz/corpus/fuzz_isa";
	DIR *d = opendir(dir);
	CHECK(d != NULL, "cannot open %s", dir);
	if (!d)
		return test_summary("test_fuzz_corpus");
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		size_t len;
		char *buf = test_read_file(path, &len);
		CHECK(buf != NULL, "cannot read %s", path);
		if (!buf)
			continue;
		LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
		free(buf);
		n++;
	}
	closedir(d);
	CHECK(n > 0, "corpus %s is empty", dir);
	printf("test_fuzz_corpus: replayed %d inputs\n", n);
	return test_summary("test_fuzz_corpus");
}
