package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.Scope;
import org.junit.jupiter.api.Test;

/** The CUDA event fence with scope.closeAfter, on a real GPU. */
@RequiresCuda
class CudaFenceTest {
  @Test
  void closeAfterARecordedEventRecyclesOnceTheGpuPassedIt() {
    try (CudaDevice gpu = CudaDevice.open(0); BufferPool pool = BufferPool.create(gpu)) {
      Scope token = pool.openScope();
      Buffer b = token.alloc(1 << 20, DType.U8);
      b.copyFrom(new byte[1 << 20]); // work on the default stream before the fence
      CudaFence fence = gpu.recordFence();
      token.closeAfter(fence);
      assertFalse(b.isValid(), "the handle dies at close");
      fence.await();
      assertTrue(fence.isComplete());
      pool.alloc(64, DType.U8); // collects completed fences
      assertEquals(0, pool.stats().deferredCount());
      assertEquals(1, pool.freeCount(1 << 20));
    }
  }

  @Test
  void aFreshFenceOnAnIdleDeviceCompletes() {
    try (CudaDevice gpu = CudaDevice.open(0)) {
      CudaFence f = gpu.recordFence();
      f.await();
      assertTrue(f.isComplete());
      f.close();
      f.close();
      assertTrue(f.isComplete(), "a closed fence stays complete");
    }
  }
}
