package dev.mlxarena.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.BucketPolicy;
import org.junit.jupiter.api.Test;

/** The memory side of the policy target, which is a property of the trace, not a timing. */
class BucketPolicyMemoryTest {
  @Test
  void fourSizeClassesHoldAtMost115PercentOfTheDecodeTrace() {
    double classes = BucketPolicyBenchmark.heldPerRequested(BucketPolicy.sizeClasses(4), Traces.decode());
    double pow2 = BucketPolicyBenchmark.heldPerRequested(BucketPolicy.powerOfTwo(), Traces.decode());
    System.out.printf("held per requested byte on the decode trace: powerOfTwo %.3f, sizeClasses(4) %.3f%n", pow2, classes);
    assertTrue(classes <= 1.15, "sizeClasses(4) holds " + classes);
    assertTrue(classes < pow2);
  }
}
