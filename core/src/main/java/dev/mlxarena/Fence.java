package dev.mlxarena;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * Marks the point after which the device no longer reads or writes some buffers: a completed
 * command buffer on Metal, a recorded event on CUDA, or any future. Buffers handed back with a
 * fence ({@link Scope#closeAfter}, {@link BufferPool#release(Buffer, Fence)}) stay out of the free
 * lists until it completes, so no later allocation can alias memory a kernel is still using.
 *
 * <p>The pool polls {@link #isComplete()} (when it allocates under its lock, opens and closes
 * scopes, and trims) and calls {@link #close()} once it no longer needs the fence. Implementations
 * must be thread-safe.
 */
public interface Fence {

  /** Whether the device work this fence stands for has finished. Must not block. */
  boolean isComplete();

  /** Releases what the fence holds (an event, say); called once, after it completed. */
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
