package dev.mlxarena;

/**
 * Thrown when a {@link Buffer} handle is used after the memory behind it was handed back: its
 * scope closed, it was released or closed, its pool was reset, cleared or closed, or its owning
 * device buffer was freed. The memory may already belong to another handle, so the access is
 * refused rather than silently aliasing it.
 */
public class StaleBufferException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a message describing the stale handle. */
  public StaleBufferException(String message) {
    super(message);
  }
}
