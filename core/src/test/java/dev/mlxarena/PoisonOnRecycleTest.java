package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.DeviceStream;
import dev.mlxarena.testing.TestDevice;
import dev.mlxarena.testing.TestStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link PoolOptions#isPoisonOnRecycle()}: every block returning to a free list is filled with
 * {@link PoolOptions#POISON} over its whole capacity, in the hand-back's stream order, before
 * anyone else may take it; fresh memory is still zero; off by default.
 */
@ExtendWith(PoolInvariants.class)
class PoisonOnRecycleTest {
  private final TestDevice device = TestDevice.withResidency();
  private BufferPool pool = BufferPool.create(device, PoolOptions.builder().poisonOnRecycle(true).build());

  /** One fill the device was asked for, and how many fences the stream had recorded by then. */
  record Fill(DeviceBuffer raw, long length, DeviceStream stream, int fencesBefore) {}

  private static void write(Buffer b, byte value) {
    ByteBuffer bytes = ByteBuffer.allocateDirect((int) b.capacity());
    while (bytes.hasRemaining()) {
      bytes.put(value);
    }
    b.device().write(b.deviceBuffer(), 0, bytes.flip());
  }

  private static byte[] contents(DeviceBuffer raw, TestDevice device) {
    ByteBuffer bytes = ByteBuffer.allocateDirect((int) raw.capacity());
    device.read(raw, 0, bytes);
    byte[] out = new byte[(int) raw.capacity()];
    bytes.flip().get(out);
    return out;
  }

  private void assertPoisoned(DeviceBuffer raw) {
    byte[] pattern = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(PoolOptions.POISON).array();
    byte[] got = contents(raw, device);
    for (int i = 0; i < got.length; i++) {
      if (got[i] != pattern[i & 3]) {
        throw new AssertionError("byte " + i + " of " + got.length + " is " + got[i] + ", not poison");
      }
    }
  }

  private void assertAll(DeviceBuffer raw, byte value) {
    for (byte b : contents(raw, device)) {
      assertEquals(value, b);
    }
  }

  @Test
  void aPoisonedF32ReadsNaN() {
    Buffer b = pool.alloc(4096, DType.F32);
    DeviceBuffer raw = b.deviceBuffer();
    pool.release(b);
    Buffer again = pool.alloc(4096, DType.F32);
    assertSame(raw, again.deviceBuffer());
    assertTrue(Float.isNaN(again.getF32(0)));
    assertTrue(Float.isNaN(again.getF32(1023)));
  }

  @Test
  void aScopesCloseAReleaseAHandleCloseAndAResetPoisonTheWholeCapacity() {
    Scope s = pool.openScope();
    Buffer inScope = s.alloc(3000, DType.U8); // capacity 4096: the fill covers all of it
    write(inScope, (byte) 0x11);
    DeviceBuffer scoped = inScope.deviceBuffer();
    s.close();
    assertPoisoned(scoped);
    Buffer released = pool.alloc(100, DType.U8);
    DeviceBuffer releasedRaw = released.deviceBuffer();
    write(released, (byte) 0x22);
    pool.release(released);
    assertPoisoned(releasedRaw);
    Buffer closed = pool.alloc(6, DType.U8); // an 8-byte bucket...
    DeviceBuffer closedRaw = closed.deviceBuffer();
    write(closed, (byte) 0x33);
    closed.close();
    assertPoisoned(closedRaw);
    Buffer odd = pool.alloc(2, DType.U8); // ...and a 2-byte one: no whole pattern
    DeviceBuffer oddRaw = odd.deviceBuffer();
    write(odd, (byte) 0x44);
    pool.reset();
    assertPoisoned(oddRaw);
    assertEquals(0, pool.stats().deferredCount());
  }

  @Test
  void freshMemoryIsStillZero() {
    Buffer b = pool.alloc(4096, DType.U8);
    assertAll(b.deviceBuffer(), (byte) 0);
  }

  @Test
  void offByDefaultAReusedBufferKeepsItsBytes() {
    pool = BufferPool.create(device);
    Buffer b = pool.alloc(64, DType.U8);
    write(b, (byte) 0x55);
    pool.release(b);
    assertAll(pool.alloc(64, DType.U8).deviceBuffer(), (byte) 0x55);
  }

  @Test
  void behindAFenceThePoisonWaitsForTheFence() {
    CompletableFuture<Void> kernel = new CompletableFuture<>();
    Scope s = pool.openScope();
    Buffer b = s.alloc(4096, DType.U8);
    DeviceBuffer raw = b.deviceBuffer();
    write(b, (byte) 0x66);
    s.closeAfter(Fence.of(kernel));
    assertAll(raw, (byte) 0x66); // the device may still read it: untouched
    kernel.complete(null);
    pool.trim(Long.MAX_VALUE); // collects the fence
    assertPoisoned(raw);
    assertEquals(1, pool.freeCount(4096));
  }

  @Test
  void onAStreamTheFillIsEnqueuedOnItBeforeTheFenceThatFreesTheBuffersForOthers() {
    TestStream a = new TestStream(device, "A");
    List<Fill> fills = new ArrayList<>();
    device.onFill((raw, offset, length, pattern, stream) -> {
      assertEquals(PoolOptions.POISON, pattern);
      assertEquals(0, offset);
      fills.add(new Fill(raw, length, stream, a.recorded().size()));
    });
    Scope s = pool.openScope(a);
    DeviceBuffer x = s.alloc(4096, DType.U8).deviceBuffer();
    Buffer y = s.alloc(100, DType.U8);
    DeviceBuffer yRaw = y.deviceBuffer();
    y.close(); // one buffer on its own: filled on A, then its fence
    s.close(); // the rest: filled on A, then the scope's fence
    assertEquals(List.of(new Fill(yRaw, 128, a, 0), new Fill(x, 4096, a, 1)), fills);
    assertEquals(2, a.recorded().size());
    assertPoisoned(x);
    device.onFill(null);
    pool.close();
    assertEquals(List.of(), a.violations());
    assertEquals(0, a.openFences());
  }

  @Test
  void aFailedFillStillFilesTheBufferAndReportsOnce() {
    Buffer b = pool.alloc(64, DType.U8);
    device.onFill((raw, offset, length, pattern, stream) -> {
      throw new IllegalStateException("fill failed");
    });
    try {
      pool.release(b);
      throw new AssertionError("the failed fill was not reported");
    } catch (IllegalStateException expected) {
      assertEquals("fill failed", expected.getMessage());
    }
    device.onFill(null);
    assertFalse(b.isValid());
    assertEquals(1, pool.freeCount(64), "filed, unpoisoned");
  }
}
