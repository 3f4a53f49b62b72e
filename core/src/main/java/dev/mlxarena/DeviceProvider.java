package dev.mlxarena;

/**
 * A backend's entry in {@link Devices}: registered through {@link java.util.ServiceLoader} in
 * {@code META-INF/services/dev.mlxarena.DeviceProvider}, so that {@code core} depends on no
 * backend.
 */
public interface DeviceProvider {

  /** The backend's short name, as accepted by {@link Devices#open(String)}: "metal", "cuda". */
  String name();

  /**
   * The order in which {@link Devices#systemDefault()} tries providers: higher first. The host
   * device has priority 0.
   */
  int priority();

  /**
   * Opens this backend's default device.
   *
   * @throws DeviceUnavailableException if it cannot run here, saying why
   */
  Device open();
}
