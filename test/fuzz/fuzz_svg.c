/* Fuzz target: folded stacks read, then written as svg (escaping, layout, encoding). */
#include "test/fuzz/fuzz_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_write(data, size, WRITE_FORMAT_SVG);
}
