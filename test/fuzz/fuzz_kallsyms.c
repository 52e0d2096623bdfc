/* Fuzz target: the /proc/kallsyms parser, then lookups around what it kept. */
#include "symbolizer/kallsyms.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kallsyms k;
	char *text = malloc(size + 1);
	uint64_t off;

	if (!text)
		return 0;
	memcpy(text, data, size);
	kallsyms_init(&k);
	if (kallsyms_parse(&k, text, size) == 0) {
		for (size_t i = 0; i < k.n; i++) {
			const char *name = kallsyms_lookup(&k, k.v[i].addr, &off);
			if (!name || strlen(name) > size)
				abort();
		}
		kallsyms_lookup(&k, 0, &off);
		kallsyms_lookup(&k, UINT64_MAX, &off);
	}
	kallsyms_release(&k);
	return 0;
}
