package dev.mlxarena.bench;

import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.CudaStorage;
import dev.mlxarena.spi.Device;
import org.openjdk.jmh.annotations.Param;

/**
 * The decode trace's arena cycle on a real NVIDIA GPU: the pool on {@link CudaDevice} in steady
 * state, one scope per token, per allocation including its recycle. Needs a CUDA GPU (setup fails
 * without one). The driver-level and PyTorch baselines of the same trace run from {@code
 * benchmarks/native/} (see {@code BENCHMARKS.md}).
 */
public class CudaArenaBenchmark extends TokenCycleBenchmark {

  @Param({"DEVICE", "SHARED"})
  public CudaStorage storage;

  @Override
  protected Device openDevice() {
    return CudaDevice.open(0, storage);
  }
}
