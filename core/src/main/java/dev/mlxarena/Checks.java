package dev.mlxarena;

import dev.mlxarena.spi.Device;
import java.util.Arrays;
import java.util.Objects;

/** Argument validation with messages that carry the values. */
final class Checks {
  private Checks() {}

  static <T> T notNull(T value, String name) {
    return Objects.requireNonNull(value, () -> name + " must not be null");
  }

  /** Checks that {@code what}, of device {@code actual}, belongs to the pool's {@code device}. */
  static void sameDevice(Device actual, Device device, String what) {
    if (actual != device) {
      throw new IllegalArgumentException(
          what + " belongs to device " + actual.name() + ", this pool's device is " + device.name());
    }
  }

  /**
   * Validates an allocation and returns its element count: the product of {@code shape}, or
   * {@code bytes / dtype.byteSize()} for an empty shape.
   */
  static long elements(long bytes, DType dtype, long[] shape) {
    notNull(dtype, "dtype");
    notNull(shape, "shape");
    if (bytes <= 0) {
      throw new IllegalArgumentException(
          "requested " + bytes + " bytes of " + dtype + " for shape " + Arrays.toString(shape)
              + ": the byte length must be at least 1");
    }
    if (shape.length == 0) {
      return bytes >>> dtype.sizeShift();
    }
    long count = 1;
    boolean overflow = false;
    for (long dim : shape) {
      if (dim < 0) {
        throw new IllegalArgumentException(
            "shape " + Arrays.toString(shape) + " has a negative dimension " + dim);
      }
      long product = count * dim;
      if (dim != 0 && (product / dim != count || product > Long.MAX_VALUE / dtype.byteSize())) {
        overflow = true;
      }
      count = product;
    }
    if (overflow || count * dtype.byteSize() > bytes) {
      String needs = overflow ? "more than " + Long.MAX_VALUE : Long.toString(count * dtype.byteSize());
      throw new IllegalArgumentException(
          "requested " + bytes + " bytes of " + dtype + " for shape " + Arrays.toString(shape)
              + ": needs " + needs + " bytes");
    }
    return count;
  }
}
