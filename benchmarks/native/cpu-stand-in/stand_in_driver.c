/*
 * A CPU stand-in for libcuda, so that the whole GPU path of the project (driver calls through JNA,
 * module loading, launches with their argument blocks, streams, fences, copies, the three
 * allocation modes) runs where there is no GPU. Everything is synchronous; device memory is host
 * memory; kernels are the C functions of stand_in_kernels.c. Each allocation is tracked, and a
 * kernel or copy that touches memory outside a live allocation aborts with what it touched.
 * Built by check-gpu-path-on-cpu.sh against the toolkit's cuda.h, so every function has the
 * driver's own prototype.
 */
#include <cuda.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "stand_in.h"

#define MAXA 100000
typedef struct { uintptr_t p; size_t n; int live; int host; } Alloc;
static Alloc allocs[MAXA];
static int nallocs;

static Alloc* find(uintptr_t p);
static const char* running; // the kernel being run, for the message of a stray access
static void die(const char* what, uintptr_t p, size_t n) {
  fprintf(stderr, "cuda stand-in: %s at 0x%lx +%zu%s%s\n", what, (unsigned long) p, n, running ? " in kernel " : "",
      running ? running : "");
  fflush(stderr);
  abort();
}
static void track(void* p, size_t n, int host) {
  if (nallocs == MAXA) die("too many allocations", 0, 0);
  allocs[nallocs++] = (Alloc){(uintptr_t) p, n, 1, host};
}
static Alloc* find(uintptr_t p) {
  for (int i = nallocs - 1; i >= 0; i--) if (allocs[i].live && p >= allocs[i].p && p < allocs[i].p + allocs[i].n) return &allocs[i];
  return NULL;
}
void check_range(const void* ptr, size_t bytes) {
  uintptr_t p = (uintptr_t) ptr;
  Alloc* a = find(p);
  if (!a) die("access outside any live allocation", p, bytes);
  if (p + bytes > a->p + a->n) die("access past the end of an allocation", p, bytes);
}
static void untrack(uintptr_t p, int host) {
  for (int i = nallocs - 1; i >= 0; i--) if (allocs[i].live && allocs[i].p == p) {
    if (allocs[i].host != host) die("free of the wrong kind", p, 0);
    memset((void*) p, 0xff, allocs[i].n); free((void*) p); allocs[i] = allocs[--nallocs]; return;
  }
  die("free of an unknown pointer", p, 0);
}

CUresult cuInit(unsigned int f) { return CUDA_SUCCESS; }
CUresult cuDriverGetVersion(int* v) { *v = 13000; return CUDA_SUCCESS; }
CUresult cuDeviceGetCount(int* n) { *n = 1; return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice* d, int o) { if (o != 0) return CUDA_ERROR_INVALID_DEVICE; *d = 0; return CUDA_SUCCESS; }
CUresult cuDeviceGetName(char* name, int len, CUdevice d) { snprintf(name, len, "CPU stand-in"); return CUDA_SUCCESS; }
CUresult cuDeviceTotalMem_v2(size_t* b, CUdevice d) { *b = (size_t) 8 << 30; return CUDA_SUCCESS; }
CUresult cuDeviceGetAttribute(int* v, CUdevice_attribute a, CUdevice d) {
  if (a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) *v = 9; else if (a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) *v = 0;
  else if (a == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) *v = 132; else return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}
static int ctxdummy;
CUresult cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice d) { *c = (CUcontext) &ctxdummy; return CUDA_SUCCESS; }
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) { return CUDA_SUCCESS; }
CUresult cuCtxSetCurrent(CUcontext c) { if (c != (CUcontext) &ctxdummy) return CUDA_ERROR_INVALID_CONTEXT; return CUDA_SUCCESS; }
CUresult cuCtxSynchronize(void) { return CUDA_SUCCESS; }
static size_t used;
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
  if (n > ((size_t) 1 << 40)) return CUDA_ERROR_OUT_OF_MEMORY;
  void* m = malloc(n); memset(m, 0xab, n); track(m, n, 0); *p = (CUdeviceptr) m; used += n; return CUDA_SUCCESS;
}
CUresult cuMemFree_v2(CUdeviceptr p) { Alloc* a = find(p); if (a) used -= a->n; untrack(p, 0); return CUDA_SUCCESS; }
static size_t pool_used, pool_used_high, pool_reserved;
CUresult cuMemAllocAsync(CUdeviceptr* p, size_t n, CUstream s) {
  CUresult r = cuMemAlloc_v2(p, n); if (r) return r; pool_used += find(*p)->n; if (pool_used > pool_used_high) pool_used_high = pool_used; if (pool_used > pool_reserved) pool_reserved = pool_used; return r; }
CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) { Alloc* a = find(p); if (!a) die("async free of unknown", p, 0); pool_used -= a->n; return cuMemFree_v2(p); }
CUresult cuMemHostAlloc(void** p, size_t n, unsigned int f) { void* m = malloc(n); track(m, n, 1); *p = m; return CUDA_SUCCESS; }
CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr* d, void* h, unsigned int f) { *d = (CUdeviceptr) h; return CUDA_SUCCESS; }
CUresult cuMemFreeHost(void* p) { untrack((uintptr_t) p, 1); return CUDA_SUCCESS; }
CUresult cuMemsetD8_v2(CUdeviceptr p, unsigned char v, size_t n) { check_range((void*) p, n); memset((void*) p, v, n); return CUDA_SUCCESS; }
CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, CUstream s) { return cuMemsetD8_v2(p, v, n); }
CUresult cuMemsetD32_v2(CUdeviceptr p, unsigned int v, size_t n) {
  if (p & 3) return CUDA_ERROR_INVALID_VALUE; check_range((void*) p, 4 * n); for (size_t i = 0; i < n; i++) ((unsigned int*) p)[i] = v; return CUDA_SUCCESS;
}
CUresult cuMemsetD32Async(CUdeviceptr p, unsigned int v, size_t n, CUstream s) { return cuMemsetD32_v2(p, v, n); }
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void* h, size_t n) { check_range((void*) d, n); memcpy((void*) d, h, n); return CUDA_SUCCESS; }
CUresult cuMemcpyDtoH_v2(void* h, CUdeviceptr d, size_t n) { check_range((void*) d, n); memcpy(h, (void*) d, n); return CUDA_SUCCESS; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* h, size_t n, CUstream s) { check_range(h, n); return cuMemcpyHtoD_v2(d, h, n); }
CUresult cuMemcpyDtoHAsync_v2(void* h, CUdeviceptr d, size_t n, CUstream s) { check_range(h, n); return cuMemcpyDtoH_v2(h, d, n); }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream st) { check_range((void*) d, n); check_range((void*) s, n); memmove((void*) d, (void*) s, n); return CUDA_SUCCESS; }
CUresult cuMemGetInfo_v2(size_t* f, size_t* t) { *t = (size_t) 8 << 30; *f = *t - used - (256 << 20); return CUDA_SUCCESS; }
#define MAXS 256
static CUstream streams[MAXS];
static int nstreams;
CUresult cuStreamCreate(CUstream* s, unsigned int f) {
  if (nstreams == MAXS) die("too many streams", 0, 0);
  *s = (CUstream) malloc(16); streams[nstreams++] = *s; return CUDA_SUCCESS;
}
CUresult cuStreamDestroy_v2(CUstream s) {
  for (int i = 0; i < nstreams; i++) if (streams[i] == s) { streams[i] = streams[--nstreams]; free(s); return CUDA_SUCCESS; }
  return CUDA_ERROR_INVALID_HANDLE;
}
static int live_stream(CUstream s) { if (!s) return 1; for (int i = 0; i < nstreams; i++) if (streams[i] == s) return 1; return 0; }
CUresult cuStreamSynchronize(CUstream s) { return CUDA_SUCCESS; }
// An event: its flags, and the time it was last recorded (work is synchronous, so recording is
// reaching it), -1 before that.
typedef struct { unsigned flags; double at; } Event;
static int events;
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
CUresult cuEventCreate(CUevent* e, unsigned int f) { Event* v = malloc(sizeof(Event)); v->flags = f; v->at = -1; *e = (CUevent) v; events++; return CUDA_SUCCESS; }
CUresult cuEventRecord(CUevent e, CUstream s) { ((Event*) e)->at = now_ms(); return CUDA_SUCCESS; }
CUresult cuEventQuery(CUevent e) { return CUDA_SUCCESS; }
CUresult cuEventSynchronize(CUevent e) { return CUDA_SUCCESS; }
CUresult cuEventDestroy_v2(CUevent e) { free(e); events--; return CUDA_SUCCESS; }
// The plain name, as the driver exports it beside cuda.h's _v2.
#undef cuEventElapsedTime
CUresult cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
  Event* x = (Event*) a; Event* y = (Event*) b;
  if ((x->flags | y->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
  if (x->at < 0 || y->at < 0) return CUDA_ERROR_INVALID_HANDLE;
  *ms = (float) (y->at - x->at); return CUDA_SUCCESS;
}
static size_t pool_high, pool_thr;
CUresult cuDeviceGetDefaultMemPool(CUmemoryPool* p, CUdevice d) { *p = (CUmemoryPool) &pool_high; return CUDA_SUCCESS; }
CUresult cuMemPoolSetAttribute(CUmemoryPool p, CUmemPool_attribute a, void* v) {
  if (a == CU_MEMPOOL_ATTR_RELEASE_THRESHOLD) pool_thr = *(cuuint64_t*) v; else if (a == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH || a == CU_MEMPOOL_ATTR_USED_MEM_HIGH) { if (*(cuuint64_t*) v != 0) return CUDA_ERROR_INVALID_VALUE; if (a == CU_MEMPOOL_ATTR_USED_MEM_HIGH) pool_used_high = pool_used; } else return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}
CUresult cuMemPoolGetAttribute(CUmemoryPool p, CUmemPool_attribute a, void* v) {
  cuuint64_t r;
  switch (a) { case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: r = pool_thr; break; case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT: r = pool_reserved; break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH: r = pool_reserved; break; case CU_MEMPOOL_ATTR_USED_MEM_CURRENT: r = pool_used; break;
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH: r = pool_used_high; break; default: return CUDA_ERROR_INVALID_VALUE; }
  *(cuuint64_t*) v = r; return CUDA_SUCCESS;
}
CUresult cuMemPoolTrimTo(CUmemoryPool p, size_t k) { if (pool_reserved > k) pool_reserved = pool_used > k ? pool_used : k; return CUDA_SUCCESS; }
CUresult cuGetErrorName(CUresult e, const char** s) {
  static char b[64];
  switch (e) { case 1: *s = "CUDA_ERROR_INVALID_VALUE"; break; case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break; case 500: *s = "CUDA_ERROR_NOT_FOUND"; break;
    default: snprintf(b, 64, "CUresult %d", e); *s = b; }
  return CUDA_SUCCESS;
}
CUresult cuGetErrorString(CUresult e, const char** s) { *s = "stand-in error"; return CUDA_SUCCESS; }

static int modules;
CUresult cuModuleLoadDataEx(CUmodule* m, const void* img, unsigned int n, CUjit_option* o, void** v) {
  if (strncmp((const char*) img, "STAND-IN IMAGE", 14) != 0) {
    for (unsigned i = 0; i < n; i++) if (o[i] == CU_JIT_ERROR_LOG_BUFFER) snprintf((char*) v[i], 64, "stand-in: not a stand-in image");
    return CUDA_ERROR_INVALID_IMAGE;
  }
  if (n != 2 || o[0] != CU_JIT_ERROR_LOG_BUFFER || o[1] != CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES || (uintptr_t) v[1] != 16384) return CUDA_ERROR_INVALID_VALUE;
  *m = (CUmodule) malloc(16); modules++; return CUDA_SUCCESS;
}
CUresult cuModuleUnload(CUmodule m) { free(m); modules--; return CUDA_SUCCESS; }

CUresult cuModuleGetFunction(CUfunction* f, CUmodule m, const char* name) {
  for (Entry* e = STAND_IN_KERNELS; e->name; e++) if (!strcmp(e->name, name)) { *f = (CUfunction) e; return CUDA_SUCCESS; }
  return CUDA_ERROR_NOT_FOUND;
}
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
    unsigned shared, CUstream s, void** params, void** extra) {
  Entry* e = (Entry*) f;
  if (bx * by * bz > 1024 || bx * by * bz == 0 || gx == 0 || gy == 0 || gz == 0 || extra != NULL) return CUDA_ERROR_INVALID_VALUE;
  if (shared > 48 * 1024) return CUDA_ERROR_INVALID_VALUE;
  Dim g = {gx, gy, gz}, b = {bx, by, bz};
  if (!live_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
  running = e->name;
  e->kernel(params, g, b, shared);
  running = NULL;
  return CUDA_SUCCESS;
}
// A launch with attributes: only programmatic stream serialization, the one the project sets; the
// layout is cuda.h's own, so a field the Java side writes at the wrong offset shows here.
CUresult cuLaunchKernelEx(const CUlaunchConfig* c, CUfunction f, void** params, void** extra) {
  if (c->numAttrs != 1 || c->attrs == NULL) return CUDA_ERROR_INVALID_VALUE;
  if (c->attrs[0].id != CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION
      || c->attrs[0].value.programmaticStreamSerializationAllowed != 1) return CUDA_ERROR_INVALID_VALUE;
  return cuLaunchKernel(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
      c->sharedMemBytes, c->hStream, params, extra);
}
