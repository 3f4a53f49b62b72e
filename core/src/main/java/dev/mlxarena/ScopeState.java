package dev.mlxarena;

import org.jspecify.annotations.Nullable;

/**
 * The pool's side of one {@link Scope}: its record of issued buffers, its reserve and its
 * lock-free counters. Kept apart from the {@code Scope} handle the user holds, so that a scope
 * nobody closed can become unreachable (and be reported and reclaimed) while the pool still links
 * its state.
 *
 * <h2>Closing state</h2>
 * The record pairs each issued buffer with the generation it was issued at. Closing recycles
 * exactly the records whose generation still matches, so a buffer released early (and perhaps
 * issued again, to this scope or another) is never recycled twice: a device buffer is always in
 * one place, one free list or one live handle.
 */
final class ScopeState {
  static final long[] NO_SHAPE = {};
  static final Block[] NO_BLOCKS = {};
  static final long[] NO_GENERATIONS = {};

  final BufferPool pool;
  private final boolean isDefault;
  /** The stream this scope's buffers are used on, or {@code null} for a stream-less scope. */
  @Nullable DeviceStream stream;
  /** Where the scope was opened, when leak detection or strict close records it. */
  @Nullable Throwable openedAt;

  // Guarded by the pool's lock, or touched only by the scope's own thread (see allocate).
  Block[] blocks;
  long[] generations;
  int count;
  private volatile boolean closed;
  @Nullable ScopeState prev;
  @Nullable ScopeState next;

  /**
   * Free blocks reserved for this scope (see {@code FreeLists}): popped without the pool's lock by
   * the scope's thread, refilled with what the scope issued when it closes.
   */
  @Nullable Reserve reserve;

  // What lock-free allocations changed, folded into the pool's counters when the scope closes.
  // Each pop from the reserve is one allocation, one reuse hit, and moves its capacity from cached
  // to active, so three counters say everything. Plain fields: written by the scope's thread,
  // read by others only for statistics.
  long reservePops;
  long reservePopBytes;
  long reserveRequestedBytes;

  ScopeState(BufferPool pool, boolean isDefault, Block[] blocks, long[] generations) {
    this.pool = pool;
    this.isDefault = isDefault;
    this.blocks = blocks;
    this.generations = generations;
  }

  /** Whether this scope still accepts allocations. */
  boolean isOpen() {
    return !closed;
  }

  // ------------------------------------------------------------ bookkeeping (pool lock held)

  boolean isDefault() {
    return isDefault;
  }

  void markClosed() {
    closed = true;
  }

  /**
   * Issues {@code b}, just popped from this scope's reserve, without the pool's lock: only this
   * scope's thread touches its reserve and its record.
   */
  Buffer issueFromReserve(Block b, DType dtype, long bytes, long elements, long[] shape) {
    b.state = Block.LIVE;
    b.lease(dtype, bytes, elements, shape);
    reservePops++;
    reservePopBytes += b.capacity;
    reserveRequestedBytes += bytes;
    long generation = b.generationPlain(); // this thread owns b: it came from its reserve
    track(b, generation);
    return new Buffer(b, generation);
  }

  void track(Block b, long generation) {
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
        + pool.device().name() + "]";
  }
}
