package dev.mlxarena;

import org.jspecify.annotations.Nullable;

/**
 * Thrown when a device backend cannot be opened on this machine: the wrong operating system, a
 * missing native library or driver, or no suitable hardware. The message says which, and what to
 * do about it.
 */
public class DeviceUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a message saying why the device is unavailable. */
  public DeviceUnavailableException(String message) {
    super(message);
  }

  /** Creates the exception with a message and the underlying cause. */
  public DeviceUnavailableException(String message, @Nullable Throwable cause) {
    super(message, cause);
  }
}
