package dev.mlxarena.examples.demo;

import dev.mlxarena.DType;
import dev.mlxarena.cuda.Cublas;
import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.CudaModule;
import dev.mlxarena.cuda.CudaStream;
import dev.mlxarena.cuda.KernelCompiler;
import org.jspecify.annotations.Nullable;

/**
 * What every GPU run of the demo shares: GPU 0 with device memory, one stream, the compiled
 * kernels, a cuBLAS handle on that stream (unless the project's own matvec kernel is asked for)
 * and the model's weights. Made once per demo invocation, so that warm-up and measured runs in
 * every allocation mode use the same weights and pay for compilation and weight generation once.
 */
final class GpuEngine implements AutoCloseable {
  final CudaDevice device;
  final CudaStream stream;
  final GpuKernels kernels;
  final @Nullable Cublas blas;
  /** Counts (and, when profiling, times) every launch and cuBLAS call of the model. */
  final OpTimer ops;
  final GpuTransformer model;
  /** Device memory in use before this engine made anything (the driver's context included). */
  final long baselineUsedBytes;
  final long compileMillis;
  final long blasMillis;
  final long weightsMillis;
  final String kernelsFrom;
  private final CudaModule module;

  private GpuEngine(CudaDevice device, long baseline, CudaStream stream, CudaModule module, long compileMillis,
      GpuKernels kernels, @Nullable Cublas blas, long blasMillis, OpTimer ops, GpuTransformer model,
      long weightsMillis) {
    this.device = device;
    this.baselineUsedBytes = baseline;
    this.stream = stream;
    this.module = module;
    this.compileMillis = compileMillis;
    this.kernels = kernels;
    this.blas = blas;
    this.blasMillis = blasMillis;
    this.ops = ops;
    this.model = model;
    this.weightsMillis = weightsMillis;
    this.kernelsFrom = module.image() + ", " + KernelCompiler.shared().describeNvrtc();
  }

  /**
   * Opens GPU 0 and builds the model {@code cfg} in {@code dtype} from {@code seed} there.
   *
   * @param cublas matrix-vector products through cuBLAS; else through the project's kernels
   * @param fused the fused op graph ({@link GpuTransformer}); else one kernel per op
   * @throws dev.mlxarena.DeviceUnavailableException if there is no GPU, or NVRTC or cuBLAS
   *     cannot be loaded (the message says where they were looked for)
   */
  static GpuEngine open(ModelConfig cfg, DType dtype, boolean cublas, boolean fused, long seed) {
    return open(cfg, dtype, cublas, fused, false, seed);
  }

  /**
   * {@link #open(ModelConfig, DType, boolean, boolean, long)}, the decode kernels launched as
   * programmatic dependent launches when {@code dependent} and the GPU has compute capability 9.0
   * or more ({@link GpuKernels#dependent()} says whether they are).
   */
  static GpuEngine open(ModelConfig cfg, DType dtype, boolean cublas, boolean fused, boolean dependent, long seed) {
    CudaDevice device = CudaDevice.open(0);
    CudaStream stream = null;
    CudaModule module = null;
    Cublas blas = null;
    try {
      long baseline = usedBytes(device);
      stream = CudaStream.create(device);
      long t0 = System.nanoTime();
      module = GpuKernels.load(device);
      long compileMillis = (System.nanoTime() - t0) / 1_000_000;
      OpTimer ops = new OpTimer();
      GpuKernels kernels = new GpuKernels(module, stream, dtype, ops, dependent && device.computeCapability() >= 90);
      t0 = System.nanoTime();
      blas = cublas ? Cublas.create(stream) : null;
      long blasMillis = (System.nanoTime() - t0) / 1_000_000;
      t0 = System.nanoTime();
      GpuTransformer model = new GpuTransformer(device, kernels, blas, ops, cfg, fused, seed);
      stream.synchronize();
      long weightsMillis = (System.nanoTime() - t0) / 1_000_000;
      return new GpuEngine(device, baseline, stream, module, compileMillis, kernels, blas, blasMillis, ops, model,
          weightsMillis);
    } catch (RuntimeException e) {
      closeQuietly(blas, e);
      closeQuietly(module, e);
      closeQuietly(stream, e);
      closeQuietly(device, e);
      throw e;
    }
  }

  /** Device memory in use now, from {@code cuMemGetInfo}. */
  static long usedBytes(CudaDevice device) {
    return device.totalMemory() - device.freeMemory();
  }

  private static void closeQuietly(@Nullable AutoCloseable c, RuntimeException failure) {
    if (c != null) {
      try {
        c.close();
      } catch (Exception e) {
        failure.addSuppressed(e);
      }
    }
  }

  @Override
  public void close() {
    RuntimeException failure = new RuntimeException("closing the GPU engine");
    stream.synchronize();
    closeQuietly(model, failure);
    closeQuietly(blas, failure);
    closeQuietly(module, failure);
    closeQuietly(stream, failure);
    closeQuietly(device, failure);
    if (failure.getSuppressed().length > 0) {
      throw failure;
    }
  }
}
