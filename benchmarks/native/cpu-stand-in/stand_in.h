/*
 * What the CPU stand-ins for libcuda, NVRTC and cuBLAS share: kernels are C functions found by
 * name, launched with their grid and block, and every range they touch is checked against the
 * live allocations (check_range aborts the process on a stray access).
 */
#ifndef STAND_IN_H
#define STAND_IN_H
#include <stddef.h>

typedef struct { unsigned x, y, z; } Dim;
typedef void (*Kernel)(void** args, Dim grid, Dim block, unsigned shared);
typedef struct { const char* name; Kernel kernel; int params; } Entry;

extern Entry STAND_IN_KERNELS[];
void check_range(const void* p, size_t bytes);

#endif
