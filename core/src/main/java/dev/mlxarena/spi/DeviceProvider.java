package dev.mlxarena.spi;

/**
 * A backend's entry in {@link dev.mlxarena.Devices}: registered through {@link java.util.ServiceLoader} in
 * {@code META-INF/services/dev.mlxarena.spi.DeviceProvider}, so that {@code core} depends on no
 * backend.
 */
public interface DeviceProvider {

  /** The backend's short name, as accepted by {@link dev.mlxarena.Devices#open(String)}: "metal", "cuda". */
  String name();

  /**
   * The order in which {@link dev.mlxarena.Devices#systemDefault()} tries providers: higher first. Only
   * positive priorities are tried at all (the host device, the fallback, counts as 0); test and
   * simulation backends use negative ones and are opened by name.
   */
  int priority();

  /**
   * Opens this backend's default device.
   *
   * @throws dev.mlxarena.DeviceUnavailableException if it cannot run here, saying why
   */
  Device open();
}
