package dev.mlxarena;

import dev.mlxarena.spi.BufferRegistrar;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Immutable configuration of a {@link BufferPool}. Build one with {@link #builder()}; {@link
 * #defaults()} gives the defaults, which system properties can change (read each time {@link
 * #defaults()} or {@link #builder()} is called):
 *
 * <table>
 *   <caption>Options, their defaults and system properties</caption>
 *   <tr><th>option</th><th>default</th><th>system property</th></tr>
 *   <tr><td>bucket policy</td><td>{@link BucketPolicy#powerOfTwo()}</td><td>-</td></tr>
 *   <tr><td>residency</td><td>on</td><td>{@code mlxarena.residency} (true/false)</td></tr>
 *   <tr><td>cache limit</td><td>unlimited</td><td>{@code mlxarena.cacheLimit} (bytes, k/m/g)</td></tr>
 *   <tr><td>memory limit</td><td>unlimited</td><td>{@code mlxarena.memoryLimit} (bytes, k/m/g)</td></tr>
 *   <tr><td>leak detection</td><td>{@link LeakDetection#SAMPLED}</td><td>{@code mlxarena.leakDetection}</td></tr>
 *   <tr><td>strict close</td><td>off</td><td>{@code mlxarena.strictClose} (true/false)</td></tr>
 *   <tr><td>poison on recycle</td><td>off</td><td>{@code mlxarena.poisonOnRecycle} (true/false)</td></tr>
 *   <tr><td>registrars</td><td>none</td><td>-</td></tr>
 * </table>
 *
 * <pre>{@code
 * PoolOptions options = PoolOptions.builder()
 *     .bucketPolicy(BucketPolicy.sizeClasses(4))
 *     .cacheLimit(512L << 20)      // keep at most 512 MiB in free lists
 *     .memoryLimit(8L << 30)       // hold at most 8 GiB from the device
 *     .build();
 * }</pre>
 *
 * <p>A system property whose value does not parse is refused where it is read: {@link
 * #defaults()}, {@link #builder()} (and so {@link BufferPool#create(dev.mlxarena.spi.Device)}),
 * and, for {@code mlxarena.leakDetection}, each owned allocation ({@link Buffer#allocOwned},
 * {@link Buffer#adoptOwned}, which read it before they allocate), with an {@link
 * IllegalArgumentException} naming the property and its value. Nothing else is affected: once the
 * property is corrected, the next call succeeds.
 */
public final class PoolOptions {
  private static final Logger LOG = System.getLogger(PoolOptions.class.getName());
  /**
   * The 32-bit pattern {@link #isPoisonOnRecycle() poisoning} writes: a quiet NaN as one F32, and
   * as each of two F16 or BF16 halves.
   */
  public static final int POISON = 0x7FC07FC0;

  /** Whether the defaults have been logged (once, at debug level). */
  private static final AtomicBoolean LOGGED = new AtomicBoolean();

  private final BucketPolicy bucketPolicy;
  private final boolean residency;
  private final long cacheLimit;
  private final long memoryLimit;
  private final LeakDetection leakDetection;
  private final boolean strictClose;
  private final boolean poisonOnRecycle;
  private final List<BufferRegistrar> registrars;

  private PoolOptions(Builder b) {
    this.bucketPolicy = b.bucketPolicy;
    this.residency = b.residency;
    this.cacheLimit = b.cacheLimit;
    this.memoryLimit = b.memoryLimit;
    this.leakDetection = b.leakDetection;
    this.strictClose = b.strictClose;
    this.poisonOnRecycle = b.poisonOnRecycle;
    this.registrars = List.copyOf(b.registrars);
  }

  /**
   * The defaults, as the system properties in the class comment set them now.
   *
   * @throws IllegalArgumentException if one of those properties has a value that does not parse
   */
  public static PoolOptions defaults() {
    PoolOptions d = builder().build();
    if (!LOGGED.getAndSet(true)) {
      LOG.log(Level.DEBUG, () -> "mlx-arena pool defaults: " + d);
    }
    return d;
  }

  /**
   * A builder starting from the defaults.
   *
   * @throws IllegalArgumentException if a system property of the class comment has a value that
   *     does not parse
   */
  public static Builder builder() {
    return new Builder(true);
  }

  /** A builder starting from these options (system properties are not read). */
  public Builder toBuilder() {
    return new Builder(false)
        .bucketPolicy(bucketPolicy)
        .residency(residency)
        .cacheLimit(cacheLimit)
        .memoryLimit(memoryLimit)
        .leakDetection(leakDetection)
        .strictClose(strictClose)
        .poisonOnRecycle(poisonOnRecycle)
        .registrars(registrars);
  }

  /** Bytes the free lists may keep; beyond it, least recently used buckets go back to the device. */
  public long getCacheLimit() {
    return cacheLimit;
  }

  /** Bytes the pool may hold from its device, live and free together. */
  public long getMemoryLimit() {
    return memoryLimit;
  }

  /** How scopes and owned buffers that are never closed are found. */
  public LeakDetection getLeakDetection() {
    return leakDetection;
  }

  /** Whether {@link BufferPool#close()} throws while scopes are still open, naming where they were opened. */
  public boolean isStrictClose() {
    return strictClose;
  }

  /**
   * Whether every buffer returning to a free list is first filled with {@link #POISON} over its
   * whole capacity (a quiet NaN in F32, F16 and BF16), so that a kernel reading a recycled buffer
   * it does not own produces visibly wrong output. A debugging aid; off by default.
   *
   * <p>The fill follows the hand-back's order: a buffer handed back on a {@link
   * dev.mlxarena.spi.DeviceStream} is filled by work enqueued on that stream before the fence that
   * lets others take it; a
   * stream-less one is filled before the call returns; one handed back behind a fence is filled
   * only once that fence has completed, never while the device may still read it. Fresh memory is
   * still zero-filled.
   *
   * <pre>{@code
   * BufferPool pool = BufferPool.create(device, PoolOptions.builder().poisonOnRecycle(true).build());
   * Buffer x = pool.alloc(4096, DType.F32);
   * pool.release(x);
   * pool.alloc(4096, DType.F32).getF32(0);  // NaN: the same memory, poisoned
   * }</pre>
   */
  public boolean isPoisonOnRecycle() {
    return poisonOnRecycle;
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

  /**
   * What every device buffer the pool holds is registered with, once, from its fresh allocation
   * until its memory goes back to the device (see {@link BufferRegistrar}); in the order they
   * were given. Default none.
   */
  public List<BufferRegistrar> getRegistrars() {
    return registrars;
  }

  @Override
  public String toString() {
    return "PoolOptions[bucketPolicy=" + bucketPolicy + ", residency=" + residency
        + ", cacheLimit=" + limit(cacheLimit) + ", memoryLimit=" + limit(memoryLimit)
        + ", leakDetection=" + leakDetection + ", strictClose=" + strictClose
        + ", poisonOnRecycle=" + poisonOnRecycle
        + (registrars.isEmpty() ? "" : ", registrars=" + registrars) + "]";
  }

  private static String limit(long bytes) {
    return bytes == Long.MAX_VALUE ? "unlimited" : bytes + " B";
  }

  /** Parses a byte count with an optional k, m or g suffix (powers of 1024). */
  static long parseBytes(String name, String value) {
    String t = value.trim().toLowerCase(Locale.ROOT);
    int shift = t.endsWith("k") ? 10 : t.endsWith("m") ? 20 : t.endsWith("g") ? 30 : 0;
    String digits = shift == 0 ? t : t.substring(0, t.length() - 1);
    try {
      long n = Long.parseLong(digits);
      if (n < 0 || n > (Long.MAX_VALUE >> shift)) {
        throw new NumberFormatException();
      }
      return n << shift;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          name + "=" + value + " is not a byte count (examples: 1048576, 512m, 8g)");
    }
  }

  /** Builds {@link PoolOptions}. Not thread-safe. */
  public static final class Builder {
    private BucketPolicy bucketPolicy = BucketPolicy.powerOfTwo();
    private boolean residency = true;
    private long cacheLimit = Long.MAX_VALUE;
    private long memoryLimit = Long.MAX_VALUE;
    private LeakDetection leakDetection = LeakDetection.SAMPLED;
    private boolean strictClose;
    private boolean poisonOnRecycle;
    private final List<BufferRegistrar> registrars = new ArrayList<>();

    /** A builder at the built-in defaults, or at the defaults the system properties set. */
    private Builder(boolean fromProperties) {
      if (fromProperties) {
        residency = !"false".equalsIgnoreCase(System.getProperty("mlxarena.residency"));
        cacheLimit = sizeProperty("mlxarena.cacheLimit");
        memoryLimit = sizeProperty("mlxarena.memoryLimit");
        leakDetection = leakProperty();
        strictClose = Boolean.getBoolean("mlxarena.strictClose");
        poisonOnRecycle = Boolean.getBoolean("mlxarena.poisonOnRecycle");
      }
    }

    private static long sizeProperty(String name) {
      String v = System.getProperty(name);
      return v == null ? Long.MAX_VALUE : parseBytes(name, v);
    }

    /**
     * The level {@code mlxarena.leakDetection} sets, {@link LeakDetection#SAMPLED} without it.
     *
     * @throws IllegalArgumentException if its value names no level
     */
    static LeakDetection leakProperty() {
      String v = System.getProperty("mlxarena.leakDetection");
      if (v == null) {
        return LeakDetection.SAMPLED;
      }
      try {
        return LeakDetection.valueOf(v.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "mlxarena.leakDetection=" + v + " is not a leak detection level: use disabled, sampled"
                + " or paranoid");
      }
    }

    /**
     * Bytes the free lists may keep after any call; beyond it, buffers go back to the device,
     * least recently used buckets first. {@code Long.MAX_VALUE} (the default) is unlimited.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder cacheLimit(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("cacheLimit must be at least 0, was " + bytes);
      }
      this.cacheLimit = bytes;
      return this;
    }

    /**
     * Bytes the pool may hold from its device, live and cached. An allocation that would pass it
     * first frees cached buffers, then fails with {@link PoolExhaustedException}. {@code
     * Long.MAX_VALUE} (the default) is unlimited.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder memoryLimit(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("memoryLimit must be at least 1, was " + bytes);
      }
      this.memoryLimit = bytes;
      return this;
    }

    /** Sets how leaks are looked for. */
    public Builder leakDetection(LeakDetection level) {
      this.leakDetection = Objects.requireNonNull(level, "leakDetection");
      return this;
    }

    /** Makes {@link BufferPool#close()} throw while scopes are open (after closing them). */
    public Builder strictClose(boolean strict) {
      this.strictClose = strict;
      return this;
    }

    /** Makes the pool poison every buffer it recycles; see {@link PoolOptions#isPoisonOnRecycle()}. */
    public Builder poisonOnRecycle(boolean poison) {
      this.poisonOnRecycle = poison;
      return this;
    }

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

    /**
     * Adds a registrar: every device buffer the pool holds is registered with it once, and
     * deregistered before its memory goes back to the device (see {@link BufferRegistrar}).
     */
    public Builder registrar(BufferRegistrar registrar) {
      registrars.add(Objects.requireNonNull(registrar, "registrar"));
      return this;
    }

    /** Replaces the registrars with {@code all}, in order; see {@link #registrar}. */
    public Builder registrars(List<? extends BufferRegistrar> all) {
      List<BufferRegistrar> copy = List.copyOf(Objects.requireNonNull(all, "registrars"));
      registrars.clear();
      registrars.addAll(copy);
      return this;
    }

    /** The options. */
    public PoolOptions build() {
      return new PoolOptions(this);
    }
  }
}
