/* Replays every input kept under tests/fuzz/corpus/fuzz_isa/ through the
 * ISA fuzz target, in the normal and the sanitizer builds, so a crash once
 * found by libFuzzer stays fixed even where clang is absent. */
#include "testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#include "../tests/fuzz/fuzz_isa.c"

static void replay(const uint8_t *data, size_t len)
{
	LLVMFuzzerTestOneInput(data, len);
}

int main(void)
{
	test_replay_corpus("fuzz_isa", replay);
	return test_summary("test_fuzz_corpus");
}
