package dev.mlxarena;

import com.sun.jna.Pointer;
import dev.mlxarena.spi.HostMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Host reads and writes of a block's memory for {@link Buffer}'s typed and bulk accessors, at
 * absolute byte offsets the caller has checked: through the block's cached {@link ByteBuffer} view
 * where the offset fits in it (the first {@link HostMemory#MAX_VIEW} bytes), through a JNA pointer
 * beyond, and through a staging buffer and the device's explicit transfers where the memory is not
 * host-visible. Values use the platform's native byte order, as the device does.
 *
 * <p>Every access pins the block for its duration ({@link Block#pin()}), so that the memory cannot
 * go back to the device while it runs, and throws {@link StaleBufferException} if it already has;
 * the views handed to users hold their pin while reachable ({@link #userView}).
 */
final class HostAccess {
  private HostAccess() {}

  private static boolean inView(Block b, long offset, int size) {
    return offset + size <= b.hostView().capacity();
  }

  private static Pointer far(Block b, long offset) {
    return new Pointer(b.raw.hostAddress() + offset);
  }

  static byte getByte(Block b, long o) {
    b.pin();
    try {
      return inView(b, o, 1) ? b.hostView().get((int) o) : far(b, o).getByte(0);
    } finally {
      b.unpin();
    }
  }

  static void putByte(Block b, long o, byte v) {
    b.pin();
    try {
      if (inView(b, o, 1)) {
        b.hostView().put((int) o, v);
      } else {
        far(b, o).setByte(0, v);
      }
    } finally {
      b.unpin();
    }
  }

  static short getShort(Block b, long o) {
    b.pin();
    try {
      return inView(b, o, 2) ? b.hostView().getShort((int) o) : far(b, o).getShort(0);
    } finally {
      b.unpin();
    }
  }

  static void putShort(Block b, long o, short v) {
    b.pin();
    try {
      if (inView(b, o, 2)) {
        b.hostView().putShort((int) o, v);
      } else {
        far(b, o).setShort(0, v);
      }
    } finally {
      b.unpin();
    }
  }

  static int getInt(Block b, long o) {
    b.pin();
    try {
      return inView(b, o, 4) ? b.hostView().getInt((int) o) : far(b, o).getInt(0);
    } finally {
      b.unpin();
    }
  }

  static void putInt(Block b, long o, int v) {
    b.pin();
    try {
      if (inView(b, o, 4)) {
        b.hostView().putInt((int) o, v);
      } else {
        far(b, o).setInt(0, v);
      }
    } finally {
      b.unpin();
    }
  }

  static long getLong(Block b, long o) {
    b.pin();
    try {
      return inView(b, o, 8) ? b.hostView().getLong((int) o) : far(b, o).getLong(0);
    } finally {
      b.unpin();
    }
  }

  static void putLong(Block b, long o, long v) {
    b.pin();
    try {
      if (inView(b, o, 8)) {
        b.hostView().putLong((int) o, v);
      } else {
        far(b, o).setLong(0, v);
      }
    } finally {
      b.unpin();
    }
  }

  /**
   * A native-order view of {@code length} bytes at {@code offset}, handed to the user: it holds a
   * pin on the block for as long as it, or any buffer made from it, is reachable (see {@code
   * Block}), so it never reads or writes memory that went back to the device.
   */
  static ByteBuffer userView(Block b, long offset, long length) {
    b.pin();
    ByteBuffer v;
    try {
      v = HostMemory.view(b.raw, offset, length);
      b.pinWhileReachable(v);
    } catch (RuntimeException | Error e) {
      b.unpin();
      throw e;
    }
    return v;
  }

  /**
   * The byte length of a bulk copy of {@code elements} values into or out of a buffer of {@code
   * count} elements whose dtype must be one of {@code accepted}.
   */
  static long bulkBytes(Block b, long count, int elements, DType... accepted) {
    boolean ok = false;
    for (DType d : accepted) {
      ok |= b.dtype == d;
    }
    if (!ok) {
      throw new IllegalArgumentException(
          "a copy of " + accepted[0].byteSize() + "-byte values does not fit a buffer of "
              + b.dtype);
    }
    if (elements > count) {
      throw new IndexOutOfBoundsException(
          "copy of " + elements + " elements into a buffer of " + count + " elements");
    }
    return (long) elements * b.dtype.byteSize();
  }

  /**
   * Checks that {@code [offset, offset + length)} lies within {@code limit} bytes of a handle on
   * {@code b}; the message, which describes the block, is built only when the range is refused.
   */
  static void checkRange(Block b, long offset, long length, long limit) {
    if (!HostMemory.inRange(offset, length, limit)) {
      throw HostMemory.outOfRange(offset, length, limit, "buffer (" + b.describe() + ")");
    }
  }

  /**
   * The byte offset, within a handle on {@code b} of {@code count} elements, of element {@code
   * index} read or written as {@code expected}.
   */
  static long element(Block b, long count, long index, DType expected) {
    if (b.dtype != expected) {
      throw new IllegalArgumentException(
          "element access as " + expected + " on a buffer of " + b.dtype);
    }
    if (index < 0 || index >= count) {
      throw new IndexOutOfBoundsException(
          "index " + index + " is outside the " + count + " elements of the buffer");
    }
    return index * expected.byteSize();
  }

  /** {@code value}, checked to fit the unsigned {@code dtype}. */
  static long unsigned(long value, DType dtype) {
    long max = (1L << (8 * dtype.byteSize())) - 1;
    if (value < 0 || value > max) {
      throw new IllegalArgumentException(value + " does not fit " + dtype + " (0 to " + max + ")");
    }
    return value;
  }

  /**
   * The byte length of a slice of {@code elements} elements at {@code byteOffset} of a handle on
   * {@code b} of {@code byteLength} bytes, checked: aligned to the element size and in range.
   */
  static long sliceLength(Block b, long byteOffset, long elements, long byteLength) {
    int size = b.dtype.byteSize();
    if (byteOffset % size != 0) {
      throw new IllegalArgumentException(
          "slice offset " + byteOffset + " is not a multiple of the " + size + "-byte " + b.dtype
              + " element size");
    }
    if (elements < 0 || elements > Long.MAX_VALUE / size) {
      throw new IllegalArgumentException("slice of " + elements + " elements");
    }
    long length = elements * size;
    checkRange(b, byteOffset, length, byteLength);
    return length;
  }

  /** Checks a copy of {@code length} bytes at {@code offset} of a handle of {@code byteLength} bytes. */
  static long copyBytes(Block b, long offset, long length, long byteLength) {
    checkRange(b, offset, length, byteLength);
    if (length > HostMemory.MAX_VIEW) {
      throw new IllegalArgumentException(
          "one copy moves at most " + HostMemory.MAX_VIEW + " bytes, asked for " + length
              + ": copy in windows through copyFrom/copyTo(ByteBuffer, offset)");
    }
    return length;
  }

  /** What a bulk write does with the bytes: fills the buffer it is given, from position 0. */
  interface Fill {
    void into(ByteBuffer dst);
  }

  /**
   * Writes {@code length} bytes at {@code offset}, pinned: host-visible memory in place through a
   * view, device-private memory through a staging buffer and the device's transfer.
   */
  static void write(Block b, long offset, long length, Fill fill) {
    b.pin();
    try {
      if (b.raw.isHostVisible()) {
        fill.into(HostMemory.view(b.raw, offset, length));
      } else {
        ByteBuffer staging = ByteBuffer.allocateDirect((int) length).order(ByteOrder.nativeOrder());
        fill.into(staging);
        staging.clear();
        b.device.write(b.raw, offset, staging);
      }
    } finally {
      b.unpin();
    }
  }

  /** What a bulk read does with the bytes: takes them from the buffer it is given, from position 0. */
  interface Drain {
    void from(ByteBuffer src);
  }

  /** Reads {@code length} bytes at {@code offset}, pinned, into {@code drain}. */
  static void read(Block b, long offset, long length, Drain drain) {
    b.pin();
    try {
      if (b.raw.isHostVisible()) {
        drain.from(HostMemory.view(b.raw, offset, length));
      } else {
        ByteBuffer staging = ByteBuffer.allocateDirect((int) length).order(ByteOrder.nativeOrder());
        b.device.read(b.raw, offset, staging);
        staging.flip();
        drain.from(staging);
      }
    } finally {
      b.unpin();
    }
  }

  /** {@code src.remaining()} bytes into the memory at {@code offset}, by the device, pinned. */
  static void deviceWrite(Block b, long offset, ByteBuffer src) {
    b.pin();
    try {
      b.device.write(b.raw, offset, src);
    } finally {
      b.unpin();
    }
  }

  /** {@code dst.remaining()} bytes of the memory at {@code offset} into {@code dst}, by the device, pinned. */
  static void deviceRead(Block b, long offset, ByteBuffer dst) {
    b.pin();
    try {
      b.device.read(b.raw, offset, dst);
    } finally {
      b.unpin();
    }
  }
}
