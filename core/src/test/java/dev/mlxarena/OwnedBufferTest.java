package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import dev.mlxarena.testing.TestDevice;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/** Owned buffers' own life: a failed allocation gives everything back; adoption takes one owner. */
class OwnedBufferTest {

  @Test
  void aCommitThatFailsAfterTheAddUndoesTheResidencyThenFreesAndKeepsItsException() {
    TestDevice device = TestDevice.withResidency();
    device.counting().failNextCommit();
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Buffer.allocOwned(device, 64, DType.U8));
    assertEquals("injected commit failure", e.getMessage(), "the original failure, not the cleanup's");
    assertEquals(0, e.getSuppressed().length, "the cleanup succeeded");
    assertEquals(0, device.liveAllocations(), "the memory went back");
    assertEquals(0, device.counting().size());
    assertTrue(device.counting().isClean(), "the removal was committed before the free");
  }

  /** A device whose raw buffers are plain objects, not {@code TrackedDeviceBuffer}s. */
  private static final class PlainBuffersDevice implements Device {
    private final Device host = HostDevice.create();
    final AtomicInteger live = new AtomicInteger();

    private record Plain(DeviceBuffer inner) implements DeviceBuffer {
      @Override
      public long capacity() {
        return inner.capacity();
      }

      @Override
      public long nativeHandle() {
        return inner.nativeHandle();
      }

      @Override
      public long hostAddress() {
        return inner.hostAddress();
      }
    }

    @Override
    public String name() {
      return "plain";
    }

    @Override
    public DeviceBuffer allocate(long bytes) {
      live.incrementAndGet();
      return new Plain(host.allocate(bytes));
    }

    @Override
    public void free(DeviceBuffer buffer) {
      host.free(((Plain) buffer).inner());
      live.decrementAndGet();
    }

    @Override
    public void fillZero(DeviceBuffer buffer, long offset, long length) {
      host.fillZero(((Plain) buffer).inner(), offset, length);
    }

    @Override
    public @Nullable ResidencySet residencySet() {
      return null;
    }

    @Override
    public void close() {}
  }

  @Test
  void rawBuffersThatKeepNoClaimOfTheirOwnAreStillAdoptedOnce() {
    PlainBuffersDevice device = new PlainBuffersDevice();
    try (BufferPool pool = BufferPool.create(device)) {
      Buffer pooled = pool.alloc(64, DType.U8);
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> Buffer.adoptOwned(device, pooled.deviceBuffer(), DType.U8));
      assertTrue(e.getMessage().contains("owned by a buffer pool on plain"), e.getMessage());
      DeviceBuffer raw = device.allocate(64);
      Buffer adopted = Buffer.adoptOwned(device, raw, DType.U8);
      assertThrows(IllegalArgumentException.class, () -> Buffer.adoptOwned(device, raw, DType.U8));
      adopted.close();
    }
    assertEquals(0, device.live.get());
  }
}
