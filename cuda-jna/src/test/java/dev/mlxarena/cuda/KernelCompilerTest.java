package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.DeviceUnavailableException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Architecture choice, caching and compile errors, over a stand-in for NVRTC. */
class KernelCompilerTest {
  @TempDir Path tmp;

  /** Compiles anything without "#error"; CUBIN for real architectures, PTX (NUL-ended) otherwise. */
  static final class FakeNvrtc implements Nvrtc {
    final String version;
    final List<List<String>> calls = new ArrayList<>();

    FakeNvrtc(String version) {
      this.version = version;
    }

    @Override
    public String version() {
      return version;
    }

    @Override
    public int[] architectures() {
      return new int[] {75, 80, 86, 89, 90};
    }

    @Override
    public Output compile(String source, String name, List<String> options) {
      calls.add(options);
      if (source.contains("#error")) {
        return new Output(6, "NVRTC_ERROR_COMPILATION",
            name + "(3): error: identifier \"flaot\" is undefined\n1 error detected", null, null);
      }
      byte[] ptx = (".version 9.0\n.target " + options.get(0) + "\0").getBytes(StandardCharsets.US_ASCII);
      boolean real = options.get(0).contains("sm_");
      return new Output(0, "NVRTC_SUCCESS", "", ptx, real ? new byte[] {0x7f, 'E', 'L', 'F'} : null);
    }
  }

  private static final KernelSource SRC = KernelSource.of("k.cu", "extern \"C\" __global__ void k() {}", "-lineinfo");

  @Test
  void aKnownGpuGetsCubinForItsOwnArchitecture() {
    FakeNvrtc nvrtc = new FakeNvrtc("13.0");
    KernelImage image = new KernelCompiler(nvrtc, null).compile(SRC, 90);
    assertTrue(image.isCubin());
    assertEquals("sm_90", image.architecture());
    assertEquals(List.of("--gpu-architecture=sm_90", "-lineinfo"), nvrtc.calls.get(0));
  }

  @Test
  void aGpuNewerThanNvrtcGetsPtxForTheNewestArchitectureBelowIt() {
    FakeNvrtc nvrtc = new FakeNvrtc("12.4");
    KernelImage image = new KernelCompiler(nvrtc, null).compile(SRC, 120);
    assertFalse(image.isCubin());
    assertEquals("compute_90", image.architecture());
    byte[] b = image.bytes();
    assertTrue(b[b.length - 1] != 0, "the PTX's terminating NUL is dropped (the loader adds one)");
  }

  @Test
  void aGpuOlderThanEveryArchitectureIsRefusedWithTheRange() {
    DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
        () -> new KernelCompiler(new FakeNvrtc("13.0"), null).compile(SRC, 61));
    assertTrue(e.getMessage().contains("sm_75 to sm_90") && e.getMessage().contains("sm_61"), e.getMessage());
  }

  @Test
  void aSourceIsCompiledOncePerProcessAndArchitecture() {
    FakeNvrtc nvrtc = new FakeNvrtc("13.0");
    KernelCompiler compiler = new KernelCompiler(nvrtc, null);
    KernelImage first = compiler.compile(SRC, 90);
    assertSame(first, compiler.compile(SRC, 90));
    compiler.compile(SRC, 80);
    assertEquals(2, compiler.compilations());
  }

  @Test
  void theDiskCacheServesALaterProcessAndMissesOnAnyChangeOfItsKey() throws Exception {
    KernelImage built = new KernelCompiler(new FakeNvrtc("13.0"), tmp).compile(SRC, 90);
    assertFalse(built.fromDiskCache());
    try (var files = Files.list(tmp)) {
      assertEquals(1, files.filter(f -> f.toString().endsWith(".cubin")).count());
    }

    FakeNvrtc again = new FakeNvrtc("13.0");
    KernelCompiler later = new KernelCompiler(again, tmp);
    KernelImage cached = later.compile(SRC, 90);
    assertTrue(cached.fromDiskCache());
    assertArrayEquals(built.bytes(), cached.bytes());
    assertEquals(0, later.compilations());

    later.compile(KernelSource.of("k.cu", SRC.code() + "\n", "-lineinfo"), 90);
    later.compile(KernelSource.of("k.cu", SRC.code()), 90);
    new KernelCompiler(new FakeNvrtc("13.1"), tmp).compile(SRC, 90);
    assertEquals(2, later.compilations(), "a changed source and changed options each compile");
    try (var files = Files.list(tmp)) {
      assertEquals(4, files.count(), "and a new NVRTC version is a new key too");
    }
  }

  @Test
  void aCompileErrorCarriesTheCompilerLogAndWhatWasCompiled() {
    KernelSource bad = KernelSource.of("bad.cu", "#error\nflaot x;", "-lineinfo");
    KernelCompileException e = assertThrows(KernelCompileException.class,
        () -> new KernelCompiler(new FakeNvrtc("13.0"), tmp).compile(bad, 90));
    String m = e.getMessage();
    assertTrue(m.startsWith("NVRTC could not compile bad.cu for sm_90 (NVRTC_ERROR_COMPILATION;"), m);
    assertTrue(m.contains("--gpu-architecture=sm_90 -lineinfo"), m);
    assertTrue(m.contains("bad.cu(3): error: identifier \"flaot\" is undefined"), m);
    assertTrue(e.getLog().contains("1 error detected"));
  }

  @Test
  void aResourceSourceIsReadFromTheClassPathOrNamedWhenMissing() {
    KernelSource s = KernelSource.resource(KernelCompilerTest.class, "test_kernels.cu", "-lineinfo");
    assertEquals("test_kernels.cu", s.name());
    assertTrue(s.code().contains("axpy_f32"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> KernelSource.resource(KernelCompilerTest.class, "nope.cu"));
    assertTrue(e.getMessage().contains("nope.cu"), e.getMessage());
  }
}
