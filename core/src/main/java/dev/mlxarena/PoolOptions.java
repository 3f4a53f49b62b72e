package dev.mlxarena;

import java.util.Objects;

/**
 * Immutable configuration of a {@link BufferPool}. Build one with {@link #builder()}; {@link
 * #defaults()} gives the mlx-native-compatible defaults.
 *
 * <pre>{@code
 * PoolOptions options = PoolOptions.builder()
 *     .bucketPolicy(BucketPolicy.powerOfTwo())
 *     .residency(true)
 *     .build();
 * }</pre>
 */
public final class PoolOptions {
  private static final PoolOptions DEFAULTS = builder().build();

  private final BucketPolicy bucketPolicy;
  private final boolean residency;

  private PoolOptions(Builder b) {
    this.bucketPolicy = b.bucketPolicy;
    this.residency = b.residency;
  }

  /** Power-of-two buckets, residency registration on. */
  public static PoolOptions defaults() {
    return DEFAULTS;
  }

  /** A builder starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these options. */
  public Builder toBuilder() {
    return new Builder().bucketPolicy(bucketPolicy).residency(residency);
  }

  /** How requested sizes map to bucket capacities. Default {@link BucketPolicy#powerOfTwo()}. */
  public BucketPolicy getBucketPolicy() {
    return bucketPolicy;
  }

  /**
   * Whether the pool adds its device buffers to the device's residency set (where the device has
   * one). Default {@code true}.
   */
  public boolean isResidency() {
    return residency;
  }

  @Override
  public String toString() {
    return "PoolOptions[bucketPolicy=" + bucketPolicy + ", residency=" + residency + "]";
  }

  /** Builds {@link PoolOptions}. Not thread-safe. */
  public static final class Builder {
    private BucketPolicy bucketPolicy = BucketPolicy.powerOfTwo();
    private boolean residency = true;

    private Builder() {}

    /** Sets the bucket policy. */
    public Builder bucketPolicy(BucketPolicy policy) {
      this.bucketPolicy = Objects.requireNonNull(policy, "bucketPolicy");
      return this;
    }

    /** Sets whether pooled buffers are added to the device's residency set. */
    public Builder residency(boolean enabled) {
      this.residency = enabled;
      return this;
    }

    /** The options. */
    public PoolOptions build() {
      return new PoolOptions(this);
    }
  }
}
