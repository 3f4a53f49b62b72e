package dev.mlxarena;

import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Host-side views of host-visible device memory, through JNA.
 *
 * <p>{@link ByteBuffer} indexes are {@code int}s, so a view covers at most {@link #MAX_VIEW}
 * bytes; bulk copies of larger ranges go window by window.
 */
final class HostMemory {
  /** The largest window one {@link ByteBuffer} view covers. */
  static final int MAX_VIEW = Integer.MAX_VALUE - 15;

  private HostMemory() {}

  /** A native-order view of {@code length} bytes at {@code offset} of a host-visible buffer. */
  static ByteBuffer view(DeviceBuffer buffer, long offset, long length) {
    long address = requireHostAddress(buffer);
    Checks.range(offset, length, buffer.capacity(), "device buffer");
    if (length > MAX_VIEW) {
      throw new IllegalArgumentException(
          "a ByteBuffer view covers at most " + MAX_VIEW + " bytes, asked for " + length
              + ": take windows with asByteBuffer(offset, length)");
    }
    return new Pointer(address + offset).getByteBuffer(0, length).order(ByteOrder.nativeOrder());
  }

  static void write(DeviceBuffer dst, long dstOffset, ByteBuffer src) {
    requireHostAddress(dst);
    Checks.range(dstOffset, src.remaining(), dst.capacity(), "destination buffer");
    view(dst, dstOffset, src.remaining()).put(src);
  }

  static void read(DeviceBuffer src, long srcOffset, ByteBuffer dst) {
    requireHostAddress(src);
    Checks.range(srcOffset, dst.remaining(), src.capacity(), "source buffer");
    dst.put(view(src, srcOffset, dst.remaining()));
  }

  private static long requireHostAddress(DeviceBuffer buffer) {
    long address = buffer.hostAddress();
    if (address == 0) {
      throw new UnsupportedOperationException(
          "this device buffer has no host mapping (device-private storage): copy through"
              + " Device.read/write, or allocate host-visible (shared) storage");
    }
    return address;
  }

  /** Fills a range with a repeated 32-bit pattern through {@link Device#write}, a window at a time. */
  static void fillPattern(Device device, DeviceBuffer dst, long offset, long length, int pattern) {
    Checks.range(offset, length, dst.capacity(), "device buffer");
    int window = (int) Math.min(length, 1 << 16);
    ByteBuffer chunk = ByteBuffer.allocateDirect(Math.max(window, 4)).order(ByteOrder.nativeOrder());
    while (chunk.remaining() >= 4) {
      chunk.putInt(pattern);
    }
    for (long done = 0; done < length; ) {
      int n = (int) Math.min(length - done, window);
      device.write(dst, offset + done, chunk.clear().limit(n));
      done += n;
    }
  }
}
