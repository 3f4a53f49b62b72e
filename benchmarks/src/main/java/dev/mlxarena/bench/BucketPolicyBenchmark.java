package dev.mlxarena.bench;

import dev.mlxarena.BucketPolicy;
import dev.mlxarena.BufferPool;
import dev.mlxarena.Device;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.host.HostDevice;
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
 * The decode trace's arena cycle under each bucket policy, in nanoseconds per allocation. Setup
 * prints the memory the pool holds per byte a token requests (1.0 would be no rounding at all);
 * {@code BucketPolicyMemoryTest} checks it against the target.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@OperationsPerInvocation(Traces.LENGTH)
@State(org.openjdk.jmh.annotations.Scope.Thread)
public class BucketPolicyBenchmark {

  @Param({"pow2", "classes4"})
  public String policy;

  private long[] sizes;
  private Device device;
  private BufferPool pool;
  private double heldPerRequested;

  static BucketPolicy named(String name) {
    return switch (name) {
      case "pow2" -> BucketPolicy.powerOfTwo();
      case "classes4" -> BucketPolicy.sizeClasses(4);
      default -> throw new IllegalArgumentException("unknown policy " + name);
    };
  }

  /** Bytes a pool with {@code policy} holds for one decode token, over the bytes it requests. */
  static double heldPerRequested(BucketPolicy policy, long[] sizes) {
    long held = 0;
    long requested = 0;
    for (long s : sizes) {
      held += policy.bucketSize(s);
      requested += s;
    }
    return (double) held / requested;
  }

  @Setup(Level.Trial)
  public void setUp() {
    sizes = Traces.decode();
    device = HostDevice.create();
    pool = Cycles.warmed(device, PoolOptions.builder().bucketPolicy(named(policy)).build(), sizes);
    long requested = 0;
    for (long s : sizes) {
      requested += s;
    }
    heldPerRequested = (double) pool.stats().heldBytes() / requested;
    System.out.printf("%s: the pool holds %.3f bytes per requested byte of the decode trace%n",
        policy, heldPerRequested);
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
