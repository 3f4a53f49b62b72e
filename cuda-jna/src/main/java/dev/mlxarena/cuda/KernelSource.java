package dev.mlxarena.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * CUDA C source for {@link KernelCompiler}: a name (shown in compiler messages), the code and the
 * NVRTC options beyond the architecture, which the compiler adds. Entry points should be {@code
 * extern "C"} so that {@link CudaModule#kernel} finds them by their plain names.
 *
 * @param name the file name NVRTC reports, for example {@code decode_kernels.cu}
 * @param code the CUDA C++ source
 * @param options further NVRTC options, for example {@code -lineinfo}
 */
public record KernelSource(String name, String code, List<String> options) {

  public KernelSource {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(code, "code");
    options = List.copyOf(options);
  }

  /** {@code code} named {@code name} with {@code options}. */
  public static KernelSource of(String name, String code, String... options) {
    return new KernelSource(name, code, List.of(options));
  }

  /**
   * The resource {@code resource} next to {@code anchor} (as {@link Class#getResourceAsStream}
   * resolves it), compiled with {@code options}.
   *
   * @throws IllegalArgumentException if there is no such resource
   */
  public static KernelSource resource(Class<?> anchor, String resource, String... options) {
    try (InputStream in = anchor.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalArgumentException(
            "no kernel source '" + resource + "' next to " + anchor.getName() + " on the class path");
      }
      String code = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      String name = resource.substring(resource.lastIndexOf('/') + 1);
      return new KernelSource(name, code, List.of(options));
    } catch (IOException e) {
      throw new UncheckedIOException("reading kernel source " + resource, e);
    }
  }
}
