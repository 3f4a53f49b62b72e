package dev.mlxarena;

import dev.mlxarena.spi.DeviceStream;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One arena cycle of a {@link BufferPool}, usually one decoded token: every buffer allocated
 * through it goes back to the pool's free lists together when the scope closes, and every handle
 * it issued becomes stale at that moment. A scope opened on a {@link DeviceStream} hands its
 * buffers back in stream order instead: to later scopes on the same stream at once, to everyone
 * else once a fence recorded on the stream at the close has completed (see {@link
 * BufferPool#openScope(DeviceStream)}).
 *
 * <pre>{@code
 * try (Scope token = pool.openScope()) {
 *   Buffer q = token.alloc(4096 * 4, DType.F32, 4096);
 *   Buffer scores = token.alloc(32 * 512 * 4, DType.F32, 32, 512);
 *   ... // encode kernels over q and scores
 * } // q and scores are back in the pool; using them now throws StaleBufferException
 * }</pre>
 *
 * <p>Closing is idempotent; closing the pool closes every scope still open. Many scopes may be open
 * on one pool at once (one per decode stream, say), each used by one thread at a time; a scope may
 * be closed on another thread than the one that allocated through it, provided the two are
 * ordered. A scope that becomes unreachable without being closed is a leak: with {@link
 * LeakDetection} on, it is reported with the stack where it was opened and its buffers go back.
 */
public final class Scope implements AutoCloseable {
  private final BufferPool pool;
  private final ScopeState state;

  Scope(BufferPool pool, ScopeState state) {
    this.pool = pool;
    this.state = state;
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
    return pool.allocIn(state, bytes, dtype, ScopeState.NO_SHAPE);
  }

  /**
   * Allocates a buffer of {@code bytes} bytes with the given shape.
   *
   * @throws IllegalArgumentException if {@code bytes < 1}, or the shape's element count times the
   *     element size exceeds {@code bytes}
   * @see #alloc(long, DType)
   */
  public Buffer alloc(long bytes, DType dtype, long... shape) {
    return pool.allocIn(state, bytes, dtype, shape);
  }

  /**
   * Allocates every request, or none: if one fails, the buffers already taken go back and the
   * pool is as it was. Device buffers added to the residency set are committed once.
   *
   * @return the buffers, in the order of the requests
   */
  public List<Buffer> allocBatch(List<AllocRequest> requests) {
    return pool.allocBatchIn(state, requests);
  }

  /** Whether this scope still accepts allocations. */
  public boolean isOpen() {
    return state.isOpen();
  }

  /**
   * The stream this scope was opened on, or {@code null} for a stream-less scope. Its buffers may
   * still be in use by earlier work on that stream when they are handed out: use them from work
   * ordered after it (on the stream, or after waiting for it).
   */
  public @Nullable DeviceStream stream() {
    return state.stream;
  }

  /** The pool this scope allocates from. */
  public BufferPool pool() {
    return pool;
  }

  /**
   * Returns every buffer this scope issued (and that was not released already) to the pool, and
   * makes their handles stale. Idempotent; a no-op after the pool closed.
   *
   * <p>On a scope opened on a stream ({@link BufferPool#openScope(DeviceStream)}), the close
   * records a fence on the stream and hands the buffers back in stream order: later scopes on the
   * same stream reuse them at once, everyone else once the fence has completed. The host does not
   * wait.
   *
   * @throws IllegalStateException if the stream could not record its fence: the buffers are then
   *     held out of reuse until the pool closes, and the scope is closed all the same
   */
  @Override
  public void close() {
    pool.closeScope(state, null);
  }

  /**
   * Closes the scope now, for allocation and for its handles (they become stale at once), but
   * keeps its buffers out of the free lists until {@code fence} completes: the way to end a token
   * whose kernels are still running on the device. Idempotent like {@link #close()}.
   *
   * <p>The pool polls the fence without its lock, here and later; once it has completed, the
   * buffers go back as {@link #close()} would have given them back (on a scope opened on a stream:
   * in stream order, behind a fence recorded on the stream then). The pool closes the fence once it
   * no longer needs it: once, even if other hand-backs name the same fence.
   *
   * @throws IllegalStateException if {@code fence.isComplete()} throws: the scope is closed, its
   *     buffers are held out of reuse until the pool closes, and the fence's exception is the cause
   */
  public void closeAfter(Fence fence) {
    Checks.notNull(fence, "fence");
    pool.closeScope(state, fence);
  }

  @Override
  public String toString() {
    return state.toString();
  }
}
