package dev.mlxarena;

/** Power-of-two buckets: bucket {@code i} holds {@code 2^i} bytes, up to {@code 2^62}. */
final class PowerOfTwoPolicy implements BucketPolicy {
  static final PowerOfTwoPolicy INSTANCE = new PowerOfTwoPolicy();
  private static final int MAX_SHIFT = 62;

  private PowerOfTwoPolicy() {}

  @Override
  public int bucketIndex(long bytes) {
    if (bytes < 0 || bytes > maxBytes()) {
      throw new IllegalArgumentException(
          "requested " + bytes + " bytes: the power-of-two policy serves 0 to " + maxBytes());
    }
    // ceil(log2(bytes)) by bit arithmetic; 0 and 1 both land in bucket 0 (1 byte).
    return bytes <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(bytes - 1);
  }

  @Override
  public long sizeOfBucket(int index) {
    return 1L << index;
  }

  @Override
  public int bucketCount() {
    return MAX_SHIFT + 1;
  }

  @Override
  public long maxBytes() {
    return 1L << MAX_SHIFT;
  }

  @Override
  public String toString() {
    return "powerOfTwo";
  }
}
