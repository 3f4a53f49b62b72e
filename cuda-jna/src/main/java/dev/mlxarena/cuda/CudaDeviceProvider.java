package dev.mlxarena.cuda;

import dev.mlxarena.Device;
import dev.mlxarena.DeviceProvider;

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
