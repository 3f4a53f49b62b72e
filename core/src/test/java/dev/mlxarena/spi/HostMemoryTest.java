package dev.mlxarena.spi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.mlxarena.host.HostDevice;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link HostMemory#fillPattern}: the pattern's phase starts at the offset, tails included. */
class HostMemoryTest {
  private static final int PATTERN = 0x04030201;
  private static final byte UNTOUCHED = (byte) 0xEE;

  private final HostDevice device = HostDevice.create();
  private DeviceBuffer raw;

  @AfterEach
  void free() {
    device.free(raw);
  }

  private byte[] filled(int capacity, long offset, long length) {
    raw = device.allocate(capacity);
    ByteBuffer before = ByteBuffer.allocateDirect(capacity);
    while (before.hasRemaining()) {
      before.put(UNTOUCHED);
    }
    device.write(raw, 0, before.flip());
    HostMemory.fillPattern(device, raw, offset, length, PATTERN);
    ByteBuffer after = ByteBuffer.allocateDirect(capacity);
    device.read(raw, 0, after);
    byte[] out = new byte[capacity];
    after.flip().get(out);
    return out;
  }

  /** Byte {@code k} of the pattern as native order lays it out. */
  private static byte patternByte(long k) {
    return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(PATTERN).get((int) (k & 3));
  }

  @Test
  void aShortUnalignedWindowEndsWithThePatternsFirstBytes() {
    byte[] b = filled(8, 1, 5);
    byte[] expected = {UNTOUCHED, patternByte(0), patternByte(1), patternByte(2), patternByte(3),
        patternByte(0), UNTOUCHED, UNTOUCHED};
    assertArrayEquals(expected, b);
  }

  @Test
  void windowsAfterTheFirstKeepThePatternsPhase() {
    int length = (2 << 16) + 3; // two full windows and a 3-byte tail
    byte[] b = filled(length + 4, 2, length);
    assertEquals(UNTOUCHED, b[0]);
    assertEquals(UNTOUCHED, b[1]);
    for (int i = 0; i < length; i++) {
      if (b[2 + i] != patternByte(i)) {
        throw new AssertionError("byte " + i + " of the fill is " + b[2 + i] + ", expected " + patternByte(i));
      }
    }
    assertEquals(UNTOUCHED, b[length + 2]);
  }

  @Test
  void anEmptyRangeWritesNothing() {
    byte[] b = filled(4, 4, 0);
    assertArrayEquals(new byte[] {UNTOUCHED, UNTOUCHED, UNTOUCHED, UNTOUCHED}, b);
  }
}
