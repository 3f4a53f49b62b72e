package dev.mlxarena.example;

import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceProvider;

/** A backend found through the core module's {@code uses} clause: host memory under a new name. */
public final class ExampleProvider implements DeviceProvider {
  @Override
  public String name() {
    return "example";
  }

  @Override
  public int priority() {
    return -1;
  }

  @Override
  public Device open() {
    return HostDevice.create();
  }
}
