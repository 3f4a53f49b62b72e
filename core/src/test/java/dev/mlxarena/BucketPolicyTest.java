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

  @Test
  void sizeClassesCutEachDoublingIntoKSteps() {
    BucketPolicy c = BucketPolicy.sizeClasses(4);
    assertEquals(256, c.bucketSize(200), "powers of two up to the granule");
    assertEquals(16, c.bucketSize(9));
    assertEquals(320, c.bucketSize(257));
    assertEquals(384, c.bucketSize(321));
    assertEquals(512, c.bucketSize(500));
    assertEquals(640, c.bucketSize(513));
    assertEquals(5 << 20, c.bucketSize((4 << 20) + 1));
    for (int i = 0; i < c.bucketCount(); i++) {
      assertEquals(i, c.bucketIndex(c.sizeOfBucket(i)), "index " + i + " round-trips");
      if (i > 0) {
        assertTrue(c.sizeOfBucket(i) > c.sizeOfBucket(i - 1), "buckets grow");
      }
    }
    assertEquals(1L << 62, c.sizeOfBucket(c.bucketCount() - 1));
  }

  @Test
  void sizeClassesRejectBadParameters() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BucketPolicy.sizeClasses(3));
    assertTrue(e.getMessage().contains("3"));
    assertThrows(IllegalArgumentException.class, () -> BucketPolicy.sizeClasses(4, 100));
    assertThrows(IllegalArgumentException.class, () -> BucketPolicy.sizeClasses(8, 4));
  }
}
