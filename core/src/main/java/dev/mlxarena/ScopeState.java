package dev.mlxarena;

import org.jspecify.annotations.Nullable;

/**
 * The pool's side of one {@link Scope}: its record of issued buffers, its reserve and the counters
 * of what it issued that the pool has not folded in yet. Kept apart from the {@code Scope} handle
 * the user holds, so that a scope nobody closed can become unreachable (and be reported and
 * reclaimed) while the pool still links its state.
 *
 * <h2>Closing state</h2>
 * The record pairs each issued buffer with the generation it was issued at. Closing recycles
 * exactly the records whose generation still matches, so a buffer released early (and perhaps
 * issued again, to this scope or another) is never recycled twice: a device buffer is always in
 * one place, one free list or one live handle.
 *
 * <h2>Who touches what</h2>
 * The record, the reserve and the issue counters are plain fields owned by the scope's thread:
 * {@link #issue} runs on it without the pool's lock, from the scope's own reserve, and the pool
 * touches them only under its lock on that same thread (a locked allocation through this scope)
 * or once the scope is being closed, which the caller orders after its last allocation. Other
 * threads read the issue counters under the lock for statistics only, racily, which is why
 * statistics are approximate while other threads allocate. {@code closed} is volatile because
 * {@link Scope#isOpen()} may be asked from any thread.
 */
final class ScopeState {
  static final long[] NO_SHAPE = {};
  static final Block[] NO_BLOCKS = {};
  static final long[] NO_GENERATIONS = {};

  private final boolean isDefault;
  private final String deviceName;
  /** The stream this scope's buffers are used on, or {@code null} for a stream-less scope. */
  final @Nullable DeviceStream stream;
  /** Where the scope was opened, when leak detection or strict close records it. */
  @Nullable Throwable openedAt;

  Block[] blocks;
  long[] generations;
  int count;
  private volatile boolean closed;
  /** Links of the pool's list of open scopes (see {@code OpenScopes}); guarded by the pool's lock. */
  @Nullable ScopeState prev;
  @Nullable ScopeState next;

  /**
   * Free blocks reserved for this scope (see {@code FreeLists}): taken without the pool's lock by
   * the scope's thread, refilled with what the scope issued when it closes, and set to {@code null}
   * when it closes, which is what sends a closed scope's allocations to the locked path.
   */
  @Nullable Reserve reserve;

  // What this scope issued since the pool last folded it in (see PoolCounters#fold): each is one
  // allocation and moves its capacity into the active figures.
  long issued;
  long issuedBytes;
  long issuedRequested;

  ScopeState(
      boolean isDefault,
      String deviceName,
      @Nullable DeviceStream stream,
      Block[] blocks,
      long[] generations) {
    this.isDefault = isDefault;
    this.deviceName = deviceName;
    this.stream = stream;
    this.blocks = blocks;
    this.generations = generations;
  }

  /** Whether this scope still accepts allocations (a volatile read). */
  boolean isOpen() {
    return !closed;
  }

  boolean isDefault() {
    return isDefault;
  }

  void markClosed() {
    closed = true;
  }

  /** A free block of {@code bucket} from this scope's reserve, or {@code null}; owner thread only. */
  @Nullable Block takeReserved(int bucket) {
    Reserve r = reserve;
    return r == null ? null : r.take(bucket);
  }

  /**
   * The one issue path: leases the FREE (or fresh) block {@code b} to a new handle, records it and
   * counts it. Runs on the scope's thread, with or without the pool's lock.
   */
  Buffer issue(Block b, DType dtype, long bytes, long elements, long[] shape) {
    b.state = Block.LIVE;
    b.lease(dtype, bytes, elements, shape);
    issued++;
    issuedBytes += b.capacity;
    issuedRequested += bytes;
    long generation = b.generationPlain(); // this thread owns b: it came from a free list or the reserve
    track(b, generation);
    return new Buffer(b, generation);
  }

  private void track(Block b, long generation) {
    if (count == blocks.length || count == generations.length) {
      int n = Math.max(16, count * 2);
      Block[] bs = new Block[n];
      long[] gs = new long[n];
      System.arraycopy(blocks, 0, bs, 0, count);
      System.arraycopy(generations, 0, gs, 0, count);
      blocks = bs;
      generations = gs;
    }
    blocks[count] = b;
    generations[count] = generation;
    count++;
  }

  @Override
  public String toString() {
    // Lock-free on purpose: the pool builds error messages with it while holding its lock.
    return "Scope[" + (isDefault ? "default, " : "") + (closed ? "closed" : "open") + ", on "
        + deviceName + "]";
  }
}
