package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/** B1 to B4 for the power-of-two policy, over sizes from 0 to 2^40 with their edge cases. */
class BucketProperties {
  private final BucketPolicy policy = BucketPolicy.powerOfTwo();

  @Provide
  Arbitrary<Long> sizes() {
    Arbitrary<Long> edges =
        Arbitraries.integers().between(0, 40)
            .flatMap(k -> Arbitraries.of((1L << k) - 1, 1L << k, (1L << k) + 1));
    return Arbitraries.oneOf(edges, Arbitraries.longs().between(0, 1L << 40), Arbitraries.of(0L, 1L, 2L));
  }

  @Property
  void b1BucketCoversTheRequest(@ForAll("sizes") long n) {
    assertTrue(policy.bucketSize(n) >= Math.max(n, 1));
    Statistics.label("edge").collect(Long.bitCount(n) == 1 ? "power of two" : Long.bitCount(n + 1) == 1 ? "one below" : "other");
    Statistics.label("edge").coverage(c -> {
      c.check("power of two").count(k -> k > 0);
      c.check("one below").count(k -> k > 0);
    });
  }

  @Property
  void b2BucketIsTheSmallestCoveringPowerOfTwo(@ForAll("sizes") long n) {
    long b = policy.bucketSize(n);
    assertEquals(1, Long.bitCount(b), "a power of two");
    assertTrue(b == 1 || b / 2 < Math.max(n, 1), "the smallest that covers " + n);
  }

  @Property
  void b3BucketIsIdempotentAndMonotone(@ForAll("sizes") long n, @ForAll("sizes") long m) {
    assertEquals(policy.bucketSize(n), policy.bucketSize(policy.bucketSize(n)));
    long lo = Math.min(n, m);
    long hi = Math.max(n, m);
    assertTrue(policy.bucketSize(lo) <= policy.bucketSize(hi));
  }

  @Property
  void b4WasteStaysBelowTheRequest(@ForAll("sizes") long n) {
    if (n > 1) {
      assertTrue(policy.bucketSize(n) < 2 * n);
    }
  }

  @Provide
  Arbitrary<Integer> classes() {
    return Arbitraries.of(1, 2, 4, 8, 16);
  }

  @Property
  void sizeClassesCoverAreIdempotentAndMonotone(
      @ForAll("classes") int k, @ForAll("sizes") long n, @ForAll("sizes") long m) {
    BucketPolicy c = BucketPolicy.sizeClasses(k);
    long b = c.bucketSize(n);
    assertTrue(b >= Math.max(n, 1), "B1");
    assertEquals(b, c.bucketSize(b), "B3 idempotent");
    assertTrue(c.bucketSize(Math.min(n, m)) <= c.bucketSize(Math.max(n, m)), "B3 monotone");
  }

  @Property
  void sizeClassesBoundTheWaste(@ForAll("classes") int k, @ForAll("sizes") long n) {
    long granule = 256;
    long b = BucketPolicy.sizeClasses(k).bucketSize(n);
    assertTrue(b <= n + n / k + granule, "B4: " + n + " -> " + b + " with k = " + k);
    if (n > granule) {
      assertTrue(b - n < Math.max(1, n / k), "above the granule waste is under n/k: " + n + " -> " + b);
    }
  }
}
