package dev.mlxarena.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.Buffer;
import dev.mlxarena.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The NCCL binding on real GPUs: communicators made both ways, all-reduces in stream order on one
 * thread per rank, registration and its bookkeeping, and NCCL's refusals as exceptions. One GPU is
 * enough for a communicator of one rank; the collectives across ranks need two.
 */
@RequiresCuda
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NcclTest {

  @BeforeAll
  static void keepNvlinkMulticastOff() {
    NcclTesting.keepMulticastOff();
  }

  @Test
  void aOneRankCommunicatorReducesToItselfAndRegistersBuffersOnce() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu)) {
      System.out.println("NCCL " + Nccl.versionString() + " (" + Nccl.libraryPath() + ")");
      assertTrue(Nccl.version() >= 21900, "buffer registration needs NCCL 2.19 or later, this is " + Nccl.versionString());
      List<NcclComm> comms = NcclComm.initAll(List.of(gpu));
      NcclComm comm = comms.get(0);
      assertEquals(0, comm.rank());
      assertEquals(1, comm.size());
      assertEquals(gpu, comm.device());
      Buffer send = Buffer.allocOwned(gpu, 4L * 1000, DType.F32, 1000);
      Buffer recv = Buffer.allocOwned(gpu, 4L * 1000, DType.F32, 1000);
      float[] values = ramp(1000, 1f);
      send.copyFrom(values);
      NcclComm.Registration rs = comm.register(send.nativeHandle(), send.byteLength());
      NcclComm.Registration rr = comm.register(recv.nativeHandle(), recv.byteLength());
      assertEquals(2, comm.liveRegistrations());
      comm.allReduce(send.nativeHandle(), recv.nativeHandle(), 1000, DType.F32, NcclOp.SUM, stream);
      stream.synchronize();
      comm.checkAsyncError();
      float[] got = new float[1000];
      recv.copyTo(got);
      assertArrayEquals(values, got, "one rank's sum is its own values");

      IllegalStateException busy = assertThrows(IllegalStateException.class, comm::close);
      assertTrue(busy.getMessage().contains("2 registered buffers"), busy.getMessage());
      comm.deregister(rs);
      IllegalStateException twice = assertThrows(IllegalStateException.class, () -> comm.deregister(rs));
      assertTrue(twice.getMessage().contains("deregistered already"), twice.getMessage());
      comm.deregister(rr);
      assertEquals(0, comm.liveRegistrations());
      assertEquals(2, comm.registrations());
      comm.close();
      comm.close();
      send.close();
      recv.close();
    }
  }

  @Test
  void nccsRefusalsNameTheCallTheResultAndWhatWasAsked() {
    try (CudaDevice gpu = CudaDevice.open(0);
        CudaStream stream = CudaStream.create(gpu);
        CudaStream other = CudaStream.create(gpu)) {
      NcclComm comm = NcclComm.initRanks(List.of(gpu), Nccl.uniqueId()).get(0);
      try (Buffer b = Buffer.allocOwned(gpu, 64, DType.F32, 16)) {
        NcclException e = assertThrows(NcclException.class,
            () -> comm.allReduce(b.nativeHandle(), b.nativeHandle(), 16, 99, NcclOp.SUM.code, stream, "type 99"));
        assertEquals("ncclAllReduce", e.getCall());
        assertEquals(4, e.getResult());
        assertTrue(e.getMessage().startsWith("ncclAllReduce failed: ncclInvalidArgument (4): "), e.getMessage());
        assertTrue(e.getMessage().endsWith("[16 elements of type 99 on rank 0 of 1]"), e.getMessage());
        assertTrue(!Nccl.errorString(4).isBlank());
        comm.allReduce(b, NcclOp.MAX, other);
        other.synchronize();
      } finally {
        comm.close();
      }
      IllegalStateException closed = assertThrows(IllegalStateException.class,
          () -> comm.register(1L << 40, 64));
      assertTrue(closed.getMessage().contains("is closed"), closed.getMessage());
      IllegalArgumentException dup = assertThrows(IllegalArgumentException.class,
          () -> NcclComm.initAll(List.of(gpu, gpu)));
      assertTrue(dup.getMessage().contains("appears twice"), dup.getMessage());
    }
  }

  /** Runs {@code perRank} on one thread per rank, as collectives across ranks need, and waits for all. */
  static <T> List<T> onEachRank(int ranks, IntFunction<T> perRank) {
    List<CompletableFuture<T>> futures = new ArrayList<>();
    for (int r = 0; r < ranks; r++) {
      int rank = r;
      futures.add(CompletableFuture.supplyAsync(() -> perRank.apply(rank), command -> {
        Thread t = new Thread(command, "nccl-rank-" + rank);
        t.setDaemon(true);
        t.start();
      }));
    }
    return futures.stream().map(CompletableFuture::join).toList();
  }

  @Test
  @RequiresGpus(2)
  void twoRanksSumInF32AndBf16OnOneThreadEachWithRegisteredBuffersBothWays() {
    List<CudaDevice> gpus = List.of(CudaDevice.open(0), CudaDevice.open(1));
    try {
      for (boolean byRank : new boolean[] {false, true}) {
        List<NcclComm> comms = byRank ? NcclComm.initRanks(gpus, Nccl.uniqueId()) : NcclComm.initAll(gpus);
        List<float[]> sums = onEachRank(2, r -> {
          NcclComm comm = comms.get(r);
          assertEquals(r, comm.rank());
          assertEquals(2, comm.size());
          CudaDevice gpu = gpus.get(r);
          try (CudaStream stream = CudaStream.create(gpu);
              Buffer f32 = Buffer.allocOwned(gpu, 4L * 4096, DType.F32, 4096);
              Buffer bf16 = Buffer.allocOwned(gpu, 2L * 4096, DType.BF16, 4096)) {
            f32.copyFrom(ramp(4096, r + 1));
            short[] bits = new short[4096];
            for (int i = 0; i < bits.length; i++) {
              bits[i] = (short) (Float.floatToRawIntBits((r + 1) * (i % 64)) >>> 16);
            }
            bf16.copyFrom(bits);
            NcclComm.Registration reg = comm.register(f32.nativeHandle(), f32.byteLength());
            comm.allReduce(f32, NcclOp.SUM, stream);
            comm.allReduce(bf16, NcclOp.SUM, stream);
            stream.synchronize();
            comm.deregister(reg);
            float[] out = new float[4096];
            f32.copyTo(out);
            bf16.copyTo(bits);
            for (int i = 0; i < bits.length; i++) {
              assertEquals(3f * (i % 64), Float.intBitsToFloat((bits[i] & 0xffff) << 16), "bf16 element " + i);
            }
            return out;
          }
        });
        float[] expected = ramp(4096, 3);
        assertArrayEquals(expected, sums.get(0), "rank 0: rank 0's values plus rank 1's");
        assertArrayEquals(expected, sums.get(1), "rank 1");
        for (NcclComm c : comms) {
          assertEquals(0, c.liveRegistrations());
          c.close();
        }
      }
    } finally {
      gpus.forEach(CudaDevice::close);
    }
  }

  @Test
  @RequiresGpus(2)
  void anAbortEndsACollectiveWhoseOtherRankNeverCame() {
    List<CudaDevice> gpus = List.of(CudaDevice.open(0), CudaDevice.open(1));
    CudaStream stream = CudaStream.create(gpus.get(0));
    Buffer b = Buffer.allocOwned(gpus.get(0), 4L * 1024, DType.F32, 1024);
    List<NcclComm> comms = NcclComm.initAll(gpus);
    // Rank 1 never joins. NCCL enqueues rank 0's part and returns; the GPU waits for rank 1.
    CompletableFuture<Void> alone = CompletableFuture.runAsync(() -> comms.get(0).allReduce(b, NcclOp.SUM, stream),
        command -> new Thread(command, "nccl-rank-0-alone").start());
    comms.forEach(NcclComm::abort);
    // Whatever the enqueue said, the abort ended the wait: the stream gets past it.
    alone.handle((ok, failure) -> null).join();
    CudaFence passed = stream.recordFence();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!passed.isComplete()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the stream is still waiting for rank 1 a minute after the abort");
      }
      Thread.onSpinWait();
    }
    passed.close();
    comms.forEach(NcclComm::close);
    b.close();
    stream.close();
    gpus.forEach(CudaDevice::close);
  }

  /** {@code scale * (i % 97)} for i < n: exact in F32 for the sums these tests take. */
  static float[] ramp(int n, float scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = scale * (i % 97);
    }
    return v;
  }
}
