/*
 * python_layout: the per-version offsets table, the 3.13 debug offsets and the line
 * tables. Offsets are offsetof() of the installed interpreters' headers (pyenv 3.8.18,
 * 3.9.18, 3.10.13, 3.11.7, 3.12.1, 3.13.0; Debian 3.11.2 equals 3.11.7), checked
 * against their DWARF and against live processes; sizeof(_PyRuntimeState) equals the
 * st_size of _PyRuntime in each libpython, which is how a layout is matched to a
 * binary of 3.8-3.10 (they publish no version number).
 */
#include "profiler/python_layout.h"

#include <errno.h>
#include <string.h>

/* 3.8 .. 3.10: PyFrameObject chains, one evaluation-loop call per frame. */
#define LAYOUT_OLD(m, rtsize, tssize, lasti)                                              \
	{                                                                                  \
		.minor = (m), .runtime_size = (rtsize), .rt_interp_head = 32, .is_next = 0, \
		.is_tstate_head = 8, .ts_size = (tssize), .ts_next = 8, .ts_frame = 24,     \
		.ts_cframe = -1, .cf_current_frame = -1, .ts_current_frame = -1,           \
		.ts_thread_id = 176, .ts_native_thread_id = -1, .fr_size = 112,            \
		.fr_back = 24, .fr_code = 32, .fr_lasti = (lasti), .fr_instr = -1,         \
		.fr_is_entry = -1, .fr_owner = -1, .co_size = 176, .co_firstlineno = 40,   \
		.co_filename = 104, .co_name = 112, .co_qualname = -1, .co_linetable = 120, \
		.co_code_adaptive = -1, .ob_type = 8, .str_length = 16, .str_state = 32,   \
		.str_ascii_data = 48, .str_compact_data = 72, .bytes_size = 16,            \
		.bytes_data = 32,                                                          \
	}

static const struct pylayout layouts[] = {
	LAYOUT_OLD(8, 1464, 264, 104),
	LAYOUT_OLD(9, 656, 264, 104),
	LAYOUT_OLD(10, 672, 280, 96),
	{
		.minor = 11, .runtime_size = 166688, .rt_interp_head = 40, .is_next = 0,
		.is_tstate_head = 16, .ts_size = 360, .ts_next = 8, .ts_frame = -1,
		.ts_cframe = 56, .cf_current_frame = 8, .ts_current_frame = -1,
		.ts_thread_id = 152, .ts_native_thread_id = 160, .fr_size = 80, .fr_back = 48,
		.fr_code = 32, .fr_lasti = -1, .fr_instr = 56, .fr_is_entry = 68,
		.fr_owner = 69, .co_size = 192, .co_firstlineno = 72, .co_filename = 112,
		.co_name = 120, .co_qualname = 128, .co_linetable = 136,
		.co_code_adaptive = 184, .ob_type = 8, .str_length = 16, .str_state = 32,
		.str_ascii_data = 48, .str_compact_data = 72, .bytes_size = 16,
		.bytes_data = 32,
	},
	{
		.minor = 12, .runtime_size = 459944, .rt_interp_head = 40, .is_next = 0,
		.is_tstate_head = 72, .ts_size = 288, .ts_next = 8, .ts_frame = -1,
		.ts_cframe = 56, .cf_current_frame = 0, .ts_current_frame = -1,
		.ts_thread_id = 136, .ts_native_thread_id = 144, .fr_size = 80, .fr_back = 8,
		.fr_code = 0, .fr_lasti = -1, .fr_instr = 56, .fr_is_entry = -1,
		.fr_owner = 70, .co_size = 200, .co_firstlineno = 68, .co_filename = 112,
		.co_name = 120, .co_qualname = 128, .co_linetable = 136,
		.co_code_adaptive = 192, .ob_type = 8, .str_length = 16, .str_state = 32,
		.str_ascii_data = 40, .str_compact_data = 56, .bytes_size = 16,
		.bytes_data = 32,
	},
	{
		.minor = 13, .runtime_size = 283320, .rt_interp_head = 632, .is_next = 7264,
		.is_tstate_head = 7344, .ts_size = 304, .ts_next = 8, .ts_frame = -1,
		.ts_cframe = -1, .cf_current_frame = -1, .ts_current_frame = 72,
		.ts_thread_id = 152, .ts_native_thread_id = 160, .fr_size = 80, .fr_back = 8,
		.fr_code = 0, .fr_lasti = -1, .fr_instr = 56, .fr_is_entry = -1,
		.fr_owner = 70, .co_size = 208, .co_firstlineno = 68, .co_filename = 112,
		.co_name = 120, .co_qualname = 128, .co_linetable = 136,
		.co_code_adaptive = 200, .ob_type = 8, .str_length = 16, .str_state = 32,
		.str_ascii_data = 40, .str_compact_data = 56, .bytes_size = 16,
		.bytes_data = 32,
	},
};

const struct pylayout *pylayout_builtin(int minor)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].minor == minor)
			return &layouts[i];
	return NULL;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* One offset of the debug block, checked to lie inside a structure of size bytes
 * with room for a field of width bytes. */
