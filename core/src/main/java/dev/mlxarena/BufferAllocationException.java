package dev.mlxarena;

import org.jspecify.annotations.Nullable;

/**
 * Thrown when a device cannot provide the memory for an allocation. The pool is left exactly as
 * it was before the call that failed.
 */
public class BufferAllocationException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final long requestedBytes;

  /** Creates the exception for a request of {@code requestedBytes} bytes. */
  public BufferAllocationException(String message, long requestedBytes) {
    this(message, requestedBytes, null);
  }

  /** Creates the exception for a request of {@code requestedBytes} bytes, with its cause. */
  public BufferAllocationException(String message, long requestedBytes, @Nullable Throwable cause) {
    super(message, cause);
    this.requestedBytes = requestedBytes;
  }

  /** The number of bytes the failed allocation asked the device for. */
  public long getRequestedBytes() {
    return requestedBytes;
  }
}
