/*
 * A CPU stand-in for libcuda, so that the whole GPU path of the project (driver calls through JNA,
 * module loading, launches with their argument blocks, streams, fences, copies, the three
 * allocation modes) runs where there is no GPU. Everything is synchronous; device memory is host
 * memory; kernels are the C functions of stand_in_kernels.c. Each allocation is tracked, and a
 * kernel or copy that touches memory outside a live allocation aborts with what it touched.
 * Built by check-gpu-path-on-cpu.sh against the toolkit's cuda.h, so every function has the
 * driver's own prototype.
 *
 * Several GPUs: STAND_IN_GPUS (1 to 8, default 1) devices, each with its primary context; the
 * current context is per thread, as the driver's is. Device memory belongs to the GPU whose context
 * was current when it was allocated, streams to the GPU they were made on; a kernel launched on one
 * GPU that touches another's memory, or on a stream of another GPU, aborts. The tables are shared
 * by every thread and guarded by one lock. The NCCL stand-in (stand_in_nccl.c) checks its buffers
 * and marks what is registered through the stand_in_* functions at the end; memory freed while
 * still registered with a communicator aborts.
 */
#include <cuda.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "stand_in.h"

#define MAXA 100000
#define MAXG 8
// dev: the GPU of device memory, -1 for pinned host memory (every GPU reaches it); registered: how
// many communicators hold it registered.
typedef struct { uintptr_t p; size_t n; int live; int host; int dev; int registered; } Alloc;
static Alloc allocs[MAXA];
static int nallocs;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#define LOCK pthread_mutex_lock(&lock)
#define UNLOCK pthread_mutex_unlock(&lock)

static Alloc* find(uintptr_t p);
static __thread const char* running; // the kernel this thread is running, for messages
static __thread int launch_dev = -1; // the GPU of that kernel
static __thread int current = -1;    // the GPU whose context is current on this thread
static void die(const char* what, uintptr_t p, size_t n) {
  fprintf(stderr, "cuda stand-in: %s at 0x%lx +%zu%s%s\n", what, (unsigned long) p, n, running ? " in kernel " : "",
      running ? running : "");
  fflush(stderr);
  abort();
}
static void track(void* p, size_t n, int host, int dev) {
  LOCK;
  if (nallocs == MAXA) die("too many allocations", 0, 0);
  allocs[nallocs++] = (Alloc){(uintptr_t) p, n, 1, host, dev, 0};
  UNLOCK;
}
static Alloc* find(uintptr_t p) {
  for (int i = nallocs - 1; i >= 0; i--) if (allocs[i].live && p >= allocs[i].p && p < allocs[i].p + allocs[i].n) return &allocs[i];
  return NULL;
}
// Checks [p, p + bytes) lies in one live allocation, and, for a kernel, that device memory is its GPU's.
static void check_on(const void* ptr, size_t bytes, int dev, const char* who) {
  uintptr_t p = (uintptr_t) ptr;
  LOCK;
  Alloc* a = find(p);
  if (!a) { UNLOCK; die("access outside any live allocation", p, bytes); }
  if (p + bytes > a->p + a->n) { UNLOCK; die("access past the end of an allocation", p, bytes); }
  int owner = a->host ? -1 : a->dev;
  UNLOCK;
  if (dev >= 0 && owner >= 0 && owner != dev) {
    char what[128];
    snprintf(what, sizeof what, "%s on GPU %d touches memory of GPU %d", who, dev, owner);
    die(what, p, bytes);
  }
}
void check_range(const void* ptr, size_t bytes) { check_on(ptr, bytes, running ? launch_dev : -1, "a kernel"); }
static void untrack(uintptr_t p, int host) {
  LOCK;
  for (int i = nallocs - 1; i >= 0; i--) if (allocs[i].live && allocs[i].p == p) {
    if (allocs[i].host != host) { UNLOCK; die("free of the wrong kind", p, 0); }
    if (allocs[i].registered) { UNLOCK; die("free of memory still registered with a communicator", p, allocs[i].n); }
    memset((void*) p, 0xff, allocs[i].n); free((void*) p); allocs[i] = allocs[--nallocs]; UNLOCK; return;
  }
  UNLOCK;
  die("free of an unknown pointer", p, 0);
}

