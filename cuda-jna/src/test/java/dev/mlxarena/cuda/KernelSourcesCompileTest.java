package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every kernel source of this module compiles with nvcc, and a broken one is reported. */
class KernelSourcesCompileTest {
  @Test
  void everyKernelSourceCompilesWithNvcc() throws Exception {
    assertEquals(1, NvccCheck.compileResources(KernelSourcesCompileTest.class, "test_kernels.cu").size());
  }

  @Test
  void aSyntaxErrorFailsWithNvccsMessage(@TempDir Path tmp) throws Exception {
    assumeTrue(NvccCheck.nvcc() != null, "needs the CUDA toolkit's nvcc");
    Files.writeString(tmp.resolve("bad.cu"), "extern \"C\" __global__ void k(flaot* x) {}\n");
    AssertionError e = assertThrows(AssertionError.class, () -> NvccCheck.compileAll(tmp));
    assertTrue(e.getMessage().contains("flaot"), e.getMessage());
  }
}
