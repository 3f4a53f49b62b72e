package dev.mlxarena.metal;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceProvider;

/** Registers real Metal with {@link dev.mlxarena.Devices}: tried first, available on macOS. */
public final class MetalDeviceProvider implements DeviceProvider {
  @Override
  public String name() {
    return "metal";
  }

  @Override
  public int priority() {
    return 100;
  }

  @Override
  public Device open() {
    return MetalDevice.open();
  }
}
