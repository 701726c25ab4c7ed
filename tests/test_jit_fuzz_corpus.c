/* Replays every input kept under tests/fuzz/corpus/fuzz_jit/ through the
 * JIT fuzz target, in the normal and the sanitizer builds, so a difference
 * or crash once found by libFuzzer stays fixed even where clang is absent. */
#include "testutil.h"

#define JITGEN_LINKED /* the test library has the generator */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#include "fuzz/fuzz_jit.c"

static void replay(const uint8_t *data, size_t len)
{
	LLVMFuzzerTestOneInput(data, len); /* aborts on a difference */
}

int main(void)
{
	if (!visor_vm_jit_supported())
		return test_skip("test_jit_fuzz_corpus", "the JIT supports x86-64 only");
	test_replay_corpus("fuzz_jit", replay);
	return test_summary("test_jit_fuzz_corpus");
}
