package dev.mlxarena.cuda;

import dev.mlxarena.spi.Device;
import dev.mlxarena.testing.DeviceHarness;
import dev.mlxarena.testing.ResidencyProbe;
import org.jspecify.annotations.Nullable;

/** A real GPU as a contract-test harness: live allocations counted by the device. */
public final class CudaHarness implements DeviceHarness {
  private final CudaDevice device;

  public CudaHarness(CudaStorage storage) {
    device = CudaDevice.open(0, storage);
  }

  @Override
  public Device device() {
    return device;
  }

  @Override
  public int liveAllocations() {
    return (int) device.liveAllocations();
  }

  @Override
  public boolean freshMemoryIsGarbage() {
    return false;
  }

  @Override
  public @Nullable ResidencyProbe residency() {
    return null;
  }

  @Override
  public void failNthAllocation(long n) {
    throw new UnsupportedOperationException("a real GPU cannot inject failures");
  }

  @Override
  public void failAbove(long bytes) {
    throw new UnsupportedOperationException("a real GPU cannot inject failures");
  }
}
