package dev.mlxarena.metal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
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
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.function.Executable;

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
      Buffer adopted = Buffer.adoptOwned(d, raw, DType.U8);
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
      assertEquals(0, set.allocatedSize(), "allocatedSize changes on commit only");
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
  void freeingAMemberOfTheResidencySetIsRefusedWithTheShimsReason() {
    try (MetalDevice d = MetalDevice.openWith(Shims.sim())) {
      MetalResidencySet set = d.metalResidencySet();
      DeviceBuffer b = d.allocate(64);
      set.add(b);
      set.commit();
      set.remove(b); // staged: still a committed member until the next commit
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> d.free(b));
      assertTrue(e.getMessage().contains("still a member"), e.getMessage());
      set.commit();
    }
  }

  @Test
  void closingTwiceReleasesTheDeviceOnce() {
    MetalDevice d = MetalDevice.openWith(Shims.sim());
    d.close();
    assertDoesNotThrow(d::close, "the second close must not reach the shim, which refuses it");
  }

  @Test
  void aClosedDeviceRefusesEveryCallThatReachesIt() {
    MetalDevice d = MetalDevice.openWith(Shims.sim(), StorageMode.PRIVATE, true);
    DeviceBuffer b = d.allocate(16);
    MetalResidencySet set = d.metalResidencySet();
    d.close();
    List<Executable> calls = List.of(
        () -> d.allocate(8),
        () -> d.fillZero(b, 0, 16),
        () -> d.write(b, 0, ByteBuffer.allocateDirect(4)),
        () -> d.read(b, 0, ByteBuffer.allocateDirect(4)),
        d::nativeHandle,
        d::recommendedWorkingSetSize);
    for (Executable call : calls) {
      IllegalStateException e = assertThrows(IllegalStateException.class, call);
      assertTrue(e.getMessage().contains("is closed"), e.getMessage());
    }
    List<Executable> setCalls = List.of(
        () -> set.add(b), () -> set.remove(b), set::commit, set::allocatedSize, set::nativeHandle);
    for (Executable call : setCalls) {
      IllegalStateException e = assertThrows(IllegalStateException.class, call);
      assertTrue(e.getMessage().contains("released with its device"), e.getMessage());
    }
    assertFalse(set.flush());
    d.free(b); // releasing a buffer needs no device
  }

  @Test
  void closingTheDeviceCommitsStagedChangesBeforeReleasingTheSet() {
    List<String> calls = new ArrayList<>();
    SimShimLibrary sim = Shims.sim();
    ShimLibrary recording = (ShimLibrary) Proxy.newProxyInstance(
        ShimLibrary.class.getClassLoader(), new Class<?>[] {ShimLibrary.class}, (proxy, m, args) -> {
          calls.add(m.getName());
          try {
            return m.invoke(sim, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
    MetalDevice d = MetalDevice.openWith(recording, StorageMode.SHARED, true);
    DeviceBuffer b = d.allocate(8);
    d.metalResidencySet().add(b);
    calls.clear();
    d.close();
    assertEquals(
        List.of("mlxshim_residency_commit", "mlxshim_residency_release", "mlxshim_device_release"), calls);
    d.free(b); // the released set let go of it
  }

  @Test
  void aResidencySetThatCannotBeCreatedLeavesTheDeviceWorkingWithout() {
    Shims.sim().mlxsim_default_residency_creation_fails(1);
    try (MetalDevice d = MetalDevice.openWith(Shims.sim()); BufferPool pool = BufferPool.create(d)) {
      assertNull(d.residencySet());
      assertEquals(7, pool.alloc(7, DType.U8).byteLength());
    } finally {
      Shims.sim().mlxsim_default_residency_creation_fails(0);
    }
  }

  @Test
  void writesOutsideTheBufferAreRefusedBeforeReachingTheShim() {
    try (MetalDevice d = MetalDevice.openWith(Shims.sim(), StorageMode.PRIVATE, true)) {
      DeviceBuffer b = d.allocate(5); // 8 bytes allocated: the 3 past the end are not the caller's
      IndexOutOfBoundsException e =
          assertThrows(IndexOutOfBoundsException.class, () -> d.write(b, 4, ByteBuffer.allocateDirect(2)));
      assertTrue(e.getMessage().contains("[4, +2)"), e.getMessage());
      assertThrows(IndexOutOfBoundsException.class, () -> d.fillZero(b, 5, 1));
      assertThrows(IndexOutOfBoundsException.class, () -> d.read(b, -1, ByteBuffer.allocateDirect(1)));
      d.free(b);
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
