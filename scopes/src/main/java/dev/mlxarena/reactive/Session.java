package dev.mlxarena.reactive;

import dev.mlxarena.BufferPool;
import dev.mlxarena.Scope;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What lives as long as one run of a {@link DecodeLoop}: a session {@link Scope} (for pooled
 * buffers that outlive single tokens, a KV cache for example) and any resources handed to {@link
 * #own}, such as owned buffers. Everything is closed exactly once when the loop ends, however it
 * ends: owned resources in reverse order, then the scope.
 */
public final class Session {
  private final Scope scope;
  private final Deque<AutoCloseable> owned = new ArrayDeque<>();
  private boolean closed;

  Session(BufferPool pool) {
    this.scope = pool.openScope();
  }

  /** The session scope: its buffers stay valid until the loop ends. */
  public Scope scope() {
    return scope;
  }

  /** Registers {@code resource} to be closed when the loop ends, and returns it. */
  public synchronized <R extends AutoCloseable> R own(R resource) {
    Objects.requireNonNull(resource, "resource");
    if (closed) {
      throw new IllegalStateException("the session has ended");
    }
    owned.push(resource);
    return resource;
  }

  /**
   * Closes everything; failures are added to {@code primary} as suppressed exceptions, or
   * returned as a new primary failure when there was none.
   */
  synchronized @Nullable Throwable close(@Nullable Throwable primary) {
    if (closed) {
      return primary;
    }
    closed = true;
    Throwable failure = primary;
    while (!owned.isEmpty()) {
      failure = closeQuietly(owned.pop(), failure);
    }
    return closeQuietly(scope, failure);
  }

  private static @Nullable Throwable closeQuietly(AutoCloseable c, @Nullable Throwable failure) {
    try {
      c.close();
      return failure;
    } catch (Throwable e) {
      if (failure == null) {
        return e;
      }
      failure.addSuppressed(e);
      return failure;
    }
  }
}
