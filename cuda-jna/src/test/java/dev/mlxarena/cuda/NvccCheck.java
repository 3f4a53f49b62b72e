package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
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
   * Compiles every {@code .cu} file under {@code roots} (missing roots are skipped) and fails with
   * nvcc's messages for the first that does not compile.
   *
   * @return the files compiled
   */
  public static List<Path> compileAll(Path... roots) throws IOException, InterruptedException {
    Path nvcc = nvcc();
    assumeTrue(nvcc != null, "needs the CUDA toolkit's nvcc, found neither on $PATH, in $CUDA_HOME/bin"
        + " nor in /usr/local/cuda/bin");
    List<Path> sources = new ArrayList<>();
    for (Path root : roots) {
      if (Files.isDirectory(root)) {
        try (Stream<Path> files = Files.walk(root)) {
          files.filter(f -> f.toString().endsWith(".cu")).sorted().forEach(sources::add);
        }
      }
    }
    assertFalse(sources.isEmpty(), "no .cu file under " + List.of(roots));
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
