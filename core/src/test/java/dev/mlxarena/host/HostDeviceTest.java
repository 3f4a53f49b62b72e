package dev.mlxarena.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.HostMemory;
import dev.mlxarena.spi.TrackedDeviceBuffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Raw buffers of the host device: every use after free throws instead of touching the memory.
 * The buffers are 64 MiB, above the largest mmap threshold of glibc's malloc, so their free
 * unmaps the pages: an unchecked access crashes the JVM (SIGSEGV) instead of passing unnoticed.
 */
class HostDeviceTest {
  private static final int BYTES = 64 << 20;

  private final HostDevice device = HostDevice.create();

  private static ByteBuffer ints(int... values) {
    ByteBuffer b = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.nativeOrder());
    for (int v : values) {
      b.putInt(v);
    }
    return b.flip();
  }

  private static void assertUseOfFreed(Executable access) {
    IllegalStateException e = assertThrows(IllegalStateException.class, access);
    assertTrue(e.getMessage().startsWith("use of freed HostBuffer[0x"), e.getMessage());
  }

  @Test
  void writeAndReadALiveBuffer() {
    DeviceBuffer raw = device.allocate(BYTES);
    try {
      device.write(raw, BYTES - 8, ints(7, -7));
      ByteBuffer back = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
      device.read(raw, BYTES - 8, back);
      assertEquals(7, back.getInt(0));
      assertEquals(-7, back.getInt(4));
    } finally {
      device.free(raw);
    }
  }

  @Test
  void everyUseOfAFreedBufferThrows() {
    DeviceBuffer raw = device.allocate(BYTES);
    device.free(raw);
    assertUseOfFreed(() -> device.write(raw, 0, ints(1)));
    assertUseOfFreed(() -> device.read(raw, 0, ByteBuffer.allocate(4)));
    assertUseOfFreed(() -> device.fillPattern(raw, 0, 64, 0xDEAD, null));
    assertUseOfFreed(() -> device.fillZero(raw, 0, 64));
    assertUseOfFreed(() -> HostMemory.view(raw, 0, 64));
    assertUseOfFreed(() -> HostMemory.write(raw, 0, ints(1)));
    assertUseOfFreed(() -> HostMemory.read(raw, 0, ByteBuffer.allocate(4)));
    assertUseOfFreed(() -> device.free(raw));
  }

  @Test
  void onlyTheOwnerFreesAClaimedBufferAndARefusedReleaseLeavesItLive() {
    HostDevice host = HostDevice.create();
    DeviceBuffer raw = host.allocate(64);
    TrackedDeviceBuffer tracked = (TrackedDeviceBuffer) raw;
    Object owner = "the test";
    tracked.claim(owner);
    IllegalStateException refused = assertThrows(IllegalStateException.class, () -> host.free(raw));
    assertTrue(refused.getMessage().contains("owned by the test"), refused.getMessage());
    assertThrows(IllegalArgumentException.class, () -> tracked.claim("someone else"));
    tracked.unclaim(owner);
    IllegalStateException failed = assertThrows(IllegalStateException.class,
        () -> tracked.freeOnce(() -> {
          throw new IllegalStateException("the backend refused");
        }));
    assertEquals("the backend refused", failed.getMessage());
    tracked.requireLive(); // a refused release leaves it live
    host.write(raw, 0, ints(5));
    host.free(raw); // and it can be freed again
    assertThrows(IllegalStateException.class, tracked::requireLive);
  }

  @Test
  void aBufferOfAnotherDeviceIsRefused() {
    DeviceBuffer mine = device.allocate(64);
    try {
      // The same memory under a foreign type: the device must not take it on trust.
      DeviceBuffer foreign =
          new DeviceBuffer() {
            @Override
            public long capacity() {
              return 64;
            }

            @Override
            public long nativeHandle() {
              return mine.hostAddress();
            }

            @Override
            public long hostAddress() {
              return mine.hostAddress();
            }
          };
      assertThrows(IllegalArgumentException.class, () -> device.write(foreign, 0, ints(1)));
      assertThrows(IllegalArgumentException.class, () -> device.read(foreign, 0, ByteBuffer.allocate(4)));
    } finally {
      device.free(mine);
    }
  }
}
