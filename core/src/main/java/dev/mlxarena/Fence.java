package dev.mlxarena;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * Marks the point after which the device no longer reads or writes some buffers: a completed
 * command buffer on Metal, a recorded event on CUDA, or any future. Buffers handed back with a
 * fence ({@link Scope#closeAfter}, {@link BufferPool#release(Buffer, Fence)}) stay out of the free
 * lists until it completes, so no later allocation can alias memory a kernel is still using; the
 * pool also records fences on a {@link dev.mlxarena.spi.DeviceStream} to hand buffers back in
 * stream order.
 *
 * <h2>How the pool calls a fence</h2>
 * Never while it holds its lock: a fence may block in a driver or call back into the pool ({@code
 * pool.stats()}, say). The pool polls {@link #isComplete()} when it hands buffers back with the
 * fence, and when it needs free memory it does not have yet: an allocation that finds nothing
 * free, a batch, {@link BufferPool#trim}. Opening and closing scopes and the steady state poll
 * nothing.
 *
 * <p>The pool calls {@link #close()} once, when it no longer needs the fence: after it completed
 * (or failed), however many hand-backs named it. A fence handed back again after the pool closed
 * it is not called again: it counts as it ended.
 *
 * <p>If {@link #isComplete()} throws (as a CUDA event does after a sticky error), the buffers
 * handed back with the fence are held out of reuse until the pool closes (counted as waiting in
 * {@link PoolStats}), the fence is closed, and the exception is thrown once, as the cause of an
 * {@link IllegalStateException} from the pool call that polled it; that call does nothing else,
 * and the pool goes on working. Implementations must be thread-safe.
 */
public interface Fence {

  /** Whether the device work this fence stands for has finished. Must not block. */
  boolean isComplete();

  /** Releases what the fence holds (an event, say); the pool calls it once (see the class comment). */
  default void close() {}

  /** A fence that is already complete. */
  static Fence completed() {
    return () -> true;
  }

  /** Completes when {@code future} does, normally or exceptionally. */
  static Fence of(CompletableFuture<?> future) {
    Objects.requireNonNull(future, "future");
    return future::isDone;
  }
}
