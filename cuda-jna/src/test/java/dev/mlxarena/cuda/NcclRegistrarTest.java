package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.PoolStats;
import dev.mlxarena.Scope;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A pool whose registrar is an NCCL communicator (R2 on real GPUs): every device buffer it takes
 * is registered with the communicator once, however often token scopes recycle it, all-reduces run
 * on the pooled buffers in place, and closing the pool deregisters everything before the
 * communicator closes.
 */
@RequiresCuda
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NcclRegistrarTest {

  @BeforeAll
  static void keepNvlinkMulticastOff() {
    NcclTesting.keepMulticastOff();
  }

  /** Tokens of scopes on {@code stream}, each all-reducing two pooled buffers; returns the last sums. */
  private static float[] tokens(BufferPool pool, NcclComm comm, CudaStream stream, int rank) {
    float[] out = new float[1024];
    for (int t = 0; t < 10; t++) {
      try (Scope token = pool.openScope(stream)) {
        Buffer x = token.alloc(4L * 1024, DType.F32, 1024);
        Buffer y = token.alloc(4L * 4096, DType.F32, 4096);
        x.copyFrom(NcclTest.ramp(1024, rank + 1));
        comm.allReduce(x, NcclOp.SUM, stream);
        comm.allReduce(y, NcclOp.SUM, stream);
        stream.synchronize();
        x.copyTo(out);
      }
    }
    return out;
  }

  @Test
  void aPoolRegistersEachDeviceBufferWithItsCommunicatorOnce() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu)) {
      NcclComm comm = NcclComm.initAll(List.of(gpu)).get(0);
      NcclRegistrar registrar = new NcclRegistrar(comm);
      BufferPool pool = BufferPool.create(gpu, PoolOptions.builder().registrar(registrar).build());
      assertArrayEquals(NcclTest.ramp(1024, 1), tokens(pool, comm, stream, 0));
      PoolStats st = pool.stats();
      assertEquals(2, st.freshAllocations(), "ten tokens, two buffers, recycled");
      assertEquals(2, st.registrations());
      assertEquals(2, comm.registrations(), "never registered again when recycled");
      assertEquals(2, registrar.size());
      assertEquals(0, st.registrarFailures());
      IllegalStateException busy = assertThrows(IllegalStateException.class, comm::close);
      assertTrue(busy.getMessage().contains("2 registered buffers"), busy.getMessage());
      pool.close();
      assertEquals(2, pool.stats().deregistrations());
      assertEquals(0, comm.liveRegistrations());
      comm.close();
    }
  }

  @Test
  void bufferNotOfTheCommunicatorsGpuIsRefused() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaDevice shared = CudaDevice.open(0, CudaStorage.SHARED)) {
      NcclComm comm = NcclComm.initAll(List.of(gpu)).get(0);
      NcclRegistrar registrar = new NcclRegistrar(comm);
      var raw = shared.allocate(4096);
      try {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> registrar.register(raw));
        assertTrue(e.getMessage().contains("not device memory"), e.getMessage());
      } finally {
        shared.free(raw);
      }
      comm.close();
    }
  }

  @Test
  @RequiresGpus(2)
  void twoRanksAllReducePooledBuffersRegisteredOnceEach() {
    List<CudaDevice> gpus = List.of(CudaDevice.open(0), CudaDevice.open(1));
    try {
      List<NcclComm> comms = NcclComm.initAll(gpus);
      List<float[]> sums = NcclTest.onEachRank(2, r -> {
        try (CudaStream stream = CudaStream.create(gpus.get(r))) {
          BufferPool pool = BufferPool.create(gpus.get(r),
              PoolOptions.builder().registrar(new NcclRegistrar(comms.get(r))).build());
          try {
            float[] out = tokens(pool, comms.get(r), stream, r);
            assertEquals(2, comms.get(r).registrations(), "rank " + r);
            return out;
          } finally {
            pool.close();
          }
        }
      });
      assertArrayEquals(NcclTest.ramp(1024, 3), sums.get(0));
      assertArrayEquals(NcclTest.ramp(1024, 3), sums.get(1));
      for (NcclComm c : comms) {
        assertEquals(0, c.liveRegistrations());
        c.close();
      }
    } finally {
      gpus.forEach(CudaDevice::close);
    }
  }
}
