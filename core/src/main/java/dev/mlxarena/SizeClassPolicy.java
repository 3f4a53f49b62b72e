package dev.mlxarena;

/**
 * {@code k} size classes per doubling above a granule, powers of two below it (as jemalloc and
 * Netty do). Above the granule, the doubling {@code (2^e, 2^(e+1)]} is cut into {@code k} equal
 * steps of {@code 2^e / k}, so a request is rounded up by less than one step: waste stays below
 * {@code 1/k} of the request. Below the granule, where waste in bytes is small anyway, buckets are
 * powers of two.
 *
 * <p>Index layout: buckets {@code 0 .. log2(granule)} are the powers of two {@code 1 .. granule};
 * then, for each exponent {@code e} from {@code log2(granule)} to 61, {@code k} buckets for
 * {@code 2^e + j * 2^e / k}, {@code j = 1 .. k}.
 */
final class SizeClassPolicy implements BucketPolicy {
  private static final int MAX_EXPONENT = 62;

  private final int k;
  private final int kShift;
  private final long granule;
  private final int granuleShift;

  SizeClassPolicy(int classesPerDoubling, long granule) {
    if (classesPerDoubling < 1 || classesPerDoubling > 64 || Integer.bitCount(classesPerDoubling) != 1) {
      throw new IllegalArgumentException(
          "classes per doubling must be a power of two from 1 to 64, was " + classesPerDoubling);
    }
    if (granule < classesPerDoubling || granule > (1L << 30) || Long.bitCount(granule) != 1) {
      throw new IllegalArgumentException(
          "the granule must be a power of two from " + classesPerDoubling + " to 2^30, was " + granule);
    }
    this.k = classesPerDoubling;
    this.kShift = Integer.numberOfTrailingZeros(classesPerDoubling);
    this.granule = granule;
    this.granuleShift = Long.numberOfTrailingZeros(granule);
  }

  @Override
  public int bucketIndex(long bytes) {
    if (bytes < 0 || bytes > maxBytes()) {
      throw new IllegalArgumentException(
          "requested " + bytes + " bytes: size classes serve 0 to " + maxBytes());
    }
    if (bytes <= granule) {
      return bytes <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(bytes - 1);
    }
    int e = 63 - Long.numberOfLeadingZeros(bytes - 1); // 2^e < bytes <= 2^(e+1)
    int stepShift = e - kShift;
    long j = (bytes - (1L << e) + (1L << stepShift) - 1) >>> stepShift; // 1 .. k
    return granuleShift + 1 + ((e - granuleShift) << kShift) + (int) (j - 1);
  }

  @Override
  public long sizeOfBucket(int index) {
    if (index <= granuleShift) {
      return 1L << index;
    }
    int rel = index - granuleShift - 1;
    int e = granuleShift + (rel >>> kShift);
    long j = (rel & (k - 1)) + 1L;
    return (1L << e) + (j << (e - kShift));
  }

  @Override
  public int bucketCount() {
    return granuleShift + 1 + ((MAX_EXPONENT - granuleShift) << kShift);
  }

  @Override
  public long maxBytes() {
    return 1L << MAX_EXPONENT;
  }

  @Override
  public String toString() {
    return "sizeClasses(" + k + ", granule " + granule + ")";
  }
}
