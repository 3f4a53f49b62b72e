package dev.mlxarena.metal;

import dev.mlxarena.PoolContractTest;
import dev.mlxarena.RegistrarContractTest;
import dev.mlxarena.ResidencyAndFaultContractTest;
import dev.mlxarena.testing.DeviceHarness;
import org.junit.jupiter.api.Nested;

/**
 * The pool contracts over the JNA path and the strict simulation shim, which refuses every breach
 * of the rules in {@code mlxshim.h}: so these also check that the pool and owned buffers follow
 * them, in shared and private storage.
 */
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
  class PrivateStorage extends PoolContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return new SimHarness(StorageMode.PRIVATE, true);
    }
  }

  @Nested
  class ResidencyAndFaults extends ResidencyAndFaultContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return SimHarness.shared();
    }
  }

  @Nested
  class ResidencyAndFaultsOnPrivateStorage extends ResidencyAndFaultContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return new SimHarness(StorageMode.PRIVATE, true);
    }
  }

  @Nested
  class Registrars extends RegistrarContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return SimHarness.shared();
    }
  }
}
