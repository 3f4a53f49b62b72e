/*
 * Driver-level baselines for the decode trace on an NVIDIA GPU, beside the pool's JMH figure:
 * one cycle allocates every size of the trace, then frees them all (the same lifetime as one
 * token scope). Reports nanoseconds per allocation, its free included, as the mean over the timed
 * cycles after warm-up.
 *
 *   cuMemAlloc       cuMemAlloc_v2 + cuMemFree_v2
 *   cuMemAllocAsync  cuMemAllocAsync + cuMemFreeAsync on the device's default memory pool with its
 *                    release threshold at UINT64_MAX (the driver's own caching pool), on a
 *                    non-blocking stream synchronised once per cycle
 *   cuMemHostAlloc   cuMemHostAlloc(DEVICEMAP | PORTABLE) + cuMemFreeHost (pinned, mapped)
 *
 * Build and run (the CUDA toolkit's headers, the driver's libcuda):
 *   gcc -O2 -o cuda_alloc_baselines cuda_alloc_baselines.c -I$CUDA_HOME/include -lcuda
 *   ./cuda_alloc_baselines decode-trace.txt
 */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(call)                                                                  \
  do {                                                                               \
    CUresult rc_ = (call);                                                           \
    if (rc_ != CUDA_SUCCESS) {                                                       \
      const char *name_ = "?";                                                       \
      cuGetErrorName(rc_, &name_);                                                   \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, name_);   \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static size_t *sizes;
static int count;
static CUdeviceptr *dptrs;
static void **hptrs;
static CUstream stream;

static void cycle_alloc(void) {
  for (int i = 0; i < count; i++) CHECK(cuMemAlloc(&dptrs[i], sizes[i]));
  for (int i = 0; i < count; i++) CHECK(cuMemFree(dptrs[i]));
}

static void cycle_async(void) {
  for (int i = 0; i < count; i++) CHECK(cuMemAllocAsync(&dptrs[i], sizes[i], stream));
  for (int i = 0; i < count; i++) CHECK(cuMemFreeAsync(dptrs[i], stream));
  CHECK(cuStreamSynchronize(stream));
}

static void cycle_host(void) {
  for (int i = 0; i < count; i++)
    CHECK(cuMemHostAlloc(&hptrs[i], sizes[i], CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE));
  for (int i = 0; i < count; i++) CHECK(cuMemFreeHost(hptrs[i]));
}

static void run(const char *name, void (*cycle)(void), int warmup, int cycles) {
  for (int c = 0; c < warmup; c++) cycle();
  double t0 = now_ns();
  for (int c = 0; c < cycles; c++) cycle();
  double per = (now_ns() - t0) / ((double)cycles * count);
  printf("%-16s %10.1f ns per allocation (%d cycles of %d)\n", name, per, cycles, count);
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "decode-trace.txt";
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    perror(path);
    return 1;
  }
  sizes = malloc(sizeof *sizes * 100000);
  unsigned long long v;
  while (count < 100000 && fscanf(f, "%llu", &v) == 1) sizes[count++] = (size_t)v;
  fclose(f);
  dptrs = calloc((size_t)count, sizeof *dptrs);
  hptrs = calloc((size_t)count, sizeof *hptrs);

  CUdevice dev;
  CUcontext ctx;
  char name[256];
  int version;
  CHECK(cuInit(0));
  CHECK(cuDeviceGet(&dev, 0));
  CHECK(cuDeviceGetName(name, sizeof name, dev));
  CHECK(cuDriverGetVersion(&version));
  CHECK(cuDevicePrimaryCtxRetain(&ctx, dev));
  CHECK(cuCtxSetCurrent(ctx));
  CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CUmemoryPool pool;
  CHECK(cuDeviceGetDefaultMemPool(&pool, dev));
  cuuint64_t threshold = UINT64_MAX;
  CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold));
  printf("GPU %s, driver %d.%d, trace %s (%d allocations)\n", name, version / 1000,
         (version % 1000) / 10, path, count);

  run("cuMemAlloc", cycle_alloc, 3, 20);
  run("cuMemAllocAsync", cycle_async, 5, 200);
  run("cuMemHostAlloc", cycle_host, 1, 3);

  CHECK(cuStreamDestroy(stream));
  CHECK(cuDevicePrimaryCtxRelease(dev));
  return 0;
}
