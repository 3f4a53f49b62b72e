package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * Compiles CUDA kernel sources with the toolkit's {@code nvcc} ({@code -ptx -arch=sm_90}), so that
 * a syntax error shows in any build that has nvcc, long before NVRTC meets the source on a GPU.
 * nvcc is looked for on {@code $PATH}, in {@code $CUDA_HOME/bin} and in {@code /usr/local/cuda/bin};
 * where there is none, the calling test is skipped with that reason (it needs the CUDA toolkit).
 */
public final class NvccCheck {
  private NvccCheck() {}

  /** nvcc, or null. */
  static @Nullable Path nvcc() {
    List<Path> candidates = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      for (String d : path.split(java.io.File.pathSeparator)) {
        candidates.add(Path.of(d, "nvcc"));
      }
    }
    String home = System.getenv("CUDA_HOME");
    if (home != null) {
      candidates.add(Path.of(home, "bin", "nvcc"));
    }
    candidates.add(Path.of("/usr/local/cuda/bin/nvcc"));
    return candidates.stream().filter(Files::isExecutable).findFirst().orElse(null);
  }

  /**
   * Compiles the kernel sources {@code resources}, read from the class path next to {@code
   * anchor}, so that the check runs wherever the classes are: a build's folders, jars, or an
   * unpacked kit.
   *
   * @return the files compiled (copies in a temporary folder)
   */
  public static List<Path> compileResources(Class<?> anchor, String... resources)
      throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("nvcc-check");
    for (String r : resources) {
      try (InputStream in = anchor.getResourceAsStream(r)) {
        assertNotNull(in, "no " + r + " next to " + anchor.getName());
        Files.copy(in, dir.resolve(r.substring(r.lastIndexOf('/') + 1)));
      }
    }
    return compileAll(dir);
  }

  /**
   * Compiles every {@code .cu} file in {@code dirs} and fails with nvcc's messages for the first
   * that does not compile.
   *
   * @return the files compiled
   */
  public static List<Path> compileAll(Path... dirs) throws IOException, InterruptedException {
    Path nvcc = nvcc();
    assumeTrue(nvcc != null, "needs the CUDA toolkit's nvcc, found neither on $PATH, in $CUDA_HOME/bin"
        + " nor in /usr/local/cuda/bin");
    List<Path> sources = new ArrayList<>();
    for (Path dir : dirs) {
      try (Stream<Path> files = Files.list(dir)) {
        files.filter(f -> f.toString().endsWith(".cu")).sorted().forEach(sources::add);
      }
    }
    assertFalse(sources.isEmpty(), "no .cu file in " + List.of(dirs));
    Path out = Files.createTempFile("nvcc-check", ".ptx");
    try {
      for (Path src : sources) {
        Process p = new ProcessBuilder(nvcc.toString(), "-ptx", "-arch=sm_90", "-o", out.toString(), src.toString())
            .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
          p.destroyForcibly();
          throw new AssertionError("nvcc did not finish on " + src);
        }
        assertEquals(0, p.exitValue(), "nvcc -ptx -arch=sm_90 " + src + ":\n" + log);
      }
    } finally {
      Files.deleteIfExists(out);
    }
    return sources;
  }
}
