package dev.mlxarena;

/** Thrown by any call on a {@link BufferPool} (or one of its scopes) after the pool was closed. */
public class PoolClosedException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a message naming the closed pool. */
  public PoolClosedException(String message) {
    super(message);
  }
}
