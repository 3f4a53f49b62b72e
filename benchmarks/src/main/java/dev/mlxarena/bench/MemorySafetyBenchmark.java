package dev.mlxarena.bench;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.Scope;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * What the memory-safety guards cost on the paths they sit on, each beside a baseline measured in
 * the same run, so that the ratios survive a noisy machine:
 *
 * <ul>
 *   <li>{@code getF32}, {@code putF32}: typed element access through a pooled {@link Buffer} on
 *       {@link HostDevice} (a liveness check, a bounds check, the access), per element; beside
 *       {@code byteBufferGetFloat} and {@code byteBufferPutFloat}, the same loop over a direct
 *       {@link ByteBuffer} with no checks at all;
 *   <li>{@code allocHit}: the allocation hit path, a scope that replays the previous scope's
 *       buffers ({@value #ALLOCS} allocations then the close), per allocation; beside {@code
 *       handleFloor}, the same number of handle-sized objects made and dropped, which is what the
 *       hit path cannot avoid.
 * </ul>
 *
 * <pre>{@code java -jar benchmarks/target/benchmarks.jar MemorySafety}</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch"})
@State(org.openjdk.jmh.annotations.Scope.Thread)
public class MemorySafetyBenchmark {
  static final int ELEMENTS = 1024;
  static final int ALLOCS = 64;

  private Device device;
  private BufferPool pool;
  private Scope scope;
  private Buffer f32;
  private ByteBuffer direct;
  private final long[] sizes = new long[ALLOCS];

  @Setup(Level.Trial)
  public void setUp() {
    device = HostDevice.create();
    pool = BufferPool.create(device, PoolOptions.builder().build());
    scope = pool.openScope();
    f32 = scope.alloc(ELEMENTS * 4L, DType.F32);
    direct = ByteBuffer.allocateDirect(ELEMENTS * 4).order(ByteOrder.nativeOrder());
    for (int i = 0; i < ALLOCS; i++) {
      sizes[i] = 64L << (i % 8);
    }
    for (int t = 0; t < 2; t++) {
      try (Scope warm = pool.openScope()) {
        for (long s : sizes) {
          warm.alloc(s, DType.U8);
        }
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    scope.close();
    pool.close();
    device.close();
  }

  @Benchmark
  @OperationsPerInvocation(ELEMENTS)
  public float getF32() {
    Buffer b = f32;
    float sum = 0;
    for (int i = 0; i < ELEMENTS; i++) {
      sum += b.getF32(i);
    }
    return sum;
  }

  @Benchmark
  @OperationsPerInvocation(ELEMENTS)
  public void putF32() {
    Buffer b = f32;
    for (int i = 0; i < ELEMENTS; i++) {
      b.putF32(i, i);
    }
  }

  @Benchmark
  @OperationsPerInvocation(ELEMENTS)
  public float byteBufferGetFloat() {
    ByteBuffer b = direct;
    float sum = 0;
    for (int i = 0; i < ELEMENTS; i++) {
      sum += b.getFloat(i << 2);
    }
    return sum;
  }

  @Benchmark
  @OperationsPerInvocation(ELEMENTS)
  public void byteBufferPutFloat() {
    ByteBuffer b = direct;
    for (int i = 0; i < ELEMENTS; i++) {
      b.putFloat(i << 2, i);
    }
  }

  @Benchmark
  @OperationsPerInvocation(ALLOCS)
  public void allocHit(Blackhole bh) {
    try (Scope token = pool.openScope()) {
      for (long s : sizes) {
        bh.consume(token.alloc(s, DType.U8));
      }
    }
  }

  /** The object the hit path must make per allocation (a handle), and nothing else. */
  private static final class Handle {
    final Object block;
    final long generation;

    Handle(Object block, long generation) {
      this.block = block;
      this.generation = generation;
    }
  }

  @Benchmark
  @OperationsPerInvocation(ALLOCS)
  public void handleFloor(Blackhole bh) {
    for (int i = 0; i < ALLOCS; i++) {
      bh.consume(new Handle(sizes, i));
    }
  }
}
