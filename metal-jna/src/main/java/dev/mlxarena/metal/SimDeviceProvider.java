package dev.mlxarena.metal;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceProvider;

/**
 * Registers the simulation shim as the "sim" backend: the Metal code path over portable C. Never
 * chosen by {@link dev.mlxarena.Devices#systemDefault()} (negative priority); ask for it by name.
 */
public final class SimDeviceProvider implements DeviceProvider {
  @Override
  public String name() {
    return "sim";
  }

  @Override
  public int priority() {
    return -10;
  }

  @Override
  public Device open() {
    return MetalDevice.openWith(Shims.sim());
  }
}
