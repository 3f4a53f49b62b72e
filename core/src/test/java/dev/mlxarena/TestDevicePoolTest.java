package dev.mlxarena;

import dev.mlxarena.host.HostDevice;
import dev.mlxarena.testing.DeviceHarness;
import dev.mlxarena.testing.TestDevice;
import org.junit.jupiter.api.Nested;

/**
 * The pool contracts on host memory that starts as garbage, with a counting residency set; the
 * registrar contract also on plain {@link HostDevice} memory.
 */
class TestDevicePoolTest {
  @Nested
  class Contract extends PoolContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return TestDevice.withResidency();
    }
  }

  @Nested
  class ResidencyAndFaults extends ResidencyAndFaultContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return TestDevice.withResidency();
    }
  }

  @Nested
  class Registrars extends RegistrarContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return TestDevice.withResidency();
    }
  }

  @Nested
  class RegistrarsOnPlainHostMemory extends RegistrarContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return new TestDevice(HostDevice.create(), false);
    }
  }
}
