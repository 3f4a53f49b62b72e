package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BucketPolicyTest {
  private final BucketPolicy p = BucketPolicy.powerOfTwo();

  @Test
  void zeroAndOneMapToOneAsInMlxNative() {
    assertEquals(1, p.bucketSize(0));
    assertEquals(1, p.bucketSize(1));
    assertEquals(2, p.bucketSize(2));
    assertEquals(4, p.bucketSize(3));
  }

  @Test
  void powersOfTwoMapToThemselvesAndTheirNeighboursRoundUp() {
    for (int k = 1; k < 62; k++) {
      long pow = 1L << k;
      assertEquals(pow, p.bucketSize(pow));
      assertEquals(pow, p.bucketSize(pow - 1 == 1 ? 2 : pow - 1));
      assertEquals(pow * 2, p.bucketSize(pow + 1));
      assertEquals(k, p.bucketIndex(pow));
      assertEquals(pow, p.sizeOfBucket(p.bucketIndex(pow)));
    }
    assertEquals(1L << 62, p.bucketSize(1L << 62));
  }

  @Test
  void wasteStaysBelowHalf() {
    for (long n = 2; n < 100_000; n += 7) {
      long b = p.bucketSize(n);
      assertTrue(b >= n && b < 2 * n, n + " -> " + b);
    }
  }

  @Test
  void outOfRangeRequestsNameTheLimit() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> p.bucketIndex((1L << 62) + 1));
    assertTrue(e.getMessage().contains(Long.toString(1L << 62)));
    assertThrows(IllegalArgumentException.class, () -> p.bucketIndex(-1));
  }
}
