/* Fuzz target: the unwinder's ELF and CFI parser (profiler/unwind_elf.c) on a file a
 * target process could have mapped: headers, .eh_frame_hdr, the table built from
 * .eh_frame, the .debug_frame conversion, and reads through the PT_LOADs. */
#include "profiler/unwind_elf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unwind_elf e;
	uint8_t *copy = aligned_alloc(4096, (size + 4095) / 4096 * 4096 + 4096);
	uint64_t bias, word;

	if (!copy)
		return 0;
	memcpy(copy, data, size); /* files are mmapped: page-aligned */
	if (unwind_elf_init(&e, copy, size) == 0) {
		unwind_elf_debug_frame(&e);
		for (size_t i = 0; i < e.nloads; i++) {
			unwind_elf_read(&e, e.loads[i].vaddr, &word, sizeof(word));
			unwind_elf_read(&e, e.loads[i].vaddr + e.loads[i].filesz - 3, &word,
					sizeof(word));
			unwind_elf_bias(&e, 0x7f0000000000, e.loads[i].offset & ~0xfffu, &bias);
		}
		if (e.cfi == UNWIND_ELF_CFI_HDR)
			unwind_elf_read(&e, e.table_vaddr + e.fde_count * 8 - 8, &word, sizeof(word));
		unwind_elf_release(&e);
	}
	free(copy);
	return 0;
}
