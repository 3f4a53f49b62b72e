package dev.mlxarena.metal;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import dev.mlxarena.DeviceUnavailableException;
import org.jspecify.annotations.Nullable;

/**
 * Loads the shim libraries. JNA finds them on the class path under its platform prefix ({@code
 * darwin-aarch64/libmlxshim.dylib}, {@code linux-x86-64/libmlxshim_sim.so}, ...), where the Maven
 * build puts them, or on {@code jna.library.path}.
 */
public final class Shims {
  /** The real Metal shim's library name. */
  public static final String METAL = "mlxshim";
  /** The simulation shim's library name. */
  public static final String SIM = "mlxshim_sim";

  // null until first loaded
  private static volatile @Nullable SimShimLibrary sim;
  private static volatile @Nullable ShimLibrary metal;

  private Shims() {}

  /**
   * The simulation shim, loaded once.
   *
   * @throws DeviceUnavailableException if it cannot be loaded (it is built by {@code mvn} for
   *     Linux and macOS)
   */
  public static SimShimLibrary sim() {
    SimShimLibrary s = sim;
    if (s == null) {
      synchronized (Shims.class) {
        s = sim;
        if (s == null) {
          s = load(SIM, SimShimLibrary.class);
          sim = s;
        }
      }
    }
    return s;
  }

  /**
   * The Metal shim, loaded once.
   *
   * @throws DeviceUnavailableException off macOS, or if the library is missing
   */
  public static ShimLibrary metal() {
    if (!Platform.isMac()) {
      throw new DeviceUnavailableException(
          "Metal needs macOS on Apple Silicon; this is " + System.getProperty("os.name") + " "
              + System.getProperty("os.arch") + " (the Metal shim " + libraryFile(METAL)
              + " is built and loaded on macOS only). Use the host device, or the sim backend"
              + " to exercise the Metal code path.");
    }
    ShimLibrary m = metal;
    if (m == null) {
      synchronized (Shims.class) {
        m = metal;
        if (m == null) {
          m = load(METAL, ShimLibrary.class);
          metal = m;
        }
      }
    }
    return m;
  }

  /** Loads {@code name} as {@code type}, checking its ABI version. */
  static <T extends ShimLibrary> T load(String name, Class<T> type) {
    T lib;
    try {
      lib = Native.load(name, type);
    } catch (UnsatisfiedLinkError e) {
      throw new DeviceUnavailableException(
          "cannot load " + libraryFile(name) + " (looked on the class path under "
              + Platform.RESOURCE_PREFIX + "/ and on jna.library.path): " + e.getMessage(),
          e);
    }
    int abi = lib.mlxshim_abi_version();
    if (abi != ShimLibrary.ABI_VERSION) {
      throw new DeviceUnavailableException(
          libraryFile(name) + " implements mlxshim ABI version " + abi + ", this jar needs "
              + ShimLibrary.ABI_VERSION);
    }
    return lib;
  }

  static String libraryFile(String name) {
    return System.mapLibraryName(name);
  }
}
