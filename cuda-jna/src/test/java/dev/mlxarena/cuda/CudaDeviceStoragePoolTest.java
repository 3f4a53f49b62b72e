package dev.mlxarena.cuda;

import dev.mlxarena.PoolContractTest;
import dev.mlxarena.testing.DeviceHarness;

/** The pool contract on a real NVIDIA GPU with {@link CudaStorage#DEVICE} memory. */
@RequiresCuda
class CudaDeviceStoragePoolTest extends PoolContractTest {
  @Override
  protected DeviceHarness newHarness() {
    return new CudaHarness(CudaStorage.DEVICE);
  }
}
