package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.testing.TestDevice;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * No sequence of public calls reads or writes memory that went back to the device, on one thread
 * or across threads. The buffers here are 64 MiB, above glibc's largest mmap threshold, so their
 * free unmaps the pages: an access after the free is a SIGSEGV that ends the test JVM, not a
 * corruption that might pass unnoticed. Nothing waits on time: threads hand over through counters
 * and joins, collections run until their condition holds, and the class's timeout guards a hang.
 */
@Timeout(120)
class MemorySafetyTest {
  private static final long BIG = 64L << 20;
  private static final int ROUNDS = 12;

  private final TestDevice device = TestDevice.countingHost();

  private static void awaitGc(BooleanSupplier done) {
    while (!done.getAsBoolean()) {
      System.gc();
      Thread.yield();
    }
  }

  /** Writes and reads F32 elements spread over the whole buffer, until an access throws. */
  private static void writeAndReadAcross(Buffer b) {
    long n = b.elementCount();
    for (long i = 0; i < n; i += 4099) {
      b.putF32(i, i);
      if (b.getF32(i) != i) {
        throw new AssertionError("element " + i + " lost its value");
      }
    }
  }

  @Test
  void aPoolClosedWhileAnotherThreadAllocatesAndWritesGivesNothingBackUnderIt() throws Exception {
    for (int round = 0; round < ROUNDS; round++) {
      BufferPool pool = BufferPool.create(device, PoolOptions.builder().leakDetection(LeakDetection.DISABLED).build());
      AtomicInteger cycles = new AtomicInteger();
      CompletableFuture<Throwable> worker = CompletableFuture.supplyAsync(() -> {
        try {
          while (true) {
            try (Scope token = pool.openScope()) {
              Buffer big = token.alloc(BIG, DType.F32);
              for (int pass = 0; pass < 8; pass++) { // most of the time in accesses: the close lands in one
                writeAndReadAcross(big);
              }
              writeAndReadAcross(token.alloc(4096, DType.F32));
            }
            cycles.incrementAndGet();
          }
        } catch (IllegalStateException expected) {
          // The close won the race: the pool is closed, the handle stale or the scope closed.
          return expected;
        }
      });
      while (cycles.get() < 1 + round % 3) {
        Thread.yield();
      }
      pool.close();
      Throwable seen = worker.get();
      assertFalse(seen instanceof AssertionError, () -> "a live buffer lost its value: " + seen);
      assertEquals(0, device.liveAllocations(), "once the worker stopped, everything went back");
    }
  }

  @Test
  void anOwnedBufferClosedWhileAnotherThreadReadsItGoesBackAfterTheRead() throws Exception {
    for (int round = 0; round < ROUNDS; round++) {
      Buffer owned = Buffer.allocOwned(device, BIG, DType.F32);
      AtomicInteger passes = new AtomicInteger();
      CompletableFuture<StaleBufferException> reader = CompletableFuture.supplyAsync(() -> {
        try {
          while (true) {
            writeAndReadAcross(owned);
            passes.incrementAndGet();
          }
        } catch (StaleBufferException expected) {
          return expected;
        }
      });
      while (passes.get() < 1) {
        Thread.yield();
      }
      owned.close();
      reader.get();
      assertEquals(0, device.liveAllocations());
    }
  }

  @Test
  void aViewOutlivesItsPoolWithoutReachingFreedMemory() {
    BufferPool pool = BufferPool.create(device);
    Buffer b = pool.alloc(BIG, DType.F32);
    FloatBuffer view = b.asByteBuffer().asFloatBuffer(); // a buffer made from the view
    view.put(0, 1.5f);
    view.put(view.limit() - 1, 2.5f);
    pool.close();
    assertFalse(b.isValid());
    assertThrows(StaleBufferException.class, () -> b.getF32(0));
    assertEquals(1.5f, view.get(0), "the memory is still there: the view holds it");
    assertEquals(2.5f, view.get(view.limit() - 1));
    assertEquals(1, device.liveAllocations(), "held by the view alone");
    view = null;
    awaitGc(() -> device.liveAllocations() == 0);
  }

  @Test
  void anAccessInFlightWhenThePoolClosesFreesTheMemoryWhenItEnds() {
    BufferPool pool = BufferPool.create(device);
    Buffer b = pool.alloc(4096, DType.F32);
    Block block = b.block;
    block.pin(); // what an access on another thread holds while it runs
    pool.close();
    assertEquals(1, device.liveAllocations(), "not freed under the access");
    assertThrows(StaleBufferException.class, () -> b.putF32(0, 1f), "a later access is refused");
    block.unpin();
    assertEquals(0, device.liveAllocations(), "the last access out freed it");
    assertThrows(StaleBufferException.class, block::pin);
  }

  @Test
  void viewsHoldTheirMemoryUntilUnreachableThenTheMemoryGoesBack() {
    Buffer owned = Buffer.allocOwned(device, 4096, DType.U8);
    ByteBuffer view = owned.asByteBuffer(1024, 16);
    owned.close();
    assertThrows(StaleBufferException.class, owned::asByteBuffer);
    view.put(15, (byte) 7);
    assertEquals(7, view.get(15));
    assertEquals(1, device.liveAllocations());
    view = null;
    awaitGc(() -> device.liveAllocations() == 0);
  }

  @Test
  void aViewThatCannotBeMadeHoldsNothing() {
    try (Buffer owned = Buffer.allocOwned(device, 64, DType.U8)) {
      assertThrows(IndexOutOfBoundsException.class, () -> owned.asByteBuffer(60, 8));
    }
    assertEquals(0, device.liveAllocations(), "no pin was left behind");
    assertTrue(device.frees() > 0);
  }
}
