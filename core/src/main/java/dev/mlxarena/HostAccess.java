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
    return inView(b, o, 1) ? b.hostView().get((int) o) : far(b, o).getByte(0);
  }

  static void putByte(Block b, long o, byte v) {
    if (inView(b, o, 1)) {
      b.hostView().put((int) o, v);
    } else {
      far(b, o).setByte(0, v);
    }
  }

  static short getShort(Block b, long o) {
    return inView(b, o, 2) ? b.hostView().getShort((int) o) : far(b, o).getShort(0);
  }

  static void putShort(Block b, long o, short v) {
    if (inView(b, o, 2)) {
      b.hostView().putShort((int) o, v);
    } else {
      far(b, o).setShort(0, v);
    }
  }

  static int getInt(Block b, long o) {
    return inView(b, o, 4) ? b.hostView().getInt((int) o) : far(b, o).getInt(0);
  }

  static void putInt(Block b, long o, int v) {
    if (inView(b, o, 4)) {
      b.hostView().putInt((int) o, v);
    } else {
      far(b, o).setInt(0, v);
    }
  }

  static long getLong(Block b, long o) {
    return inView(b, o, 8) ? b.hostView().getLong((int) o) : far(b, o).getLong(0);
  }

  static void putLong(Block b, long o, long v) {
    if (inView(b, o, 8)) {
      b.hostView().putLong((int) o, v);
    } else {
      far(b, o).setLong(0, v);
    }
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

  /** Checks a copy of {@code length} bytes at {@code offset} of a handle of {@code byteLength} bytes. */
  static long copyBytes(Block b, long offset, long length, long byteLength) {
    if (!HostMemory.inRange(offset, length, byteLength)) {
      throw HostMemory.outOfRange(offset, length, byteLength, "buffer (" + b.describe() + ")");
    }
    if (length > HostMemory.MAX_VIEW) {
      throw new IllegalArgumentException(
          "one copy moves at most " + HostMemory.MAX_VIEW + " bytes, asked for " + length
              + ": copy in windows through copyFrom/copyTo(ByteBuffer, offset)");
    }
    return length;
  }

  // Bulk copies: host-visible memory is written in place through a view; device-private memory is
  // staged in a direct buffer and transferred.

  /** Where a bulk write of {@code length} bytes at {@code offset} goes; pass it to {@link #endWrite}. */
  static ByteBuffer beginWrite(Block b, long offset, long length) {
    if (b.raw.isHostVisible()) {
      return HostMemory.view(b.raw, offset, length);
    }
    return ByteBuffer.allocateDirect((int) length).order(ByteOrder.nativeOrder());
  }

  /** Completes a bulk write begun at {@code offset}: transfers the staging buffer if there is one. */
  static void endWrite(Block b, long offset, ByteBuffer written) {
    if (!b.raw.isHostVisible()) {
      written.clear();
      b.device.write(b.raw, offset, written);
    }
  }

  /** {@code length} bytes at {@code offset}, readable from position 0. */
  static ByteBuffer beginRead(Block b, long offset, long length) {
    if (b.raw.isHostVisible()) {
      return HostMemory.view(b.raw, offset, length);
    }
    ByteBuffer staging = ByteBuffer.allocateDirect((int) length).order(ByteOrder.nativeOrder());
    b.device.read(b.raw, offset, staging);
    staging.flip();
    return staging;
  }
}
