/*
 * hash: 64-bit hashing of bytes and integers for the hash tables of every stage.
 * Not cryptographic; fast on short keys (frame names, address stacks).
 */
#ifndef SCORCH_COMMON_HASH_H
#define SCORCH_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash_bytes(const void *data, size_t len, uint64_t seed);

/* Mixes one 64-bit value (a finaliser in the style of splitmix64). */
static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif
