package dev.mlxarena;

/**
 * Maps a requested byte length to the capacity the pool allocates for it: the bucket whose free
 * list it is recycled through.
 *
 * <p>Every policy satisfies, for all {@code n} it accepts: {@code bucketSize(n) >= max(n, 1)}
 * (cover), {@code bucketSize(bucketSize(n)) == bucketSize(n)} (idempotent), and {@code n <= m}
 * implies {@code bucketSize(n) <= bucketSize(m)} (monotone). Bucket indexes are dense from 0, so a
 * pool can keep its free lists in an array.
 */
public interface BucketPolicy {

  /**
   * The default policy, as in mlx-native: the smallest power of two that covers the request
   * ({@code 0} and {@code 1} map to {@code 1}). Waste is below half of the bucket.
   */
  static BucketPolicy powerOfTwo() {
    return PowerOfTwoPolicy.INSTANCE;
  }

  /**
   * {@code k} size classes per doubling above a 256-byte granule, powers of two below it: waste
   * stays under {@code 1/k} of the request above the granule ({@code k = 4}: under 25%), for more
   * buckets and so a little less reuse than {@link #powerOfTwo()}.
   *
   * @param k classes per doubling, a power of two from 1 to 64
   * @throws IllegalArgumentException for any other {@code k}
   */
  static BucketPolicy sizeClasses(int k) {
    return new SizeClassPolicy(k, 256);
  }

  /**
   * {@code k} size classes per doubling above {@code granule} bytes.
   *
   * @param k classes per doubling, a power of two from 1 to 64
   * @param granule a power of two from {@code k} to 2^30: below it, buckets are powers of two
   * @throws IllegalArgumentException if either is out of range
   */
  static BucketPolicy sizeClasses(int k, long granule) {
    return new SizeClassPolicy(k, granule);
  }

  /** The capacity allocated for a request of {@code bytes} bytes. */
  default long bucketSize(long bytes) {
    return sizeOfBucket(bucketIndex(bytes));
  }

  /**
   * The index of the bucket that serves {@code bytes}.
   *
   * @throws IllegalArgumentException if {@code bytes} is negative or above {@link #maxBytes()}
   */
  int bucketIndex(long bytes);

  /** The capacity of bucket {@code index}. */
  long sizeOfBucket(int index);

  /** The number of buckets; valid indexes are {@code 0 .. bucketCount() - 1}. */
  int bucketCount();

  /** The largest request this policy accepts. */
  long maxBytes();
}
