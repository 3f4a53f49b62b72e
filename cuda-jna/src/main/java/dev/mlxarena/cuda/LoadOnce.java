package dev.mlxarena.cuda;

import dev.mlxarena.DeviceUnavailableException;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * A library loaded once per process: the first outcome, the loaded library or why it could not be
 * had, is what every later call gets, so a missing library costs one search and is reported the
 * same way each time.
 */
final class LoadOnce<T> {
  private final String what;
  private @Nullable T value;
  private @Nullable String failure;

  LoadOnce(String what) {
    this.what = what;
  }

  /**
   * The library, loaded by {@code load} on the first call.
   *
   * @throws DeviceUnavailableException if it could not be loaded (then or on the first call)
   */
  synchronized T get(Supplier<T> load) {
    if (value != null) {
      return value;
    }
    if (failure != null) {
      throw new DeviceUnavailableException(failure);
    }
    try {
      value = load.get();
      return value;
    } catch (DeviceUnavailableException e) {
      failure = e.getMessage();
      throw e;
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      failure = what + " was found but could not be used: " + e.getMessage();
      throw new DeviceUnavailableException(failure, e);
    }
  }
}
