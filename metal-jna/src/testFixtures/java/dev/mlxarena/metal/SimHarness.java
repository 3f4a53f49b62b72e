package dev.mlxarena.metal;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.testing.DeviceHarness;
import dev.mlxarena.testing.ResidencyProbe;
import org.jspecify.annotations.Nullable;

/** The simulation shim as a contract-test harness: its own counters and failure injection. */
public final class SimHarness implements DeviceHarness {
  private final SimShimLibrary sim = Shims.sim();
  private final MetalDevice device;

  public SimHarness(StorageMode storage, boolean residencySupported) {
    sim.mlxsim_default_residency_supported(residencySupported ? 1 : 0);
    try {
      device = MetalDevice.openWith(sim, storage, true);
    } finally {
      sim.mlxsim_default_residency_supported(1);
    }
  }

  public static SimHarness shared() {
    return new SimHarness(StorageMode.SHARED, true);
  }

  @Override
  public Device device() {
    return device;
  }

  public MetalDevice metal() {
    return device;
  }

  /**
   * Buffers the caller has not released. A buffer released after a removal that is still staged
   * (never committed) is not counted, though the set holds its memory until the next commit: the
   * shim's safety margin, not the pool's leak. The set's {@link ResidencyProbe#isClean} covers it.
   */
  @Override
  public int liveAllocations() {
    return (int) sim.mlxsim_live_buffers(device.pointer());
  }

  @Override
  public boolean freshMemoryIsGarbage() {
    return true;
  }

  @Override
  public @Nullable ResidencyProbe residency() {
    MetalResidencySet set = device.metalResidencySet();
    if (set == null) {
      return null;
    }
    return new ResidencyProbe() {
      @Override
      public long adds() {
        return sim.mlxsim_residency_adds(set.pointer());
      }

      @Override
      public long removes() {
        return sim.mlxsim_residency_removes(set.pointer());
      }

      @Override
      public long commits() {
        return sim.mlxsim_residency_commits(set.pointer());
      }

      @Override
      public boolean contains(DeviceBuffer buffer) {
        boolean nativeSide = sim.mlxsim_residency_contains(set.pointer(), MetalDevice.metal(buffer).handle) != 0;
        if (nativeSide != set.contains(buffer)) {
          throw new AssertionError("Java and native residency membership disagree on " + buffer);
        }
        return nativeSide;
      }

      @Override
      public int size() {
        byte[] err = new byte[MetalDevice.ERR_CAP];
        int n = sim.mlxshim_residency_count(set.pointer(), err, err.length);
        if (n < 0) {
          throw new AssertionError("the sim refused to count: " + MetalDevice.message(err));
        }
        if (n != set.size()) {
          throw new AssertionError("native set has " + n + " members, Java mirror " + set.size());
        }
        return n;
      }

      @Override
      public boolean isClean() {
        return sim.mlxsim_residency_is_clean(set.pointer()) != 0;
      }
    };
  }

  @Override
  public void failNthAllocation(long n) {
    sim.mlxsim_fail_nth_allocation(device.pointer(), n);
  }

  @Override
  public void failAbove(long bytes) {
    sim.mlxsim_fail_above(device.pointer(), bytes);
  }
}
