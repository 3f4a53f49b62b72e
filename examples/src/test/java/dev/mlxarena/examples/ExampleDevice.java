package dev.mlxarena.examples;

import dev.mlxarena.Devices;
import dev.mlxarena.spi.Device;
import dev.mlxarena.testing.TestDevice;

/**
 * The devices an example's {@code main} may be handed by {@link Devices#systemDefault()}: the
 * examples' tests run each on all of them, so that one that works only on host-visible memory
 * fails here, without a GPU.
 */
enum ExampleDevice {
  /** What {@code main} opens: host memory here, Metal or a CUDA GPU where there is one. */
  SYSTEM_DEFAULT {
    @Override
    Device open() {
      return Devices.systemDefault();
    }
  },
  /** Memory with no host mapping, as a CUDA GPU's default device memory. */
  DEVICE_PRIVATE {
    @Override
    Device open() {
      return TestDevice.devicePrivate();
    }
  };

  abstract Device open();
}
