/*
 * syscalls: x86-64 system call numbers to names, for the leaf frame of an off-CPU
 * sample ("nanosleep", "read", "futex").
 */
#ifndef SCORCH_SYMBOLIZER_SYSCALLS_H
#define SCORCH_SYMBOLIZER_SYSCALLS_H

#include <stdint.h>

/* The name of system call nr, or NULL if unknown. Static storage. */
const char *syscall_name(uint64_t nr);

#endif
