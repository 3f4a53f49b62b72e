package dev.mlxarena.cuda;

import dev.mlxarena.DeviceUnavailableException;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Compiles CUDA C kernel sources with NVRTC for the GPU at hand, at first use, and caches the
 * result.
 *
 * <ul>
 *   <li><b>Architecture.</b> A GPU of compute capability X.Y gets {@code
 *       --gpu-architecture=sm_XY} and CUBIN, machine code the driver loads as it is. When the
 *       NVRTC present does not know the GPU (a GPU newer than the toolkit), the source is compiled
 *       to PTX for the newest architecture NVRTC knows below it, and the driver finishes the job.
 *   <li><b>Process cache.</b> One image per source, options and architecture per process: every
 *       model, stream and test after the first gets it at once.
 *   <li><b>Disk cache.</b> With the system property {@value #CACHE_PROPERTY} naming a directory,
 *       images are kept there under a SHA-256 of the NVRTC version, architecture, options, name
 *       and source, so a later process skips NVRTC (a changed source or compiler is a new key).
 *       Files are written whole and moved into place; an unusable directory costs a warning only.
 * </ul>
 *
 * Thread-safe: compilations are serialised (they are rare).
 */
public final class KernelCompiler {
  /** The directory of the disk cache; unset, there is none. */
  public static final String CACHE_PROPERTY = "mlxarena.cuda.kernelCache";

  private static final Logger LOG = System.getLogger(KernelCompiler.class.getName());
  private static @Nullable KernelCompiler shared;

  private final Nvrtc nvrtc;
  private final @Nullable Path cacheDir;
  private final Map<String, KernelImage> images = new HashMap<>();
  private int compilations;

  KernelCompiler(Nvrtc nvrtc, @Nullable Path cacheDir) {
    this.nvrtc = nvrtc;
    this.cacheDir = cacheDir;
  }

  /**
   * The process's compiler, over the NVRTC found on this machine, with the disk cache the system
   * property names.
   *
   * @throws DeviceUnavailableException if NVRTC cannot be loaded; the message lists where it was
   *     looked for
   */
  public static synchronized KernelCompiler shared() {
    if (shared == null) {
      String dir = System.getProperty(CACHE_PROPERTY);
      shared = new KernelCompiler(NvrtcLibrary.load(), dir == null || dir.isBlank() ? null : Path.of(dir));
    }
    return shared;
  }

  /** The NVRTC version, for example {@code "13.0"}. */
  public String nvrtcVersion() {
    return nvrtc.version();
  }

  /** NVRTC's version and where it was loaded from, for logs. */
  public String describeNvrtc() {
    return nvrtc.toString();
  }

  /** How many times this compiler has run NVRTC (cache hits do not count). */
  public synchronized int compilations() {
    return compilations;
  }

  /**
   * {@code source} compiled for a GPU of compute capability {@code computeCapability} (as {@link
   * CudaDevice#computeCapability()} gives it), from the caches when they have it.
   *
   * @throws KernelCompileException if NVRTC rejects the source; the message has the compiler log
   * @throws DeviceUnavailableException if NVRTC knows no architecture this GPU can run
   */
  public synchronized KernelImage compile(KernelSource source, int computeCapability) {
    String arch = architectureFor(computeCapability);
    List<String> options = new ArrayList<>();
    options.add("--gpu-architecture=" + arch);
    options.addAll(source.options());
    String key = key(arch, options, source);
    KernelImage image = images.get(key);
    if (image != null) {
      return image;
    }
    image = fromDisk(key, source.name(), arch);
    if (image == null) {
      long t0 = System.nanoTime();
      Nvrtc.Output out = nvrtc.compile(source.code(), source.name(), options);
      compilations++;
      if (!out.ok()) {
        throw new KernelCompileException(source.name(), arch, options, out.statusName(), out.log());
      }
      byte[] cubinImage = out.cubin();
      boolean cubin = cubinImage != null && cubinImage.length > 0;
      byte[] bytes = cubinImage != null && cubin ? cubinImage : stripNul(out.ptx());
      image = new KernelImage(source.name(), arch, cubin, bytes, out.log(), false);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      KernelImage done = image;
      LOG.log(Level.DEBUG, () -> "compiled " + done + " with NVRTC " + nvrtc.version() + " in " + ms + " ms");
      toDisk(key, image);
    }
    images.put(key, image);
    return image;
  }

  /** {@code sm_XY} when NVRTC knows the GPU; else {@code compute_} of the newest below it. */
  String architectureFor(int computeCapability) {
    int[] archs = nvrtc.architectures();
    int best = -1;
    for (int a : archs) {
      if (a == computeCapability) {
        return "sm_" + a;
      }
      if (a < computeCapability) {
        best = Math.max(best, a);
      }
    }
    if (best < 0) {
      throw new DeviceUnavailableException("NVRTC " + nvrtc.version() + " compiles for "
          + (archs.length == 0 ? "no architecture" : "sm_" + archs[0] + " to sm_" + archs[archs.length - 1])
          + ", none of which runs on this GPU (sm_" + computeCapability + ")");
    }
    return "compute_" + best;
  }

  private String key(String arch, List<String> options, KernelSource source) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (String part : List.of(nvrtc.version(), arch, String.join("\u0000", options), source.name(), source.code())) {
        sha.update(part.getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
    }
  }

  private @Nullable Path cacheFile(String key, String name, boolean cubin) {
    if (cacheDir == null) {
      return null;
    }
    String stem = name.replaceAll("[^A-Za-z0-9_.-]", "_");
    return cacheDir.resolve(stem + "-" + key.substring(0, 32) + (cubin ? ".cubin" : ".ptx"));
  }

  private @Nullable KernelImage fromDisk(String key, String name, String arch) {
    for (boolean cubin : new boolean[] {true, false}) {
      Path f = cacheFile(key, name, cubin);
      if (f != null && Files.isRegularFile(f)) {
        try {
          return new KernelImage(name, arch, cubin, Files.readAllBytes(f), "", true);
        } catch (IOException e) {
          LOG.log(Level.WARNING, "kernel cache file " + f + " is unreadable; compiling again", e);
        }
      }
    }
    return null;
  }

  private void toDisk(String key, KernelImage image) {
    Path f = cacheFile(key, image.name(), image.isCubin());
    if (f == null) {
      return;
    }
    try {
      Files.createDirectories(f.getParent());
      Path tmp = Files.createTempFile(f.getParent(), f.getFileName().toString(), ".tmp");
      Files.write(tmp, image.bytesUnsafe());
      try {
        Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      LOG.log(Level.WARNING, "could not write the kernel cache file " + f + ": " + e);
    }
  }

  private static byte[] stripNul(byte @Nullable [] ptx) {
    if (ptx == null) {
      throw new IllegalStateException("NVRTC reported success but produced neither CUBIN nor PTX");
    }
    int n = ptx.length;
    while (n > 0 && ptx[n - 1] == 0) {
      n--;
    }
    return java.util.Arrays.copyOf(ptx, n);
  }
}
