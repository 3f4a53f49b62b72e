package dev.mlxarena;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One arena cycle of a {@link BufferPool}, usually one decoded token: every buffer allocated
 * through it goes back to the pool's free lists together when the scope closes, and every handle
 * it issued becomes stale at that moment.
 *
 * <pre>{@code
 * try (Scope token = pool.openScope()) {
 *   Buffer q = token.alloc(4096 * 4, DType.F32, 4096);
 *   Buffer scores = token.alloc(32 * 512 * 4, DType.F32, 32, 512);
 *   ... // encode kernels over q and scores
 * } // q and scores are back in the free lists; using them now throws StaleBufferException
 * }</pre>
 *
 * <h2>Closing state</h2>
 * A scope records each buffer it issued together with the generation it was issued at. Closing
 * recycles exactly the records whose generation still matches, so a buffer released early (and
 * perhaps issued again, to this scope or another) is never recycled twice: a device buffer is
 * always in one place, one free list or one live handle. Closing is idempotent; closing the pool
 * closes every scope still open.
 *
 * <p>Many scopes may be open on one pool at once (one per decode stream, say), each used by one
 * thread at a time. All bookkeeping happens under the pool's lock, so a scope may be closed on a
 * different thread from the one that allocated through it, provided the two are ordered.
 */
public final class Scope implements AutoCloseable {
  static final long[] NO_SHAPE = {};
  static final Block[] NO_BLOCKS = {};
  static final long[] NO_GENERATIONS = {};

  private final BufferPool pool;
  private final boolean isDefault;

  // Guarded by the pool's lock, or touched only by the scope's own thread (see allocate).
  Block[] blocks;
  long[] generations;
  int count;
  private volatile boolean closed;
  @Nullable Scope prev;
  @Nullable Scope next;

  /**
   * Free blocks reserved for this scope (see {@code FreeLists}): popped without the pool's lock by
   * the scope's thread, refilled with what the scope issued when it closes.
   */
  BlockStack @Nullable [] reserve;

  // What lock-free allocations changed, folded into the pool's counters when the scope closes.
  // Each pop from the reserve is one allocation, one reuse hit, and moves its capacity from cached
  // to active, so three counters say everything. Plain fields: written by the scope's thread,
  // read by others only for statistics.
  long reservePops;
  long reservePopBytes;
  long reserveRequestedBytes;

  Scope(BufferPool pool, boolean isDefault, Block[] blocks, long[] generations) {
    this.pool = pool;
    this.isDefault = isDefault;
    this.blocks = blocks;
    this.generations = generations;
  }

  /**
   * Allocates a buffer of {@code bytes} bytes holding one dimension of {@code bytes /
   * dtype.byteSize()} elements. Fresh device memory is zero-filled; reused memory keeps the bytes
   * its last user wrote.
   *
   * @throws IllegalArgumentException if {@code bytes < 1} or above the bucket policy's maximum
   * @throws BufferAllocationException if the device refuses; the pool is unchanged
   * @throws IllegalStateException if this scope is closed
   * @throws PoolClosedException if the pool is closed
   */
  public Buffer alloc(long bytes, DType dtype) {
    return pool.allocate(this, bytes, dtype, NO_SHAPE);
  }

  /**
   * Allocates a buffer of {@code bytes} bytes with the given shape.
   *
   * @throws IllegalArgumentException if {@code bytes < 1}, or the shape's element count times the
   *     element size exceeds {@code bytes}
   * @see #alloc(long, DType)
   */
  public Buffer alloc(long bytes, DType dtype, long... shape) {
    return pool.allocate(this, bytes, dtype, shape);
  }

  /**
   * Allocates every request, or none: if one fails, the buffers already taken go back and the
   * pool is as it was. Device buffers added to the residency set are committed once.
   *
   * @return the buffers, in the order of the requests
   */
  public List<Buffer> allocBatch(List<AllocRequest> requests) {
    return pool.allocateBatch(this, requests);
  }

  /** Whether this scope still accepts allocations. */
  public boolean isOpen() {
    return !closed;
  }

  /** The pool this scope allocates from. */
  public BufferPool pool() {
    return pool;
  }

  /**
   * Returns every buffer this scope issued (and that was not released already) to the free lists,
   * and makes their handles stale. Idempotent; a no-op after the pool closed.
   */
  @Override
  public void close() {
    pool.closeScope(this);
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
    long generation = b.generation();
    track(b, generation);
    return new Buffer(b, generation);
  }

  void track(Block b, long generation) {
    if (count == blocks.length) {
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
