package dev.mlxarena.examples.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.mlxarena.cuda.NvccCheck;
import org.junit.jupiter.api.Test;

/** The demo's kernels compile with nvcc ({@code -ptx -arch=sm_90}) wherever the build has it. */
class DecodeKernelSourcesTest {
  @Test
  void theDecodeKernelsCompileWithNvcc() throws Exception {
    assertEquals(1, NvccCheck.compileResources(GpuKernels.class, "decode_kernels.cu").size());
  }
}
