package dev.mlxarena.metal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.DeviceUnavailableException;
import dev.mlxarena.Devices;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;

/** MetalDevice behaviour beyond the pool contract, on the simulation shim. */
class MetalDeviceTest {

  @Test
  void theSimShimLoadsAndIdentifiesItself() {
    try (MetalDevice d = MetalDevice.openWith(Shims.sim())) {
      assertEquals("mlxshim-sim", d.name());
      assertTrue(d.recommendedWorkingSetSize() > 0);
      assertNotNull(d.metalResidencySet());
      assertTrue(d.nativeHandle() != 0);
    }
  }

  @Test
  void freshSimBuffersHoldGarbageUntilThePoolZeroesThem() {
    try (MetalDevice d = MetalDevice.openWith(Shims.sim())) {
      DeviceBuffer raw = d.allocate(64);
      Buffer adopted = d.adopt(raw, DType.U8);
      assertEquals(0xA5, adopted.getU8(0), "the sim must hand out garbage, as Metal can");
      adopted.close();
    }
  }

  @Test
  @DisabledOnOs(value = OS.MAC, disabledReason = "checks the message given off macOS")
  void openingRealMetalOffMacOsSaysWhy() {
    DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, MetalDevice::open);
    assertTrue(e.getMessage().contains("macOS on Apple Silicon"), e.getMessage());
    assertTrue(e.getMessage().contains(System.mapLibraryName("mlxshim")), e.getMessage());
  }

  @Test
  void aMissingShimLibraryIsNamed() {
    DeviceUnavailableException e =
        assertThrows(DeviceUnavailableException.class, () -> Shims.load("mlxshim_missing", ShimLibrary.class));
    assertTrue(e.getMessage().contains(System.mapLibraryName("mlxshim_missing")), e.getMessage());
  }

  @Test
  void devicesFindsTheSimByNameButNeverAsDefault() {
    try (Device sim = Devices.open("sim")) {
      assertTrue(sim instanceof MetalDevice);
    }
    assertTrue(Devices.backendNames().contains("metal"));
    if (!com.sun.jna.Platform.isMac()) {
      try (Device d = Devices.systemDefault()) {
        assertTrue(d instanceof HostDevice, "off macOS the default is the host device");
      }
    }
  }

  @Test
  void residencyCanBeSwitchedOffByProperty() {
    System.setProperty("mlxarena.noResidency", "true");
    try (MetalDevice d = MetalDevice.openWith(Shims.sim())) {
      assertNull(d.residencySet());
      assertFalse(d.flushResidency());
    } finally {
      System.clearProperty("mlxarena.noResidency");
    }
  }

  @Test
  void osWithoutResidencySetsBootsWithout() {
    SimHarness h = new SimHarness(StorageMode.SHARED, false);
    try (MetalDevice d = h.metal(); BufferPool pool = BufferPool.create(d)) {
      assertNull(d.residencySet());
      pool.alloc(100, DType.U8);
      assertEquals(0, pool.stats().residencyAdds());
    }
  }

  @Test
  void theResidencySetRejectsDoubleAddsAndMissingRemovesWithTheShimsMessage() {
    try (MetalDevice d = MetalDevice.openWith(Shims.sim())) {
      MetalResidencySet set = d.metalResidencySet();
      DeviceBuffer b = d.allocate(32);
      set.add(b);
      IllegalStateException twice = assertThrows(IllegalStateException.class, () -> set.add(b));
      assertTrue(twice.getMessage().contains("already holds"), twice.getMessage());
      assertTrue(d.flushResidency());
      assertFalse(d.flushResidency(), "nothing pending");
      assertEquals(32, set.allocatedSize());
      set.remove(b);
      assertThrows(IllegalStateException.class, () -> set.remove(b));
      set.commit();
      d.free(b);
      assertThrows(IllegalStateException.class, () -> d.free(b));
    }
  }

  @Test
  void privateStorageHasNoHostViewButCopiesWork() {
    SimHarness h = new SimHarness(StorageMode.PRIVATE, true);
    try (MetalDevice d = h.metal(); BufferPool pool = BufferPool.create(d)) {
      Buffer b = pool.alloc(16, DType.F32);
      assertFalse(b.isHostVisible());
      UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, b::asByteBuffer);
      assertTrue(e.getMessage().contains("no host mapping"), e.getMessage());
      assertThrows(UnsupportedOperationException.class, () -> b.getF32(0));
      float[] zeros = new float[4];
      b.copyTo(zeros);
      assertArrayEquals(new float[4], zeros, "fresh private memory is zeroed on the device");
      b.copyFrom(new float[] {1, 2, 3, 4});
      float[] back = new float[4];
      b.copyTo(back);
      assertArrayEquals(new float[] {1, 2, 3, 4}, back);
      pool.close();
      assertEquals(0, h.liveAllocations());
    }
  }

  @Test
  void injectedFailuresBecomeBufferAllocationExceptionsWithTheSize() {
    SimHarness h = SimHarness.shared();
    try (MetalDevice d = h.metal()) {
      h.failAbove(1000);
      var e = assertThrows(dev.mlxarena.BufferAllocationException.class, () -> d.allocate(4096));
      assertEquals(4096, e.getRequestedBytes());
      assertTrue(e.getMessage().contains("4096"), e.getMessage());
    }
  }

  @Test
  void buffersOfOtherDevicesAreRejected() {
    try (MetalDevice d = MetalDevice.openWith(Shims.sim()); HostDevice host = HostDevice.create()) {
      DeviceBuffer foreign = host.allocate(8);
      assertThrows(IllegalArgumentException.class, () -> d.free(foreign));
      host.free(foreign);
    }
  }
}