// ------------------------------------------------------------ for the NCCL stand-in
int stand_in_current_device(void) { return current; }
void stand_in_check_device_range(const void* p, size_t bytes, int dev, const char* who) { check_on(p, bytes, dev, who); }
// Adds delta to the registrations of the allocation holding p; returns what it was before, -1 if none holds it.
int stand_in_registered(const void* p, int delta) {
  LOCK;
  Alloc* a = find((uintptr_t) p);
  int before = a ? a->registered : -1;
  if (a) a->registered += delta;
  UNLOCK;
  return before;
}

static int ngpus = -1;
static int gpus(void) {
  if (ngpus < 0) {
    const char* e = getenv("STAND_IN_GPUS");
    int n = e ? atoi(e) : 1;
    ngpus = n < 1 ? 1 : (n > MAXG ? MAXG : n);
  }
  return ngpus;
}
// A call that needs a current context.
#define NEED_CTX do { if (current < 0) return CUDA_ERROR_INVALID_CONTEXT; } while (0)

CUresult cuInit(unsigned int f) { return CUDA_SUCCESS; }
CUresult cuDriverGetVersion(int* v) { *v = 13000; return CUDA_SUCCESS; }
CUresult cuDeviceGetCount(int* n) { *n = gpus(); return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice* d, int o) { if (o < 0 || o >= gpus()) return CUDA_ERROR_INVALID_DEVICE; *d = o; return CUDA_SUCCESS; }
CUresult cuDeviceGetName(char* name, int len, CUdevice d) {
  if (gpus() == 1) snprintf(name, len, "CPU stand-in"); else snprintf(name, len, "CPU stand-in %d", (int) d);
  return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem_v2(size_t* b, CUdevice d) { *b = (size_t) 8 << 30; return CUDA_SUCCESS; }
CUresult cuDeviceGetAttribute(int* v, CUdevice_attribute a, CUdevice d) {
  if (a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) *v = 9; else if (a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) *v = 0;
  else if (a == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) *v = 132; else return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}
static int contexts[MAXG];
CUresult cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice d) {
  if (d < 0 || d >= gpus()) return CUDA_ERROR_INVALID_DEVICE;
  *c = (CUcontext) &contexts[d]; return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) { return d < 0 || d >= gpus() ? CUDA_ERROR_INVALID_DEVICE : CUDA_SUCCESS; }
