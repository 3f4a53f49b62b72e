package dev.mlxarena;

/**
 * Thrown when an allocation would take the pool past its {@link PoolOptions#getMemoryLimit()
 * memory limit} even after freeing every cached buffer it could. The pool is left as it was: a
 * request that cannot fit does not empty the cache first. (Like every allocation that takes the
 * pool's lock, it first moves buffers whose fences have completed back to the free lists.)
 */
public class PoolExhaustedException extends BufferAllocationException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception for a request of {@code requestedBytes} bytes. */
  public PoolExhaustedException(String message, long requestedBytes) {
    super(message, requestedBytes);
  }
}
