package dev.mlxarena;

import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceProvider;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * Finds devices: the best one available ({@link #systemDefault()}), or a backend by name.
 *
 * <p>Backends on the class path register a {@link DeviceProvider}; {@code metal-jna} provides
 * Metal (tried first on macOS), {@code cuda-jna} provides CUDA. The host device is always there.
 */
public final class Devices {
  private static final Logger LOG = System.getLogger(Devices.class.getName());

  private Devices() {}

  /**
   * The best device this machine offers: the first backend provider of positive priority that
   * opens (Metal on Apple Silicon, CUDA where libcuda and a GPU exist), else a new {@link
   * HostDevice}. Why each
   * skipped backend was unavailable is logged at debug level.
   */
  public static Device systemDefault() {
    for (DeviceProvider p : providers()) {
      if (p.priority() <= 0) {
        continue; // test and simulation backends are opened by name only
      }
      try {
        Device d = p.open();
        LOG.log(Level.DEBUG, () -> "default device: " + d.name() + " (" + p.name() + ")");
        return d;
      } catch (DeviceUnavailableException e) {
        LOG.log(Level.DEBUG, () -> "backend " + p.name() + " unavailable: " + e.getMessage());
      }
    }
    return HostDevice.create();
  }

  /**
   * Opens the backend named {@code name} ("host" or a provider's name), or the default for
   * "auto".
   *
   * @throws DeviceUnavailableException if that backend cannot run here, or no backend has that
   *     name (the message lists the known ones)
   */
  public static Device open(String name) {
    Checks.notNull(name, "name");
    String n = name.toLowerCase(Locale.ROOT);
    if (n.equals("auto")) {
      return systemDefault();
    }
    if (n.equals("host")) {
      return HostDevice.create();
    }
    for (DeviceProvider p : providers()) {
      if (p.name().equalsIgnoreCase(n)) {
        return p.open();
      }
    }
    throw new DeviceUnavailableException(
        "no backend named '" + name + "'; known here: " + String.join(", ", backendNames()));
  }

  /** The names {@link #open(String)} accepts on this class path, "auto" and "host" included. */
  public static List<String> backendNames() {
    List<String> names = new ArrayList<>(List.of("auto", "host"));
    names.addAll(providers().stream().map(DeviceProvider::name).collect(Collectors.toList()));
    return names;
  }

  private static List<DeviceProvider> providers() {
    List<DeviceProvider> list = new ArrayList<>();
    ServiceLoader.load(DeviceProvider.class, Devices.class.getClassLoader()).forEach(list::add);
    list.sort(Comparator.comparingInt(DeviceProvider::priority).reversed());
    return list;
  }
}
