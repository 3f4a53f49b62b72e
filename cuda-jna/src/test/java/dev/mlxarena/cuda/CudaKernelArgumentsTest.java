package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The argument block and the launch's messages, without a GPU: a launch checks its arguments
 * before it touches the module or the driver.
 */
class CudaKernelArgumentsTest {
  private static CudaKernel kernel(int parameters) {
    return new CudaKernel(null, "rms_norm_f32", 0L, parameters);
  }

  @Test
  void argumentsLandInEightByteSlotsInOrder() {
    CudaKernel k = kernel(4).ptr(0x7f00_0000_1000L).i32(-3).f32(1.5f).i64(1L << 40);
    assertEquals(0x7f00_0000_1000L, k.argumentBits(0));
    assertEquals(0xffff_fffdL, k.argumentBits(1), "an int takes the low four bytes, the rest zero");
    assertEquals(Float.floatToRawIntBits(1.5f), k.argumentBits(2));
    assertEquals(1L << 40, k.argumentBits(3));
  }

  @Test
  void aLaunchWithTooFewArgumentsNamesTheKernelAndCounts() {
    CudaKernel k = kernel(5);
    k.ptr(1).ptr(2);
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> k.launch(null, 1, 256));
    assertEquals("kernel rms_norm_f32 takes 5 arguments, 2 were set", e.getMessage());
    IllegalStateException again = assertThrows(IllegalStateException.class, () -> k.launch(null, 1, 256));
    assertTrue(again.getMessage().endsWith("0 were set"), "a failed launch resets the arguments");
  }

  @Test
  void oneArgumentTooManyIsRefusedAtOnce() {
    CudaKernel k = kernel(1).i32(1);
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> k.i32(2));
    assertTrue(e.getMessage().startsWith("kernel rms_norm_f32 takes 1 arguments"), e.getMessage());
  }

  @Test
  void aRefusedLaunchNamesTheKernelItsGridAndItsBlock() {
    CudaException e = CudaKernel.launchFailure("cuLaunchKernel", "rms_norm_f32", 1, 1, 1, 1, 2048, 1, 1, 0);
    assertEquals("cuLaunchKernel", e.getCall());
    String m = e.getMessage();
    assertTrue(m.startsWith("cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (1)"), m);
    assertTrue(m.contains("kernel rms_norm_f32, grid (1, 1, 1), block (2048, 1, 1), 0 B dynamic shared memory"), m);
  }

  @Test
  void cublasFailuresNameTheStatusAndTheProduct() {
    CublasException e = assertThrows(CublasException.class,
        () -> CublasException.check(15, "cublasGemmEx", "y = W x, W bf16 2048 x 2048"));
    assertEquals("cublasGemmEx failed: CUBLAS_STATUS_NOT_SUPPORTED (15) [y = W x, W bf16 2048 x 2048]",
        e.getMessage());
    assertEquals("cublasStatus 99", CublasException.statusName(99));
  }
}
