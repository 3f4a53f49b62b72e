package dev.mlxarena;

import dev.mlxarena.host.HostDevice;
import dev.mlxarena.testing.DeviceHarness;
import dev.mlxarena.testing.TestDevice;

/** The pool contract on plain {@link HostDevice} memory (leaks tracked through a test wrapper). */
class HostPoolTest extends PoolContractTest {
  @Override
  protected DeviceHarness newHarness() {
    return new TestDevice(HostDevice.create(), false);
  }
}
