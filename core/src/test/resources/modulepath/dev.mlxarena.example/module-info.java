/** A small application on the module path: it uses the pool and provides a backend of its own. */
module dev.mlxarena.example {
  requires dev.mlxarena.core;

  provides dev.mlxarena.spi.DeviceProvider with dev.mlxarena.example.ExampleProvider;
}
