package dev.mlxarena.cuda;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import dev.mlxarena.DeviceUnavailableException;

/**
 * {@code cuLaunchKernelEx}, the launch that takes attributes ({@link CudaKernel#dependentLaunches}),
 * registered apart from {@link CudaDriver} on first use: drivers older than CUDA 11.8 lack it, and
 * a missing entry point must not keep the rest of the driver from loading.
 */
final class CudaLaunchEx {
  /** {@code sizeof(CUlaunchConfig)}: grid x, y, z at 0, 4, 8; block at 12, 16, 20; shared memory at 24; stream at 32; attributes at 40; their count at 48. */
  static final int CONFIG_BYTES = 56;
  /** {@code sizeof(CUlaunchAttribute)}: the id at 0, the value (a union) at 8. */
  static final int ATTRIBUTE_BYTES = 72;
  static final int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

  private static final LoadOnce<Boolean> LOADED = new LoadOnce<>("cuLaunchKernelEx");

  private CudaLaunchEx() {}

  /**
   * Registers the entry point, once.
   *
   * @throws DeviceUnavailableException if the driver has none (older than CUDA 11.8)
   */
  static void load() {
    LOADED.get(() -> {
      NativeLibrary lib = CudaDriver.library();
      if (lib == null) {
        throw new DeviceUnavailableException("the CUDA driver is not loaded");
      }
      try {
        Native.register(CudaLaunchEx.class, lib);
      } catch (UnsatisfiedLinkError e) {
        throw new DeviceUnavailableException("this CUDA driver has no cuLaunchKernelEx (CUDA 11.8 and later have it): "
            + CudaLibraries.dlopenError(e.getMessage()), e);
      }
      return Boolean.TRUE;
    });
  }

  /** {@code config} is the address of a {@code CUlaunchConfig}; the rest as for {@code cuLaunchKernel}. */
  static native int cuLaunchKernelEx(long config, long function, long kernelParams, long extra);
}
