package dev.mlxarena.cuda;

import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import dev.mlxarena.DeviceUnavailableException;
import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Finds and loads the CUDA libraries this backend uses besides the driver: NVRTC (the runtime
 * compiler), cuBLAS and NCCL (collectives across GPUs). None comes with the driver; they come with
 * the CUDA toolkit, with a distribution's packages, or with PyTorch's pip wheels ({@code nvidia-*}
 * packages in a Python site-packages directory). The search, in order:
 *
 * <ol>
 *   <li>the directories named by the system property {@value #PATH_PROPERTY} (separated like a
 *       class path);
 *   <li>{@code $CUDA_HOME} and {@code $CUDA_PATH}, their {@code lib64} and {@code lib};
 *   <li>the toolkit's default location, {@code /usr/local/cuda/lib64} ({@link #TOOLKIT_DEFAULTS});
 *   <li>the pip layout in every Python site-packages directory found under {@code $VIRTUAL_ENV},
 *       {@code $CONDA_PREFIX}, the environment of each {@code python3} on {@code $PATH}, {@code
 *       ~/.local}, {@code /usr/local}, {@code /usr}, {@code /opt/conda} and on {@code $PYTHONPATH}: {@code nvidia/cu13/lib} (CUDA 13 wheels), {@code
 *       nvidia/cu12/lib}, and the per-library folders of CUDA 12 wheels ({@code
 *       nvidia/cuda_nvrtc/lib}, {@code nvidia/cublas/lib}) and of NCCL's wheels ({@code
 *       nvidia/nccl/lib}, from {@code nvidia-nccl-cu13} or {@code -cu12});
 *   <li>the directories on {@code $LD_LIBRARY_PATH};
 *   <li>the system loader by name ({@code ld.so.cache}).
 * </ol>
 *
 * In a directory the highest version of {@code libX.so.N} wins; companions it needs from the same
 * directory ({@code libnvrtc-builtins}, {@code libcublasLt}) are loaded first, since a library
 * loaded by full path does not search its own directory. When nothing loads, the exception lists
 * every place tried and why each failed.
 *
 * @param <L> what a loaded library is: JNA's {@link NativeLibrary} in production
 */
final class CudaLibraries<L> {
  /** Directories to search first, separated by {@link File#pathSeparator}. */
  static final String PATH_PROPERTY = "mlxarena.cuda.libraryPath";

  /** Where the CUDA toolkit installs its libraries when nothing names another place. */
  static final List<Path> TOOLKIT_DEFAULTS = List.of(Path.of("/usr/local/cuda/lib64"));

  /** What to look for. */
  record Spec(
      String title, String stem, List<String> pipDirs, List<String> companions, List<String> names,
      String install) {}

  static final Spec NVRTC = new Spec(
      "NVRTC", "libnvrtc",
      List.of("nvidia/cu13/lib", "nvidia/cu12/lib", "nvidia/cuda_nvrtc/lib"),
      List.of("libnvrtc-builtins"),
      systemNames(List.of("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"), List.of("nvrtc64_130_0", "nvrtc64_120_0")),
      "the CUDA toolkit, or pip install nvidia-cuda-nvrtc");

