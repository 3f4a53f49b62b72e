package dev.mlxarena;

import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One allocation of a {@link BufferPool#allocBatch batch}: a byte length, an element type and a
 * shape. An empty shape means one dimension of {@code bytes / dtype.byteSize()} elements.
 *
 * @param bytes the byte length the buffer must hold, at least 1
 * @param dtype the element type
 * @param shape the dimensions; their product times the element size may not exceed {@code bytes}
 */
public record AllocRequest(long bytes, DType dtype, long... shape) {

  /** Validates the request's shape of data; sizes are checked by the pool against its policy. */
  public AllocRequest {
    Objects.requireNonNull(dtype, "dtype");
    Objects.requireNonNull(shape, "shape");
    shape = shape.clone();
  }

  /** The dimensions, as a fresh copy. */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof AllocRequest r
        && r.bytes == bytes
        && r.dtype == dtype
        && Arrays.equals(r.shape, shape);
  }

  @Override
  public int hashCode() {
    return Objects.hash(bytes, dtype, Arrays.hashCode(shape));
  }

  @Override
  public String toString() {
    return "AllocRequest[" + bytes + " B, " + dtype + ", shape " + Arrays.toString(shape) + "]";
  }

  long[] shapeUnsafe() {
    return shape;
  }
}
