package dev.mlxarena;

/**
 * One bucket of a pool's {@link BufferPool#bucketStats() breakdown}.
 *
 * @param capacity the bucket's buffer size in bytes
 * @param live live pooled buffers of this size
 * @param free free buffers of this size (reserves of open scopes included)
 * @param deferred buffers of this size waiting for a fence
 */
public record BucketStats(long capacity, int live, int free, int deferred) {

  /** Bytes this bucket holds from the device. */
  public long heldBytes() {
    return capacity * (live + free + deferred);
  }
}
