package dev.mlxarena.cuda;

import dev.mlxarena.PoolContractTest;
import dev.mlxarena.testing.DeviceHarness;

/** The pool contract on a real NVIDIA GPU with {@link CudaStorage#SHARED} memory. */
@RequiresCuda
class CudaSharedStoragePoolTest extends PoolContractTest {
  @Override
  protected DeviceHarness newHarness() {
    return new CudaHarness(CudaStorage.SHARED);
  }
}
