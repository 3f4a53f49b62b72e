package dev.mlxarena.metal;

import dev.mlxarena.Device;
import dev.mlxarena.DeviceBuffer;
import dev.mlxarena.PoolContractTest;
import dev.mlxarena.testing.DeviceHarness;
import dev.mlxarena.testing.ResidencyProbe;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/**
 * The pool contract on real Metal. Runs on macOS (the macOS workflow); elsewhere it is skipped
 * with its reason. Real Metal cannot count live allocations or inject failures, so the harness
 * reports none and the failure contract runs on the simulation shim only.
 */
@EnabledOnOs(value = OS.MAC, disabledReason = "real Metal needs macOS on Apple Silicon")
class RealMetalPoolTest extends PoolContractTest {
  @Override
  protected DeviceHarness newHarness() {
    MetalDevice device = MetalDevice.open();
    return new DeviceHarness() {
      @Override
      public Device device() {
        return device;
      }

      @Override
      public int liveAllocations() {
        return 0;
      }

      @Override
      public boolean freshMemoryIsGarbage() {
        return false;
      }

      @Override
      public @Nullable ResidencyProbe residency() {
        MetalResidencySet set = device.metalResidencySet();
        return set == null ? null : new ResidencyProbe() {
          @Override
          public long adds() {
            return -1;
          }

          @Override
          public long removes() {
            return -1;
          }

          @Override
          public long commits() {
            return -1;
          }

          @Override
          public boolean contains(DeviceBuffer buffer) {
            return set.contains(buffer);
          }

          @Override
          public int size() {
            return set.size();
          }

          @Override
          public boolean isClean() {
            return !set.flush();
          }
        };
      }

      @Override
      public void failNthAllocation(long n) {
        throw new UnsupportedOperationException("real Metal cannot inject failures");
      }

      @Override
      public void failAbove(long bytes) {
        throw new UnsupportedOperationException("real Metal cannot inject failures");
      }
    };
  }
}
