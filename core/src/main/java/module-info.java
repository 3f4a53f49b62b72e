/**
 * mlx-arena's core: the buffer pool and its user API ({@code dev.mlxarena}), the backend SPI
 * ({@code dev.mlxarena.spi}) and the embedded host device ({@code dev.mlxarena.host}). The pool's
 * internals are package-private in {@code dev.mlxarena}, so no package is exported for them.
 * Backends announce themselves by providing {@link dev.mlxarena.spi.DeviceProvider}.
 */
module dev.mlxarena.core {
  requires static transitive org.jspecify;
  requires com.sun.jna;
  requires jdk.jfr;

  exports dev.mlxarena;
  exports dev.mlxarena.spi;
  exports dev.mlxarena.host;

  uses dev.mlxarena.spi.DeviceProvider;
}
