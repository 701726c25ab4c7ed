/* Replays every input kept under tests/fuzz/corpus/fuzz_jit/ through the
 * JIT fuzz target, in the normal and the sanitizer builds, so a difference
 * or crash once found by libFuzzer stays fixed even where clang is absent. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define JITGEN_LINKED /* the test library has the generator */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#include "fuzz/fuzz_jit.c"

int main(void)
{
	const char *dir = VISOR_SOURCE_DIR "/tests/fuzz/corpus/fuzz_jit";
	DIR *d;
	struct dirent *e;
	int n = 0;

	if (!visor_vm_jit_supported())
		return test_skip("test_jit_fuzz_corpus", "the JIT supports x86-64 only");
	d = opendir(dir);
	CHECK(d != NULL, "cannot open %s", dir);
	if (!d)
		return test_summary("test_jit_fuzz_corpus");
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
		test_checks++;
		LLVMFuzzerTestOneInput((const uint8_t *)buf, len); /* aborts on a difference */
		free(buf);
		n++;
	}
	closedir(d);
	CHECK(n > 0, "corpus %s is empty", dir);
	printf("test_jit_fuzz_corpus: replayed %d inputs\n", n);
	return test_summary("test_jit_fuzz_corpus");
}
