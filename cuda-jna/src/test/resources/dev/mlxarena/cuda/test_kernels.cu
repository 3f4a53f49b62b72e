// Small kernels for the CUDA backend's own tests: compiled by NVRTC on the GPU machine, and by
// nvcc wherever the build finds it (KernelSourcesCompileTest).

extern "C" __global__ void axpy_f32(float a, const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    y[i] = a * x[i] + y[i];
  }
}

// out[i] = base + i, with a 64-bit base: checks that 4- and 8-byte arguments land where the
// kernel reads them.
extern "C" __global__ void iota_i64(long long* out, long long base, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    out[i] = base + i;
  }
}

// axpy_f32 for programmatic dependent launches: it waits for the grid before it on the stream
// before touching memory, and lets the next one launch.
extern "C" __global__ void axpy_after_f32(float a, const float* x, float* y, int n) {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    y[i] = a * x[i] + y[i];
  }
}
