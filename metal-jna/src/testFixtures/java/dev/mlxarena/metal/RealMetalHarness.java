package dev.mlxarena.metal;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.testing.DeviceHarness;
import dev.mlxarena.testing.ResidencyProbe;
import org.jspecify.annotations.Nullable;

/**
 * Real Metal as a test harness (macOS only), in shared or private storage. Metal cannot count live
 * allocations or inject failures, so it reports none and refuses injection; residency membership
 * comes from the Java mirror of the set. Residency follows the environment ({@code
 * MLXARENA_NO_RESIDENCY}), as {@link MetalDevice#open()} does.
 */
public final class RealMetalHarness implements DeviceHarness {
  private final MetalDevice device;

  /** The system's Metal device with shared storage. */
  public RealMetalHarness() {
    this(StorageMode.SHARED);
  }

  public RealMetalHarness(StorageMode storage) {
    device = MetalDevice.openWith(Shims.metal(), storage, MetalDevice.residencyEnabled());
  }

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
}