static int debug_off(const uint8_t *block, size_t at, uint64_t size, int width, int *out)
{
	uint64_t v = le64(block + at);

	if (v > 1u << 20 || v + (uint64_t)width > size)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* The 3.13 _Py_DebugOffsets (Include/internal/pycore_runtime.h): a cookie, the
 * version, the free-threading flag, then groups of u64 offsets, each group opening
 * with the size of its structure. Positions below are those of 3.13.0. */
int pylayout_from_debug(struct pylayout *out, const uint8_t *block, size_t len)
{
	struct pylayout l = *pylayout_builtin(13);
	uint64_t version, rt_size, is_size, ts_size, fr_size, co_size, ob_size, str_size;
	int rc = 0;

	if (len < PYLAYOUT_DEBUG_SIZE || memcmp(block, "xdebugpy", 8) != 0)
		return -EINVAL;
	version = le64(block + 8);
	if ((version >> 16) != 0x030d || le64(block + 16) != 0)
		return -EINVAL;
	rt_size = le64(block + 24);
	is_size = le64(block + 48);
	ts_size = le64(block + 152);
	fr_size = le64(block + 224);
	co_size = le64(block + 272);
	ob_size = le64(block + 352);
	str_size = le64(block + 536);
	if (ts_size > 4096 || fr_size > 256 || co_size > 256)
		return -EINVAL;
	rc |= debug_off(block, 40, rt_size, 8, &l.rt_interp_head);
	rc |= debug_off(block, 64, is_size, 8, &l.is_next);
	rc |= debug_off(block, 72, is_size, 8, &l.is_tstate_head);
	rc |= debug_off(block, 168, ts_size, 8, &l.ts_next);
	rc |= debug_off(block, 184, ts_size, 8, &l.ts_current_frame);
	rc |= debug_off(block, 192, ts_size, 8, &l.ts_thread_id);
	rc |= debug_off(block, 200, ts_size, 8, &l.ts_native_thread_id);
	rc |= debug_off(block, 232, fr_size, 8, &l.fr_back);
	rc |= debug_off(block, 240, fr_size, 8, &l.fr_code);
	rc |= debug_off(block, 248, fr_size, 8, &l.fr_instr);
	rc |= debug_off(block, 264, fr_size, 1, &l.fr_owner);
	rc |= debug_off(block, 280, co_size, 8, &l.co_filename);
	rc |= debug_off(block, 288, co_size, 8, &l.co_name);
	rc |= debug_off(block, 296, co_size, 8, &l.co_qualname);
	rc |= debug_off(block, 304, co_size, 8, &l.co_linetable);
	rc |= debug_off(block, 312, co_size, 4, &l.co_firstlineno);
	rc |= debug_off(block, 344, co_size, 2, &l.co_code_adaptive);
	rc |= debug_off(block, 360, ob_size, 8, &l.ob_type);
	rc |= debug_off(block, 544, str_size, 4, &l.str_state);
	rc |= debug_off(block, 552, str_size, 8, &l.str_length);
	if (rc)
		return -EINVAL;
	l.str_ascii_data = (int)le64(block + 560);
	if (l.str_ascii_data < 24 || l.str_ascii_data > 256)
		return -EINVAL;
	l.runtime_size = rt_size;
	l.ts_size = (int)ts_size;
	l.fr_size = (int)fr_size;
	l.co_size = (int)co_size;
	*out = l;
	return 0;
}

/* 3.8-3.9 co_lnotab (Objects/lnotab_notes.txt): pairs of an unsigned address
 * increment and a signed line increment; the line of off is the line reached before
 * the address passes it. */
static int line_lnotab(const uint8_t *tab, size_t len, int line, int64_t off)
{
	int64_t addr = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += tab[i];
		if (addr > off)
			break;
		line += (int8_t)tab[i + 1];
	}
	return line;
}

/* 3.10 co_linetable (PEP 626): pairs of an unsigned range length in bytes and a
 * signed line delta, -128 meaning "no line" for that range. */
static int line_pep626(const uint8_t *tab, size_t len, int line, int64_t off)
{
	int64_t start = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		int8_t delta = (int8_t)tab[i + 1];
		int64_t end = start + tab[i];

		if (delta != -128)
			line += delta;
		if (off >= start && off < end)
			return delta == -128 ? 0 : line;
		start = end;
	}
	return -1;
}

static uint64_t varint(const uint8_t *tab, size_t len, size_t *i)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	uint8_t b;

	do {
		if (*i >= len || shift > 60)
			return v;
		b = tab[(*i)++];
		v |= (uint64_t)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	return v;
}

static int64_t svarint(const uint8_t *tab, size_t len, size_t *i)
{
	uint64_t v = varint(tab, len, i);

	return (v & 1) ? -(int64_t)(v >> 1) : (int64_t)(v >> 1);
}

/* 3.11+ location table (Objects/locations.md): entries of 1-8 code units, a first
 * byte 1CCCCLLL (code, length - 1) and a code-specific tail. */
static int line_locations(const uint8_t *tab, size_t len, int line, int64_t off)
{
	int64_t unit = off / 2, start = 0;
	size_t i = 0;

	while (i < len) {
		uint8_t first = tab[i++];
		int code = (first >> 3) & 15, n = (first & 7) + 1;
		bool none = false;

		if (!(first & 0x80))
			return -1; /* not at an entry start: a corrupt table */
		switch (code) {
		case 15:
			none = true;
			break;
		case 14:
			line += (int)svarint(tab, len, &i);
			varint(tab, len, &i);
			varint(tab, len, &i);
			varint(tab, len, &i);
			break;
		case 13:
			line += (int)svarint(tab, len, &i);
			break;
		case 12:
		case 11:
		case 10:
			line += code - 10;
			i += 2;
			break;
		default:
			i += 1;
			break;
		}
		if (unit >= start && unit < start + n)
			return none ? 0 : line;
		start += n;
	}
	return -1;
}

int pylayout_line(int minor, const uint8_t *tab, size_t len, int firstlineno, int64_t off)
{
	int line;

	if (off < 0 || !tab)
		return firstlineno;
	if (minor <= 9)
		line = line_lnotab(tab, len, firstlineno, off);
	else if (minor == 10)
		line = line_pep626(tab, len, firstlineno, off);
	else
		line = line_locations(tab, len, firstlineno, off);
	return line < 0 ? firstlineno : line;
}
