package dev.mlxarena.examples.demo;

import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.cuda.Cublas;
import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.CudaModule;
import dev.mlxarena.cuda.CudaStream;
import dev.mlxarena.cuda.KernelCompiler;
import dev.mlxarena.cuda.NcclComm;
import dev.mlxarena.cuda.NcclRegistrar;
import org.jspecify.annotations.Nullable;

/**
 * What every GPU run of the demo shares: a GPU with device memory (GPU 0, or a rank's), one stream,
 * the compiled kernels, a cuBLAS handle on that stream (unless the project's own matvec kernel is
 * asked for) and the model's weights (the whole model, or a rank's {@link Shard} with the {@link
 * TpCollective} that sums its partial products). Made once per demo invocation, so that warm-up and
 * measured runs in every allocation mode use the same weights and pay for compilation and weight
 * generation once.
 */
final class GpuEngine implements AutoCloseable {
  final CudaDevice device;
  final CudaStream stream;
  final GpuKernels kernels;
  final @Nullable Cublas blas;
  /** Counts (and, when profiling, times) every launch and cuBLAS call of the model. */
  final OpTimer ops;
  final GpuTransformer model;
  /** The rank's all-reduces over several GPUs; null for the whole model. */
  final @Nullable TpCollective collective;
  /** Device memory in use before this engine made anything (the driver's context included). */
  final long baselineUsedBytes;
  final long compileMillis;
  final long blasMillis;
  final long weightsMillis;
  final String kernelsFrom;
  private final CudaModule module;

  private GpuEngine(CudaDevice device, long baseline, CudaStream stream, CudaModule module, long compileMillis,
      GpuKernels kernels, @Nullable Cublas blas, long blasMillis, OpTimer ops, GpuTransformer model,
      @Nullable TpCollective collective, long weightsMillis) {
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
    this.collective = collective;
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
    return open(CudaDevice.open(0), cfg, dtype, cublas, fused, dependent, seed, Shard.WHOLE, null);
  }

  /**
   * {@link #open(ModelConfig, DType, boolean, boolean, boolean, long)} on {@code device}, which the
   * engine then owns (it closes it, also when this fails), holding {@code shard}'s part of the model;
   * {@code comm}, the rank's communicator on that device, sums the ranks' partial products (null
   * for the whole model).
   */
  static GpuEngine open(CudaDevice device, ModelConfig cfg, DType dtype, boolean cublas, boolean fused,
      boolean dependent, long seed, Shard shard, @Nullable NcclComm comm) {
    CudaStream stream = null;
    CudaModule module = null;
    Cublas blas = null;
    TpCollective collective = null;
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
      collective = comm == null ? null : new TpCollective(comm, stream, dtype, ops, cfg.layers());
      GpuTransformer model = new GpuTransformer(device, kernels, blas, ops, cfg, fused, seed, shard, collective);
      stream.synchronize();
      long weightsMillis = (System.nanoTime() - t0) / 1_000_000;
      return new GpuEngine(device, baseline, stream, module, compileMillis, kernels, blas, blasMillis, ops, model,
          collective, weightsMillis);
    } catch (RuntimeException e) {
      closeQuietly(collective, e);
      closeQuietly(blas, e);
      closeQuietly(module, e);
      closeQuietly(stream, e);
      closeQuietly(device, e);
      throw e;
    }
  }

  /**
   * A pool on this engine's GPU for one run; a rank's pool registers its buffers with the rank's
   * communicator when {@link TpCollective#registerBuffers} says so.
   */
  BufferPool pool(PoolOptions options) {
    TpCollective c = collective;
    if (c != null && c.registerBuffers) {
      options = options.toBuilder().registrar(new NcclRegistrar(c.comm)).build();
    }
    return BufferPool.create(device, options);
  }

  /** Device memory in use now, from {@code cuMemGetInfo}. */
  static long usedBytes(CudaDevice device) {
    return device.totalMemory() - device.freeMemory();
  }

  static void closeQuietly(@Nullable AutoCloseable c, RuntimeException failure) {
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
    closeQuietly(collective, failure);
    closeQuietly(blas, failure);
    closeQuietly(module, failure);
    closeQuietly(stream, failure);
    closeQuietly(device, failure);
    if (failure.getSuppressed().length > 0) {
      throw failure;
    }
  }
}
