package dev.mlxarena.bench;

import dev.mlxarena.BufferPool;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.cuda.CudaDevice;
import dev.mlxarena.cuda.CudaStorage;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The decode trace's arena cycle on a real NVIDIA GPU: the pool on {@link CudaDevice} in steady
 * state, one scope per token, per allocation including its recycle. Needs a CUDA GPU (setup fails
 * without one). The driver-level and PyTorch baselines of the same trace run from {@code
 * benchmarks/native/} (see {@code BENCHMARKS.md}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@OperationsPerInvocation(Traces.LENGTH)
@State(org.openjdk.jmh.annotations.Scope.Thread)
public class CudaArenaBenchmark {

  @Param({"DEVICE", "SHARED"})
  public CudaStorage storage;

  private long[] sizes;
  private CudaDevice device;
  private BufferPool pool;

  @Setup(Level.Trial)
  public void setUp() {
    sizes = Traces.decode();
    device = CudaDevice.open(0, storage);
    pool = Cycles.warmed(device, PoolOptions.defaults(), sizes);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.close();
    device.close();
  }

  @Benchmark
  public void pool(Blackhole bh) {
    Cycles.token(pool, sizes, bh);
  }
}
