package dev.mlxarena.spi;

import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Host access to host-visible device memory, through JNA: what {@link Device}'s default {@code
 * write}, {@code read} and {@code fillPattern} use, and what a backend whose buffers the host can
 * map may use too.
 *
 * <p>{@link ByteBuffer} indexes are {@code int}s, so a view covers at most {@link #MAX_VIEW}
 * bytes; bulk copies of larger ranges go window by window.
 */
public final class HostMemory {
  /** The largest window one {@link ByteBuffer} view covers. */
  public static final int MAX_VIEW = Integer.MAX_VALUE - 15;

  private HostMemory() {}

  /**
   * Checks that {@code [offset, offset + length)} lies inside {@code [0, limit)}.
   *
   * @param what names the memory in the message, for example "device buffer"
   * @throws IndexOutOfBoundsException with the range and the limit, if it does not
   */
  public static void checkRange(long offset, long length, long limit, String what) {
    if (!inRange(offset, length, limit)) {
      throw outOfRange(offset, length, limit, what);
    }
  }

  /**
   * Whether {@code [offset, offset + length)} lies within {@code [0, limit)}. For hot paths whose
   * description of {@code what} costs a string build: check with this, and build the message
   * ({@link #outOfRange}) only on failure.
   */
  public static boolean inRange(long offset, long length, long limit) {
    return offset >= 0 && length >= 0 && offset <= limit && length <= limit - offset;
  }

  /** The exception {@link #checkRange} throws, for callers that checked with {@link #inRange}. */
  public static IndexOutOfBoundsException outOfRange(long offset, long length, long limit, String what) {
    return new IndexOutOfBoundsException(
        "range [" + offset + ", " + offset + " + " + length + ") is outside the " + limit
            + " bytes of the " + what);
  }

  /**
   * A native-order view of {@code length} bytes at {@code offset} of a host-visible buffer.
   *
   * @throws UnsupportedOperationException if the buffer has no host mapping
   * @throws IllegalArgumentException if {@code length} exceeds {@link #MAX_VIEW}
   */
  public static ByteBuffer view(DeviceBuffer buffer, long offset, long length) {
    long address = requireHostAddress(buffer);
    checkRange(offset, length, buffer.capacity(), "device buffer");
    if (length > MAX_VIEW) {
      throw new IllegalArgumentException(
          "a ByteBuffer view covers at most " + MAX_VIEW + " bytes, asked for " + length
              + ": take windows with asByteBuffer(offset, length)");
    }
    return new Pointer(address + offset).getByteBuffer(0, length).order(ByteOrder.nativeOrder());
  }

  /** Copies {@code src.remaining()} bytes into a host-visible buffer at {@code dstOffset}. */
  public static void write(DeviceBuffer dst, long dstOffset, ByteBuffer src) {
    requireHostAddress(dst);
    checkRange(dstOffset, src.remaining(), dst.capacity(), "destination buffer");
    view(dst, dstOffset, src.remaining()).put(src);
  }

  /** Copies {@code dst.remaining()} bytes of a host-visible buffer from {@code srcOffset}. */
  public static void read(DeviceBuffer src, long srcOffset, ByteBuffer dst) {
    requireHostAddress(src);
    checkRange(srcOffset, dst.remaining(), src.capacity(), "source buffer");
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

  /**
   * Fills a range with a repeated 32-bit pattern through {@link Device#write}, a window at a time.
   * The pattern's first byte lands at {@code offset}; a tail shorter than 4 bytes takes the
   * pattern's first bytes.
   */
  public static void fillPattern(Device device, DeviceBuffer dst, long offset, long length, int pattern) {
    checkRange(offset, length, dst.capacity(), "device buffer");
    // Windows are whole multiples of 4 bytes except the last, so the pattern keeps its phase; the
    // chunk holds whole patterns and is rounded up, so that a last window of n % 4 != 0 bytes
    // still takes its tail from the pattern.
    int window = (int) Math.min(length, 1 << 16);
    ByteBuffer chunk = ByteBuffer.allocateDirect((window + 3) & ~3).order(ByteOrder.nativeOrder());
    while (chunk.hasRemaining()) {
      chunk.putInt(pattern);
    }
    for (long done = 0; done < length; ) {
      int n = (int) Math.min(length - done, window);
      device.write(dst, offset + done, chunk.clear().limit(n));
      done += n;
    }
  }
}
