/*
 * python_layout: private to python.c. The byte offsets of the CPython structures
 * scorch reads, per minor version on x86-64 (from the headers of 3.8.18 ... 3.13.0
 * and Debian's 3.11.2; see docs/python.md), the 3.13 _Py_DebugOffsets block, and the
 * line-number tables of code objects. Pure functions over bytes: no process access.
 */
#ifndef SCORCH_PROFILER_PYTHON_LAYOUT_H
#define SCORCH_PROFILER_PYTHON_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Offsets in bytes; -1 when the version has no such field. */
struct pylayout {
	int minor;             /* 8 .. 13 (major is always 3) */
	uint64_t runtime_size; /* sizeof(_PyRuntimeState) = st_size of _PyRuntime, 0: unchecked */
	int rt_interp_head;    /* _PyRuntimeState.interpreters.head */
	int is_next;           /* PyInterpreterState.next */
	int is_tstate_head;    /* PyInterpreterState.tstate_head / threads.head */
	int ts_size;           /* bytes of PyThreadState to read */
	int ts_next;
	int ts_frame;          /* 3.8-3.10: PyFrameObject *frame */
	int ts_cframe;         /* 3.11-3.12: _PyCFrame *cframe */
	int cf_current_frame;  /* 3.11-3.12: _PyCFrame.current_frame */
	int ts_current_frame;  /* 3.13: _PyInterpreterFrame *current_frame */
	int ts_thread_id;      /* pthread_t */
	int ts_native_thread_id; /* 3.11+: the kernel tid */
	int fr_size;           /* bytes of a frame to read */
	int fr_back;           /* f_back (3.8-3.10) or previous (3.11+) */
	int fr_code;           /* f_code / f_executable */
	int fr_lasti;          /* 3.8-3.10: int f_lasti */
	int fr_instr;          /* 3.11+: prev_instr / instr_ptr */
	int fr_is_entry;       /* 3.11: bool is_entry */
	int fr_owner;          /* 3.11+: char owner */
	int co_size;           /* sizeof(PyCodeObject) */
	int co_firstlineno;
	int co_filename;
	int co_name;
	int co_qualname;       /* 3.11+ */
	int co_linetable;      /* co_lnotab (3.8-3.9) or co_linetable */
	int co_code_adaptive;  /* 3.11+: first code unit, inline */
	int ob_type;           /* PyObject.ob_type */
	int str_length;        /* PyASCIIObject.length */
	int str_state;         /* PyASCIIObject.state */
	int str_ascii_data;    /* sizeof(PyASCIIObject) */
	int str_compact_data;  /* sizeof(PyCompactUnicodeObject) */
	int bytes_size;        /* PyBytesObject.ob_size */
	int bytes_data;        /* PyBytesObject.ob_sval */
};

/* _PyInterpreterFrame.owner values. */
#define PYLAYOUT_OWNED_BY_CSTACK 3

/* The built-in layout of 3.minor, or NULL when not supported. */
const struct pylayout *pylayout_builtin(int minor);

/* Size of the 3.13 _Py_DebugOffsets block read from the start of _PyRuntime. */
#define PYLAYOUT_DEBUG_SIZE 584

/* Fills *out from a 3.13 _Py_DebugOffsets block (the first PYLAYOUT_DEBUG_SIZE bytes
 * of _PyRuntime) over the built-in 3.13 table. 0, or -EINVAL when the cookie, the
 * version or the free-threading flag is not what this reader knows, or an offset
 * lies outside its structure. */
int pylayout_from_debug(struct pylayout *out, const uint8_t *block, size_t len);

/* The line of byte offset off (from the start of the bytecode) in a code object of
 * 3.minor whose first line is firstlineno and whose line table is tab[0..len): lnotab
 * (3.8-3.9), PEP 626 table (3.10) or location table (3.11+). firstlineno when off is
 * negative or not covered; 0 when the table says the instruction has no line. */
int pylayout_line(int minor, const uint8_t *tab, size_t len, int firstlineno, int64_t off);

#endif
