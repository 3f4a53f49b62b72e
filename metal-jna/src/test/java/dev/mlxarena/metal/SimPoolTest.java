package dev.mlxarena.metal;

import dev.mlxarena.PoolContractTest;
import dev.mlxarena.ResidencyAndFaultContractTest;
import dev.mlxarena.testing.DeviceHarness;
import org.junit.jupiter.api.Nested;

/** The pool contracts over the JNA path and the simulation shim. */
class SimPoolTest {
  @Nested
  class SharedStorage extends PoolContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return SimHarness.shared();
    }
  }

  @Nested
  class SharedStorageWithoutResidencySupport extends PoolContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return new SimHarness(StorageMode.SHARED, false);
    }
  }

  @Nested
  class ResidencyAndFaults extends ResidencyAndFaultContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return SimHarness.shared();
    }
  }
}
