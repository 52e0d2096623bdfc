#include "common/hash.h"

#include <string.h>

/* Eight bytes at a time, each word folded in with a multiply and a rotate; the tail
 * is read byte by byte so that no read goes past len. */
uint64_t hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
	uint64_t w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		h ^= hash_u64(w);
		h = (h << 27 | h >> 37) * 0x9e3779b97f4a7c15ULL;
		p += 8;
		len -= 8;
	}
	w = 0;
	for (size_t i = 0; i < len; i++)
		w |= (uint64_t)p[i] << (8 * i);
	h ^= hash_u64(w ^ len);
	return hash_u64(h);
}