  static final Spec CUBLAS = new Spec(
      "cuBLAS", "libcublas",
      List.of("nvidia/cu13/lib", "nvidia/cu12/lib", "nvidia/cublas/lib"),
      List.of("libcublasLt"),
      systemNames(List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so"), List.of("cublas64_13", "cublas64_12")),
      "the CUDA toolkit, or pip install nvidia-cublas");

  static final Spec NCCL = new Spec(
      "NCCL", "libnccl",
      List.of("nvidia/nccl/lib"),
      List.of(),
      systemNames(List.of("libnccl.so.2", "libnccl.so"), List.of("nccl")),
      "pip install nvidia-nccl-cu13 (or nvidia-nccl-cu12), or NVIDIA's libnccl2 package");

  private static List<String> systemNames(List<String> unix, List<String> windows) {
    return Platform.isWindows() ? windows : unix;
  }

  /** Opens one library by path or name; throws {@link UnsatisfiedLinkError} when it cannot. */
  interface Loader<L> {
    L open(String pathOrName);
  }

  /** A loaded library and the path (or, from the system loader, the name) it was opened by. */
  record Loaded<L>(L library, String opened) {}

  private static final Pattern VERSION = Pattern.compile("\\.so((?:\\.[0-9]+)*)$");

  private final Function<String, @Nullable String> env;
  private final Function<String, @Nullable String> properties;
  private final List<Path> toolkitDefaults;
  private final List<Path> pythonRoots;
  private final Loader<L> loader;

  /**
   * A search over the given environment, system properties, toolkit default directories and
   * Python roots, opening libraries with {@code loader}. Every place it looks comes from these
   * arguments (or from the directories they name), so a search is independent of what the
   * machine has installed unless it is given the machine's own places, as {@link #system()} does.
   */
  CudaLibraries(
      Function<String, @Nullable String> env, Function<String, @Nullable String> properties,
      List<Path> toolkitDefaults, List<Path> pythonRoots, Loader<L> loader) {
    this.env = env;
    this.properties = properties;
    this.toolkitDefaults = List.copyOf(toolkitDefaults);
    this.pythonRoots = List.copyOf(pythonRoots);
    this.loader = loader;
  }

  /** The search over this process's environment and system properties, loading with JNA. */
  static CudaLibraries<NativeLibrary> system() {
    List<Path> roots = new ArrayList<>();
    for (String var : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
      String v = System.getenv(var);
      if (v != null && !v.isEmpty()) {
        roots.add(Path.of(v));
      }
    }
    // The environment of the python3 on $PATH (a virtual environment's bin/ is put there).
    String path = System.getenv("PATH");
    if (path != null) {
      for (String d : path.split(Pattern.quote(File.pathSeparator))) {
        Path bin = Path.of(d.isEmpty() ? "." : d);
        if (Files.isExecutable(bin.resolve("python3")) && bin.toAbsolutePath().getParent() != null) {
          roots.add(bin.toAbsolutePath().getParent());
        }
      }
    }
    roots.add(Path.of(System.getProperty("user.home"), ".local"));
    for (String r : List.of("/usr/local", "/usr", "/opt/conda")) {
      roots.add(Path.of(r));
    }
    return new CudaLibraries<>(System::getenv, System::getProperty, TOOLKIT_DEFAULTS, roots, NativeLibrary::getInstance);
  }

  /**
   * Loads {@code spec}'s library from the first place that works.
   *
   * @throws DeviceUnavailableException if none does; the message lists every place tried
   */
  Loaded<L> load(Spec spec) {
    List<String> tried = new ArrayList<>();
    Set<Path> seen = new LinkedHashSet<>();
    String named = properties.apply(PATH_PROPERTY);
    if (named == null || named.isBlank()) {
      tried.add("-D" + PATH_PROPERTY + ": not set");
    } else {
      for (String d : named.split(Pattern.quote(File.pathSeparator))) {
        if (!d.isBlank()) {
          Loaded<L> l = tryDirectory(spec, Path.of(d.trim()), "-D" + PATH_PROPERTY, tried, seen);
          if (l != null) {
            return l;
          }
        }
      }
    }
    for (String var : List.of("CUDA_HOME", "CUDA_PATH")) {
      String home = env.apply(var);
      if (home == null || home.isBlank()) {
        tried.add("$" + var + ": not set");
        continue;
      }
      for (String sub : List.of("lib64", "lib")) {
        Loaded<L> l = tryDirectory(spec, Path.of(home, sub), "$" + var, tried, seen);
        if (l != null) {
          return l;
        }
      }
    }
    Loaded<L> l;
    for (Path dir : toolkitDefaults) {
      l = tryDirectory(spec, dir, "the toolkit's default", tried, seen);
      if (l != null) {
        return l;
      }
    }
    List<Path> sites = sitePackages();
    if (sites.isEmpty()) {
      tried.add("Python site-packages: none under " + pythonRoots + " or on $PYTHONPATH");
    }
    for (Path site : sites) {
      for (String pip : spec.pipDirs()) {
        l = tryDirectory(spec, site.resolve(pip), "pip", tried, seen);
        if (l != null) {
          return l;
        }
      }
    }
    String ldPath = env.apply("LD_LIBRARY_PATH");
    if (ldPath == null || ldPath.isBlank()) {
      tried.add("$LD_LIBRARY_PATH: not set");
    } else {
      for (String d : ldPath.split(":")) {
        if (!d.isBlank()) {
          l = tryDirectory(spec, Path.of(d), "$LD_LIBRARY_PATH", tried, seen);
          if (l != null) {
            return l;
          }
        }
      }
    }
    List<String> systemErrors = new ArrayList<>();
    for (String name : spec.names()) {
      try {
        return new Loaded<>(loader.open(name), name);
      } catch (UnsatisfiedLinkError e) {
        systemErrors.add(dlopenError(e.getMessage()));
      }
    }
    tried.add("the system loader: " + String.join("; ", systemErrors));
    throw new DeviceUnavailableException(
        spec.title() + " could not be loaded (" + spec.stem() + ".so.*); tried, in order:\n  - "
            + String.join("\n  - ", tried) + "\nInstall " + spec.install()
            + ", or name the directory that holds it with -D" + PATH_PROPERTY + "=DIR.");
  }

  private @Nullable Loaded<L> tryDirectory(
      Spec spec, Path dir, String source, List<String> tried, Set<Path> seen) {
    Path key = dir.toAbsolutePath().normalize();
    if (!seen.add(key)) {
      return null;
    }
    String where = dir + " (" + source + ")";
    if (!Files.isDirectory(dir)) {
      tried.add(where + ": no such directory");
      return null;
    }
    List<Path> found = versions(dir, spec.stem());
    if (found.isEmpty()) {
      tried.add(where + ": no " + spec.stem() + ".so* there");
      return null;
    }
    for (Path lib : found) {
      List<String> companionErrors = new ArrayList<>();
      for (String companion : spec.companions()) {
        Path c = companionFor(dir, companion, lib);
        if (c != null) {
          try {
            loader.open(c.toString());
          } catch (UnsatisfiedLinkError e) {
            companionErrors.add(c + ": " + dlopenError(e.getMessage()));
          }
        }
      }
      try {
        return new Loaded<>(loader.open(lib.toString()), lib.toString());
      } catch (UnsatisfiedLinkError e) {
        tried.add(lib + " (" + source + "): " + dlopenError(e.getMessage())
            + (companionErrors.isEmpty() ? "" : " (and " + String.join("; ", companionErrors) + ")"));
      }
    }
    return null;
  }

  /** The {@code stem.so*} files of {@code dir}, highest major version first, sonames first. */
  static List<Path> versions(Path dir, String stem) {
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, stem + ".so*")) {
      for (Path f : files) {
        if (VERSION.matcher(f.getFileName().toString().substring(stem.length())).matches()) {
          out.add(f);
        }
      }
    } catch (IOException e) {
      return List.of();
    }
    out.sort(Comparator.comparingLong((Path p) -> -major(p)).thenComparingInt(p -> p.toString().length()));
    return out;
  }

  /** The companion with the same major version as {@code lib}, else the highest one, or null. */
  private static @Nullable Path companionFor(Path dir, String companion, Path lib) {
    List<Path> all = versions(dir, companion);
    long major = major(lib);
    for (Path c : all) {
      if (major(c) == major) {
        return c;
      }
    }
    return all.isEmpty() ? null : all.get(0);
  }

  /** The first version number after {@code .so}, or -1 for a bare {@code libX.so}. */
  private static long major(Path p) {
    Matcher m = VERSION.matcher(p.getFileName().toString());
    if (!m.find() || m.group(1).isEmpty()) {
      return -1;
    }
    String v = m.group(1).substring(1);
    int dot = v.indexOf('.');
    try {
      return Long.parseLong(dot < 0 ? v : v.substring(0, dot));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Python site-packages directories under the roots and on {@code $PYTHONPATH}. */
  private List<Path> sitePackages() {
    List<Path> out = new ArrayList<>();
    for (Path root : pythonRoots) {
      Path lib = root.resolve("lib");
      if (Files.isDirectory(lib)) {
        try (DirectoryStream<Path> pythons = Files.newDirectoryStream(lib, "python3*")) {
          for (Path py : pythons) {
            for (String kind : List.of("site-packages", "dist-packages")) {
              if (Files.isDirectory(py.resolve(kind))) {
                out.add(py.resolve(kind));
              }
            }
          }
        } catch (IOException e) {
          // an unreadable root has no site-packages for us
        }
      }
    }
    String pythonPath = env.apply("PYTHONPATH");
    if (pythonPath != null) {
      for (String d : pythonPath.split(Pattern.quote(File.pathSeparator))) {
        if (!d.isBlank() && Files.isDirectory(Path.of(d))) {
          out.add(Path.of(d));
        }
      }
    }
    return out;
  }

  /** The loader's own line out of JNA's message (which goes on to list the class path). */
  static String dlopenError(@Nullable String message) {
    if (message == null) {
      return "unknown error";
    }
    String[] lines = message.split("\n");
    return (lines.length > 1 ? lines[1] : lines[0]).trim();
  }
}
