package dev.mlxarena.metal;

import dev.mlxarena.Device;
import dev.mlxarena.DeviceProvider;

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
