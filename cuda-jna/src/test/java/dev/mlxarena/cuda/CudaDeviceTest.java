package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferAllocationException;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.DeviceUnavailableException;
import dev.mlxarena.Devices;
import dev.mlxarena.Scope;
import dev.mlxarena.host.HostDevice;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The CUDA device itself; the class's timeout guards a hang on a GPU that stops answering. */
@Timeout(120)
class CudaDeviceTest {

  @Test
  void openingSaysWhyCudaIsUnavailableOrWhichOrdinalIsMissing() {
    String why = RequiresCuda.Condition.unavailableReason();
    if (why != null) {
      DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, () -> CudaDevice.open(0));
      assertTrue(e.getMessage().contains("driver") || e.getMessage().contains("GPU"), e.getMessage());
      try (Device d = Devices.systemDefault()) {
        assertFalse(d instanceof CudaDevice, "without CUDA the default device moves on");
      }
    } else {
      DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, () -> CudaDevice.open(999));
      assertTrue(e.getMessage().contains("999"), e.getMessage());
    }
  }

  @Test
  @RequiresCuda
  void describesTheGpu() {
    try (CudaDevice gpu = CudaDevice.open(0)) {
      assertFalse(gpu.name().isBlank());
      assertTrue(gpu.totalMemory() > 0);
      assertTrue(gpu.freeMemory() > 0);
      assertTrue(CudaDevice.driverVersion() > 0);
      try (Device d = Devices.systemDefault()) {
        assertInstanceOf(CudaDevice.class, d, "with a GPU the default device is CUDA");
      }
    }
  }

  @Test
  @RequiresCuda
  void outOfMemoryIsABufferAllocationExceptionWithTheDriversError() {
    try (CudaDevice gpu = CudaDevice.open(0); BufferPool pool = BufferPool.create(gpu)) {
      long huge = 1L << 50;
      BufferAllocationException e =
          assertThrows(BufferAllocationException.class, () -> pool.alloc(huge, DType.U8));
      assertEquals(huge, e.getRequestedBytes());
      Throwable cause = e.getCause() instanceof BufferAllocationException ? e.getCause().getCause() : e.getCause();
      assertInstanceOf(CudaException.class, cause);
      assertTrue(cause.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY"), cause.getMessage());
      assertEquals(0, pool.stats().heldBytes(), "the refused allocation left the pool as it was");
    }
  }

  @Test
  @RequiresCuda
  void theContextFollowsTheCallingThread() throws Exception {
    try (CudaDevice gpu = CudaDevice.open(0); BufferPool pool = BufferPool.create(gpu)) {
      Scope scope = pool.openScope();
      Buffer b = CompletableFuture.supplyAsync(() -> scope.alloc(4096, DType.F32)).get();
      CompletableFuture.runAsync(() -> b.copyFrom(new float[] {1, 2, 3})).get();
      float[] back = new float[3];
      b.copyTo(back);
      assertArrayEquals(new float[] {1, 2, 3}, back);
      CompletableFuture.runAsync(scope::close).get();
      pool.clear();
      assertEquals(0, gpu.liveAllocations());
    }
  }

  @Test
  @RequiresCuda
  void deviceStorageHasNoHostViewAndSaysSo() {
    try (CudaDevice gpu = CudaDevice.open(0, CudaStorage.DEVICE); BufferPool pool = BufferPool.create(gpu)) {
      Buffer b = pool.alloc(64, DType.F32);
      assertFalse(b.isHostVisible());
      UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, b::asByteBuffer);
      assertTrue(e.getMessage().contains("no host mapping"), e.getMessage());
      assertTrue(b.nativeHandle() != 0, "the CUdeviceptr binds to kernels");
    }
  }

  @Test
  @RequiresCuda
  void sharedStorageIsHostVisibleAndHasADevicePointer() {
    try (CudaDevice gpu = CudaDevice.open(0, CudaStorage.SHARED); BufferPool pool = BufferPool.create(gpu)) {
      Buffer b = pool.alloc(64, DType.F32);
      assertTrue(b.isHostVisible());
      b.putF32(3, 4.5f);
      assertEquals(4.5f, b.getF32(3));
      assertTrue(b.nativeHandle() != 0);
    }
  }

  @Test
  @RequiresCuda
  void foreignBuffersAndDoubleFreesAreRejected() {
    try (CudaDevice gpu = CudaDevice.open(0); HostDevice host = HostDevice.create()) {
      DeviceBuffer foreign = host.allocate(8);
      assertThrows(IllegalArgumentException.class, () -> gpu.free(foreign));
      host.free(foreign);
      DeviceBuffer b = gpu.allocate(8);
      gpu.free(b);
      assertThrows(IllegalStateException.class, () -> gpu.free(b));
    }
  }
}
