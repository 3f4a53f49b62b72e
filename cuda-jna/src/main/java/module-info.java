/**
 * The CUDA backend: {@link dev.mlxarena.cuda.CudaDevice} over the CUDA driver API through JNA,
 * provided to {@code Devices}.
 */
module dev.mlxarena.cuda {
  requires transitive dev.mlxarena.core;
  requires transitive com.sun.jna; // JNA types (Pointer, Library) appear in this module's API
  requires static org.jspecify;

  exports dev.mlxarena.cuda;

  provides dev.mlxarena.spi.DeviceProvider with dev.mlxarena.cuda.CudaDeviceProvider;
}
