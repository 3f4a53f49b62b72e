package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import org.junit.jupiter.api.Test;

/** Timing events in stream order, and pinned memory a kernel's stream reads through its mapping. */
@RequiresCuda
class CudaTimelineTest {
  private static final KernelSource SOURCE = KernelSource.resource(CudaTimelineTest.class, "test_kernels.cu");

  @Test
  void marksAroundWorkGiveItsGpuTimeInOrder() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        CudaModule module = CudaModule.compile(gpu, SOURCE);
        BufferPool pool = BufferPool.create(gpu);
        CudaTimeline marks = CudaTimeline.create(stream, 3)) {
      int n = 1 << 20;
      Buffer out = pool.alloc(8L * n, DType.I64);
      CudaKernel iota = module.kernel("iota_i64", 3);
      marks.mark(0);
      iota.ptr(out).i64(0).i32(n).launch(stream, n / 256, 256);
      marks.mark(1);
      iota.ptr(out).i64(1).i32(n).launch(stream, n / 256, 256);
      marks.mark(2);
      double first = marks.microsBetween(0, 1);
      double both = marks.microsBetween(0, 2);
      assertTrue(first >= 0 && both >= first, "in stream order: " + first + " then " + both);
      assertEquals(0.0, marks.microsBetween(1, 1));
      assertEquals(3, marks.size());
      assertThrows(IndexOutOfBoundsException.class, () -> marks.mark(3));
      assertThrows(IndexOutOfBoundsException.class, () -> marks.microsBetween(-1, 0));
    }
  }

  @Test
  void aMarkNeverRecordedIsAnErrorNotATime() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        CudaTimeline marks = CudaTimeline.create(stream, 2)) {
      marks.mark(0);
      CudaException e = assertThrows(CudaException.class, () -> marks.microsBetween(0, 1));
      assertTrue(e.getMessage().contains("cuEventElapsedTime") && e.getMessage().contains("marks 0 and 1"),
          e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> CudaTimeline.create(stream, 0));
      marks.close();
      assertThrows(IllegalStateException.class, () -> marks.mark(0));
      marks.close();
    }
  }

  @Test
  void theGpuReadsPinnedMemoryThroughItsMapping() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        PinnedHostBuffer words = PinnedHostBuffer.allocate(gpu, 8);
        PinnedHostBuffer back = PinnedHostBuffer.allocate(gpu, 8);
        BufferPool pool = BufferPool.create(gpu)) {
      Buffer b = pool.alloc(8, DType.I32);
      words.putIntVolatile(0, 1234);
      words.putIntVolatile(4, -5);
      stream.copyDeviceToDevice(b.nativeHandle(), words.devicePointer(), 8);
      stream.copyToHost(back, 0, b.nativeHandle(), 8);
      stream.synchronize();
      assertEquals(1234, back.getInt(0));
      assertEquals(-5, back.getInt(4));
      assertTrue(gpu.multiprocessorCount() > 0);
    }
  }
}
