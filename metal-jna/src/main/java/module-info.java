/**
 * The Metal backend: {@link dev.mlxarena.metal.MetalDevice} over a small C shim through JNA, and
 * the portable simulation of the same shim ("sim"), both provided to {@code Devices}.
 */
module dev.mlxarena.metal {
  requires transitive dev.mlxarena.core;
  requires transitive com.sun.jna; // JNA types (Pointer, Library) appear in this module's API
  requires static org.jspecify;

  exports dev.mlxarena.metal;

  provides dev.mlxarena.spi.DeviceProvider with
      dev.mlxarena.metal.MetalDeviceProvider,
      dev.mlxarena.metal.SimDeviceProvider;
}
