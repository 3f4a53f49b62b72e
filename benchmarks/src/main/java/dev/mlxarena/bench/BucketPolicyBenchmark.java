package dev.mlxarena.bench;

import dev.mlxarena.BucketPolicy;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * The decode trace's arena cycle under each bucket policy, in nanoseconds per allocation. Setup
 * prints the memory the pool holds per byte a token requests (1.0 would be no rounding at all);
 * {@code BucketPolicyMemoryTest} checks it against the target.
 */
public class BucketPolicyBenchmark extends TokenCycleBenchmark {

  @Param({"pow2", "classes4"})
  public String policy;

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

  @Override
  protected Device openDevice() {
    return HostDevice.create();
  }

  @Override
  protected PoolOptions options() {
    return PoolOptions.builder().bucketPolicy(named(policy)).build();
  }

  /** Prints the memory this policy holds per requested byte, once per trial. */
  @Setup(Level.Trial)
  public void reportMemory() {
    System.out.printf("%s: the pool holds %.3f bytes per requested byte of the decode trace%n",
        policy, heldPerRequested(named(policy), Traces.decode()));
  }
}
