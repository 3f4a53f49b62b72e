package dev.mlxarena.cuda;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceProvider;

/** Registers CUDA with {@link dev.mlxarena.Devices}: GPU 0, device memory, after Metal. */
public final class CudaDeviceProvider implements DeviceProvider {
  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public int priority() {
    return 50;
  }

  @Override
  public Device open() {
    return CudaDevice.open(0);
  }
}
