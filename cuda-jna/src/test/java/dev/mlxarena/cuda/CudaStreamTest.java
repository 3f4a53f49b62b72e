package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceStream;
import dev.mlxarena.Fence;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.Scope;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Streams, their fences, asynchronous copies, stream-ordered fills and allocations, on a GPU. */
@RequiresCuda
class CudaStreamTest {

  @Test
  void fencesCompleteInStreamOrderAndTheirEventsAreReused() {
    try (CudaDevice gpu = CudaDevice.open(0); CudaStream stream = CudaStream.create(gpu)) {
      List<CudaFence> fences = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        fences.add(stream.recordFence());
      }
      fences.get(2).await();
      for (CudaFence f : fences) {
        assertTrue(f.isComplete(), "an earlier fence on the stream completes with a later one");
        f.close();
      }
      assertEquals(3, stream.idleEvents());
      CudaFence again = stream.recordFence();
      assertEquals(2, stream.idleEvents(), "a new fence takes a pooled event");
      again.await();
      again.close();
      assertTrue(again.isComplete(), "a closed fence stays complete");
    }
  }

  @Test
  void asyncCopiesRoundTripThroughPinnedMemory() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        PinnedHostBuffer host = PinnedHostBuffer.allocate(gpu, 4096);
        BufferPool pool = BufferPool.create(gpu)) {
      Buffer a = pool.alloc(4096, DType.I32);
      Buffer b = pool.alloc(4096, DType.I32);
      ByteBuffer view = host.asByteBuffer();
      for (int i = 0; i < 1024; i++) {
        view.putInt(4 * i, i * 7 + 1);
      }
      stream.copyToDevice(a.nativeHandle(), host, 0, 4096);
      stream.copyDeviceToDevice(b.nativeHandle(), a.nativeHandle(), 4096);
      for (int i = 0; i < 1024; i++) {
        view.putInt(4 * i, 0);
      }
      // Pinned memory is read by the copy when the stream reaches it: wait before overwriting.
      stream.synchronize();
      stream.copyToHost(host, 0, b.nativeHandle(), 4096);
      CudaFence done = stream.recordFence();
      done.await();
      done.close();
      for (int i = 0; i < 1024; i++) {
        assertEquals(i * 7 + 1, host.getInt(4L * i));
      }
      assertThrows(IndexOutOfBoundsException.class, () -> stream.copyToHost(host, 4090, b.nativeHandle(), 8));
    }
  }

  @Test
  void fillPatternIsEnqueuedOnTheStreamWithItsTail() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        PinnedHostBuffer host = PinnedHostBuffer.allocate(gpu, 4099);
        BufferPool pool = BufferPool.create(gpu)) {
      Buffer b = pool.alloc(8192, DType.U8);
      gpu.fillPattern(b.deviceBuffer(), 0, 4099, PoolOptions.POISON, stream);
      stream.copyToHost(host, 0, b.nativeHandle(), 4099);
      stream.synchronize();
      ByteBuffer v = host.asByteBuffer();
      for (int i = 0; i < 4099; i++) {
        assertEquals((byte) (PoolOptions.POISON >>> (8 * (i & 3))), v.get(i), "byte " + i);
      }
      assertTrue(Float.isNaN(Float.intBitsToFloat(v.getInt(0))));

      gpu.fillPattern(b.deviceBuffer(), 1, 10, 0x04030201, null); // unaligned head and tail
      byte[] back = new byte[12];
      b.copyTo(back);
      byte[] want = {(byte) 0xc0, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, (byte) 0x7f};
      assertEquals(java.util.Arrays.toString(want), java.util.Arrays.toString(back), "the pattern's phase follows the offset");

      DeviceStream foreign = new DeviceStream() {
        @Override
        public Device device() {
          return gpu;
        }

        @Override
        public Fence recordFence() {
          return Fence.completed();
        }
      };
      assertThrows(IllegalArgumentException.class,
          () -> gpu.fillPattern(b.deviceBuffer(), 0, 4, 0, foreign));
    }
  }

  @Test
  void streamOrderedAllocationsComeFromTheDriversPool() {
    try (CudaDevice gpu = CudaDevice.open(0); CudaStream stream = CudaStream.create(gpu)) {
      CudaMemoryPool mempool = CudaMemoryPool.defaultOf(gpu);
      mempool.setReleaseThreshold(CudaMemoryPool.KEEP_ALL);
      long p = stream.allocateAsync(1 << 20);
      assertTrue(p != 0);
      assertTrue(mempool.usedBytes() >= 1 << 20);
      stream.freeAsync(p);
      stream.synchronize();
      assertTrue(mempool.reservedBytes() >= 1 << 20, "kept for reuse: the release threshold is at its maximum");
      assertTrue(mempool.usedHighWatermark() >= 1 << 20);
      mempool.trimTo(0);
      mempool.resetHighWatermarks();
      assertEquals(0, mempool.reservedBytes());
    }
  }

  @Test
  void aScopeOnTheStreamKillsItsHandlesAtClose() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        BufferPool pool = BufferPool.create(gpu)) {
      Buffer b;
      try (Scope token = pool.openScope(stream)) {
        assertEquals(stream, token.stream());
        b = token.alloc(1024, DType.F32);
      }
      assertFalse(b.isValid());
      stream.synchronize();
    }
  }
}
