package dev.mlxarena;

import dev.mlxarena.host.HostDevice;
import dev.mlxarena.testing.DeviceHarness;
import dev.mlxarena.testing.TestDevice;
import org.junit.jupiter.api.Nested;

/**
 * The pool contracts on host memory that starts as garbage, with a counting residency set, and on
 * the same memory with its host mapping hidden (device-private); the registrar contract also on
 * plain {@link HostDevice} memory.
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
  class DevicePrivateContract extends PoolContractTest {
    @Override
    protected DeviceHarness newHarness() {
      return TestDevice.devicePrivate();
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
