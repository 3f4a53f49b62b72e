package dev.mlxarena.spi;

import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * A base for backends' {@link DeviceBuffer}s: the capacity, who owns the memory, and whether it
 * was freed, so that a second free, a use after free, or a free of memory someone else owns is an
 * exception instead of heap or driver corruption. Host, Metal and CUDA buffers all extend it.
 *
 * <h2>Ownership</h2>
 * A raw allocation has at most one owner: a pool that allocated it, or an owned {@code Buffer}
 * ({@link dev.mlxarena.Buffer#allocOwned}, {@link dev.mlxarena.Buffer#adoptOwned}). The owner
 * {@link #claim claims} the buffer when it takes it and {@link #unclaim unclaims} it just before
 * it frees it; meanwhile a second
 * claim (adopting memory a pool holds, adopting one buffer twice) is refused, and so is a free
 * through {@link Device#free} that does not come from the owner ({@link #markFreed}).
 *
 * <h2>Freeing</h2>
 * A backend's {@code free} frees a buffer through {@link #freeOnce}, which marks it freed, runs
 * the backend's release, and, if the release throws (Metal refuses to free a residency-set
 * member), marks it live again, so that the caller can remove the cause and free it again. {@link
 * #markFreed} alone marks it freed for good: a backend whose release cannot fail may call it
 * before releasing.
 *
 * <p>All state changes are atomic; every method is thread-safe.
 */
public abstract class TrackedDeviceBuffer implements DeviceBuffer {
  /** The state of a freed buffer. */
  private static final Object FREED = new Object() {
    @Override
    public String toString() {
      return "freed";
    }
  };

  private final long capacity;
  /** {@code null} while nobody owns the buffer, its owner, or {@link #FREED}. */
  private final AtomicReference<@Nullable Object> state = new AtomicReference<>();

  /** A buffer of {@code capacity} bytes. */
  protected TrackedDeviceBuffer(long capacity) {
    this.capacity = capacity;
  }

  @Override
  public final long capacity() {
    return capacity;
  }

  /**
   * Takes ownership of the buffer for {@code owner}, which must {@link #unclaim} it before freeing.
   *
   * @throws IllegalArgumentException if someone else owns it, naming who
   * @throws IllegalStateException if it was freed
   */
  public final void claim(Object owner) {
    Object was = state.compareAndExchange(null, owner);
    if (was == FREED) {
      throw new IllegalStateException("use of freed " + this);
    }
    if (was != null) {
      throw new IllegalArgumentException(
          this + " is owned by " + was + ": one allocation has one owner, so it cannot be taken"
              + " again (close or release the buffer that owns it instead)");
    }
  }

  /**
   * Gives up {@code owner}'s ownership, as the owner is about to free the buffer.
   *
   * @throws IllegalStateException if {@code owner} does not own it
   */
  public final void unclaim(Object owner) {
    Object was = state.compareAndExchange(owner, null);
    if (was != owner) {
      throw new IllegalStateException(owner + " does not own " + this + " (" + was + " does)");
    }
  }

  /**
   * Marks this buffer freed, for good; call it before giving the memory back, or free through
   * {@link #freeOnce}, which undoes the mark if the release fails.
   *
   * @throws IllegalStateException if it was freed already, or if an owner still holds it (a pool or
   *     an owned buffer: close that instead)
   */
  public final void markFreed() {
    Object was = state.compareAndExchange(null, FREED);
    if (was == FREED) {
      throw new IllegalStateException("double free of " + this);
    }
    if (was != null) {
      throw new IllegalStateException(
          "free of " + this + " refused: it is owned by " + was + ", which frees it when it is"
              + " closed or released");
    }
  }

  /**
   * Marks this buffer freed and runs {@code release}, the backend's giving back of the memory. If
   * {@code release} throws, the buffer is live again (the memory was not given back) and the
   * exception propagates, so that the free can be retried once its cause is removed.
   *
   * @throws IllegalStateException as {@link #markFreed} does
   */
  public final void freeOnce(Runnable release) {
    markFreed();
    try {
      release.run();
    } catch (RuntimeException | Error e) {
      state.set(null);
      throw e;
    }
  }

  /**
   * Checks the buffer may still be used.
   *
   * @throws IllegalStateException if it was freed
   */
  public final void requireLive() {
    if (state.get() == FREED) {
      throw new IllegalStateException("use of freed " + this);
    }
  }

  /**
   * Checks an allocation size for a device.
   *
   * @throws IllegalArgumentException if {@code bytes < 1}
   */
  public static void requirePositive(long bytes) {
    if (bytes < 1) {
      throw new IllegalArgumentException("allocation of " + bytes + " bytes: must be at least 1");
    }
  }
}
