package dev.mlxarena.metal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.DeviceBuffer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/**
 * The Metal library on a real device (macOS only): the device it finds, whether it uses a
 * residency set where the environment says it must ({@code MLXARENA_EXPECT_RESIDENCY=1}, set by the
 * macOS workflow from its probe) or must not ({@code MLXARENA_NO_RESIDENCY=1}), and the rules of
 * {@code mlxshim.h} that the Metal library enforces itself.
 */
@EnabledOnOs(value = OS.MAC, disabledReason = "real Metal needs macOS on Apple Silicon")
class RealMetalDeviceTest {

  @Test
  void theDeviceHasANameAWorkingSetAndAHandle() {
    try (MetalDevice d = MetalDevice.open()) {
      assertTrue(!d.name().isEmpty());
      assertTrue(d.recommendedWorkingSetSize() > 0);
      assertTrue(d.nativeHandle() != 0);
    }
  }

  @Test
  void residencyIsUsedExactlyWhereTheEnvironmentSays() {
    try (MetalDevice d = MetalDevice.open()) {
      if (!MetalDevice.residencyEnabled()) {
        assertNull(d.residencySet(), "MLXARENA_NO_RESIDENCY is set");
      } else if ("1".equals(System.getenv("MLXARENA_EXPECT_RESIDENCY"))) {
        assertNotNull(d.residencySet(), "the probe created a residency set on this machine");
      }
    }
  }

  @Test
  void allocatedSizeChangesOnCommitAndMembersAreFreedOnlyAfterTheirRemovalIsCommitted() {
    try (MetalDevice d = MetalDevice.open()) {
      MetalResidencySet set = d.metalResidencySet();
      Assumptions.assumeTrue(set != null, "no residency set on this machine or in this job");
      long before = set.allocatedSize();
      DeviceBuffer b = d.allocate(1 << 20);
      set.add(b);
      assertEquals(before, set.allocatedSize(), "allocatedSize changes on commit only");
      set.commit();
      assertTrue(set.allocatedSize() > before, "a committed 1 MiB member counts");
      set.remove(b);
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> d.free(b));
      assertTrue(e.getMessage().contains("still a member"), e.getMessage());
      set.commit();
      assertTrue(set.nativeHandle() != 0);
    }
  }

  @Test
  void aBufferRemovedAndCommittedIsFreed() {
    try (MetalDevice d = MetalDevice.open()) {
      MetalResidencySet set = d.metalResidencySet();
      Assumptions.assumeTrue(set != null, "no residency set on this machine or in this job");
      DeviceBuffer b = d.allocate(4096);
      set.add(b);
      set.commit();
      set.remove(b);
      set.commit();
      d.free(b);
      assertEquals(0, set.size());
    }
  }
}