CUresult cuCtxSetCurrent(CUcontext c) {
  if (c == NULL) { current = -1; return CUDA_SUCCESS; }
  for (int d = 0; d < gpus(); d++) if (c == (CUcontext) &contexts[d]) { current = d; return CUDA_SUCCESS; }
  return CUDA_ERROR_INVALID_CONTEXT;
}
CUresult cuCtxGetCurrent(CUcontext* c) { *c = current < 0 ? NULL : (CUcontext) &contexts[current]; return CUDA_SUCCESS; }
CUresult cuCtxSynchronize(void) { NEED_CTX; return CUDA_SUCCESS; }
static size_t used[MAXG];
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
  NEED_CTX;
  if (n > ((size_t) 1 << 40)) return CUDA_ERROR_OUT_OF_MEMORY;
  void* m = malloc(n); memset(m, 0xab, n); track(m, n, 0, current); *p = (CUdeviceptr) m;
  LOCK; used[current] += n; UNLOCK;
  return CUDA_SUCCESS;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
  LOCK; Alloc* a = find(p); if (a && !a->host && a->p == p) used[a->dev] -= a->n; UNLOCK;
  untrack(p, 0); return CUDA_SUCCESS;
}
static size_t pool_used, pool_used_high, pool_reserved;
CUresult cuMemAllocAsync(CUdeviceptr* p, size_t n, CUstream s) {
  CUresult r = cuMemAlloc_v2(p, n); if (r) return r;
  LOCK; pool_used += n; if (pool_used > pool_used_high) pool_used_high = pool_used; if (pool_used > pool_reserved) pool_reserved = pool_used; UNLOCK;
  return r;
}
CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) {
  LOCK; Alloc* a = find(p); size_t n = a ? a->n : 0; pool_used -= n; UNLOCK;
  if (!a) die("async free of unknown", p, 0);
  return cuMemFree_v2(p);
}
CUresult cuMemHostAlloc(void** p, size_t n, unsigned int f) { NEED_CTX; void* m = malloc(n); track(m, n, 1, -1); *p = m; return CUDA_SUCCESS; }
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
CUresult cuMemGetInfo_v2(size_t* f, size_t* t) {
  NEED_CTX; *t = (size_t) 8 << 30; LOCK; *f = *t - used[current] - (256 << 20); UNLOCK; return CUDA_SUCCESS;
}
// A stream: the GPU it was made on.
typedef struct { int dev; } Stream;
#define MAXS 256
static Stream* streams[MAXS];
static int nstreams;
CUresult cuStreamCreate(CUstream* s, unsigned int f) {
  NEED_CTX;
  Stream* st = malloc(sizeof(Stream)); st->dev = current;
  LOCK;
  if (nstreams == MAXS) { UNLOCK; die("too many streams", 0, 0); }
  streams[nstreams++] = st;
  UNLOCK;
  *s = (CUstream) st; return CUDA_SUCCESS;
}
CUresult cuStreamDestroy_v2(CUstream s) {
  LOCK;
  for (int i = 0; i < nstreams; i++) if (streams[i] == (Stream*) s) { streams[i] = streams[--nstreams]; UNLOCK; free(s); return CUDA_SUCCESS; }
  UNLOCK;
  return CUDA_ERROR_INVALID_HANDLE;
}
// The GPU of a live stream: the current one for the legacy default stream, -2 for no such stream.
static int stream_dev(CUstream s) {
  if (!s) return current;
  int d = -2;
  LOCK; for (int i = 0; i < nstreams; i++) if (streams[i] == (Stream*) s) d = streams[i]->dev; UNLOCK;
  return d;
}
int stand_in_stream_device(void* s) { return stream_dev((CUstream) s); }
CUresult cuStreamSynchronize(CUstream s) { return CUDA_SUCCESS; }
// An event: its flags, and the time it was last recorded (work is synchronous, so recording is
// reaching it), -1 before that.
typedef struct { unsigned flags; double at; } Event;
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
CUresult cuEventCreate(CUevent* e, unsigned int f) { Event* v = malloc(sizeof(Event)); v->flags = f; v->at = -1; *e = (CUevent) v; return CUDA_SUCCESS; }
CUresult cuEventRecord(CUevent e, CUstream s) { ((Event*) e)->at = now_ms(); return CUDA_SUCCESS; }
CUresult cuEventQuery(CUevent e) { return CUDA_SUCCESS; }
CUresult cuEventSynchronize(CUevent e) { return CUDA_SUCCESS; }
CUresult cuEventDestroy_v2(CUevent e) { free(e); return CUDA_SUCCESS; }
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

CUresult cuModuleLoadDataEx(CUmodule* m, const void* img, unsigned int n, CUjit_option* o, void** v) {
  NEED_CTX;
  if (strncmp((const char*) img, "STAND-IN IMAGE", 14) != 0) {
    for (unsigned i = 0; i < n; i++) if (o[i] == CU_JIT_ERROR_LOG_BUFFER) snprintf((char*) v[i], 64, "stand-in: not a stand-in image");
    return CUDA_ERROR_INVALID_IMAGE;
  }
  if (n != 2 || o[0] != CU_JIT_ERROR_LOG_BUFFER || o[1] != CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES || (uintptr_t) v[1] != 16384) return CUDA_ERROR_INVALID_VALUE;
  *m = (CUmodule) malloc(16); return CUDA_SUCCESS;
}
CUresult cuModuleUnload(CUmodule m) { free(m); return CUDA_SUCCESS; }

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
  NEED_CTX;
  int sd = stream_dev(s);
  if (sd == -2) return CUDA_ERROR_INVALID_HANDLE;
  if (sd != current) return CUDA_ERROR_INVALID_CONTEXT; // a stream of another GPU than the current one
  running = e->name;
  launch_dev = current;
  e->kernel(params, g, b, shared);
  running = NULL;
  launch_dev = -1;
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
