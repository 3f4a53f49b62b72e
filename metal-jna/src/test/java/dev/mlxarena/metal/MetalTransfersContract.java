package dev.mlxarena.metal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.mlxarena.spi.DeviceBuffer;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Zero fills and host copies at every offset and length, on private storage (where Metal on macOS
 * accepts only 4-byte aligned blits, so the device cuts the ends off) and on shared storage,
 * against a byte array that models the buffer. One subclass per shim.
 */
abstract class MetalTransfersContract {

  /** A device of the shim under test with the given storage. */
  abstract MetalDevice open(StorageMode storage);

  @Test
  void privateStorageRoundTripsEveryRange() {
    roundTripsEveryRange(StorageMode.PRIVATE);
  }

  @Test
  void sharedStorageRoundTripsEveryRange() {
    roundTripsEveryRange(StorageMode.SHARED);
  }

  private void roundTripsEveryRange(StorageMode storage) {
    Random random = new Random(42);
    try (MetalDevice d = open(storage)) {
      for (int size = 1; size <= 17; size++) {
        DeviceBuffer b = d.allocate(size);
        byte[] model = new byte[size];
        d.fillZero(b, 0, size);
        assertContent(d, b, model, "after the first zero fill of " + size + " bytes");
        for (int offset = 0; offset < size; offset++) {
          for (int length = 0; offset + length <= size; length++) {
            byte[] data = new byte[length];
            random.nextBytes(data);
            boolean heap = random.nextBoolean(); // heap buffers go through a direct copy
            ByteBuffer src = heap ? ByteBuffer.wrap(data) : ByteBuffer.allocateDirect(length).put(data).flip();
            d.write(b, offset, src);
            System.arraycopy(data, 0, model, offset, length);
            String where = "after writing [" + offset + ", +" + length + ") of " + size + " bytes";
            assertContent(d, b, model, where);
            assertRange(d, b, model, offset, length, where);
            if (random.nextInt(4) == 0) {
              d.fillZero(b, offset, length);
              java.util.Arrays.fill(model, offset, offset + length, (byte) 0);
              assertContent(d, b, model, "after zeroing [" + offset + ", +" + length + ") of " + size);
            }
          }
        }
        d.free(b);
      }
    }
  }

  private static void assertContent(MetalDevice d, DeviceBuffer b, byte[] model, String where) {
    assertRange(d, b, model, 0, model.length, where);
  }

  private static void assertRange(MetalDevice d, DeviceBuffer b, byte[] model, int offset, int length, String where) {
    ByteBuffer direct = ByteBuffer.allocateDirect(length);
    d.read(b, offset, direct);
    byte[] got = new byte[length];
    direct.flip().get(got);
    byte[] heap = new byte[length];
    d.read(b, offset, ByteBuffer.wrap(heap));
    byte[] want = java.util.Arrays.copyOfRange(model, offset, offset + length);
    assertArrayEquals(want, got, "read [" + offset + ", +" + length + ") " + where);
    assertArrayEquals(want, heap, "heap read [" + offset + ", +" + length + ") " + where);
  }
}
