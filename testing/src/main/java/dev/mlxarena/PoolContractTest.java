package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.testing.DeviceHarness;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.function.Executable;

/**
 * The pool's contract, written once and run against every device (one thin subclass each). After
 * every test, {@link PoolInvariants} checks the pool's invariants, closes it and checks that no
 * device allocation leaked.
 */
@ExtendWith(PoolInvariants.class)
@Timeout(60)
public abstract class PoolContractTest {
  protected DeviceHarness harness;
  protected BufferPool pool;

  /** A fresh harness (and device) for one test. */
  protected abstract DeviceHarness newHarness();

  @BeforeEach
  void createPool() {
    harness = newHarness();
    pool = BufferPool.create(harness.device());
  }

  // ------------------------------------------------------------------ mlx-native parity

  @Test
  void arenaResetRecyclesTheSameMemory() {
    Buffer a = pool.alloc(1024, DType.F32);
    long handle = a.nativeHandle();
    assertEquals(1, pool.inUseCount());
    assertEquals(0, pool.freeCount());
    pool.reset();
    assertEquals(0, pool.inUseCount());
    assertEquals(1, pool.freeCount());
    Buffer b = pool.alloc(1024, DType.F32);
    assertEquals(handle, b.nativeHandle(), "reset must recycle the same device buffer");
    assertEquals(1, pool.stats().freshAllocations());
    assertEquals(1, pool.stats().reuseHits());
  }

  @Test
  void resetWithNoAllocationIsANoOp() {
    pool.reset();
    pool.reset();
    assertEquals(0, pool.freeCount());
    assertEquals(0, pool.inUseCount());
    assertEquals(0, pool.stats().heldCount());
  }

  @Test
  void requestsAreRoundedUpToTheirPowerOfTwoBucket() {
    Buffer a = pool.alloc(1000, DType.U8);
    assertEquals(1024, a.capacity());
    assertEquals(1000, a.byteLength());
    Buffer one = pool.alloc(1, DType.U8);
    assertEquals(1, one.capacity());
    pool.reset();
    assertEquals(1, pool.freeCount(600));
    assertEquals(1024, pool.freeBytes() - 1);
  }

  @Test
  void differentBucketsNeverShareAFreeList() {
    Buffer small = pool.alloc(100, DType.U8);
    long smallHandle = small.nativeHandle();
    small.close();
    Buffer large = pool.alloc(1000, DType.U8);
    assertNotEquals(smallHandle, large.nativeHandle());
    assertEquals(1, pool.freeCount());
  }

  @Test
  void releaseReturnsOneBufferToItsFreeList() {
    Buffer a = pool.alloc(4096, DType.U8);
    Buffer keep = pool.alloc(4096, DType.U8);
    long handle = a.nativeHandle();
    pool.release(a);
    assertEquals(1, pool.freeCount());
    assertEquals(1, pool.inUseCount());
    assertEquals(handle, pool.alloc(4000, DType.U8).nativeHandle());
    assertTrue(keep.isValid());
  }

  @Test
  void registerExistingIsNotRecycledByResetAndSurvivesPoolClose() {
    Buffer weights = Buffer.allocOwned(harness.device(), 3000, DType.F32);
    try {
      weights.sliceView(28, 1).copyFrom(new float[] {1.5f});
      pool.registerExisting(weights);
      assertTrue(pool.isRegistered(weights));
      pool.reset();
      assertEquals(0, pool.freeCount(), "a registered buffer must never enter a free list");
      assertEquals(1.5f, f32At(weights, 7));
      pool.close();
      assertTrue(weights.isValid(), "a registered buffer belongs to its owner, not the pool");
      assertEquals(1.5f, f32At(weights, 7));
      assertEquals(3000, weights.capacity(), "owned buffers are exact-size");
    } finally {
      weights.close();
    }
  }

  @Test
  void registeringTwiceIsIdempotent() {
    try (Buffer weights = Buffer.allocOwned(harness.device(), 64, DType.U8)) {
      pool.registerExisting(weights);
      PoolStats before = pool.stats();
      pool.registerExisting(weights);
      assertEquals(before, pool.stats());
    }
  }

  // ------------------------------------------------------------------ stale handles (A3)

  private static void assertStale(Buffer b) {
    assertFalse(b.isValid());
    List<Executable> uses =
        List.of(
            b::dtype,
            b::shape,
            b::byteLength,
            b::capacity,
            b::byteOffset,
            b::isPooled,
            b::isView,
            b::device,
            b::deviceBuffer,
            b::isHostVisible,
            b::elementCount,
            b::nativeHandle,
            b::asByteBuffer,
            () -> b.copyTo(new byte[1]),
            () -> b.copyFrom(new byte[1]),
            () -> b.sliceView(0, 1),
            () -> b.getU8(0));
    for (Executable use : uses) {
      assertThrows(StaleBufferException.class, use);
    }
    assertDoesNotThrow(b::close, "closing a stale handle is harmless");
    assertTrue(b.toString().contains("stale"));
  }

  @Test
  void handleIsStaleAfterRelease() {
    Buffer a = pool.alloc(64, DType.U8);
    pool.release(a);
    assertStale(a);
    assertThrows(StaleBufferException.class, () -> pool.release(a));
  }

  @Test
  void handleIsStaleAfterItsScopeCloses() {
    Buffer a;
    try (Scope s = pool.openScope()) {
      a = s.alloc(64, DType.U8);
    }
    assertStale(a);
  }

  @Test
  void handleIsStaleAfterReset() {
    Buffer a = pool.alloc(64, DType.U8);
    pool.reset();
    assertStale(a);
  }

  @Test
  void handleIsStaleAfterPoolClose() {
    Scope s = pool.openScope();
    Buffer a = s.alloc(64, DType.U8);
    Buffer b = pool.alloc(64, DType.U8);
    pool.close();
    assertStale(a);
    assertStale(b);
    assertFalse(s.isOpen(), "closing the pool closes its open scopes");
    assertDoesNotThrow(s::close);
  }

  @Test
  void handleIsStaleAfterItsOwnClose() {
    Buffer a = pool.alloc(64, DType.U8);
    a.close();
    assertStale(a);
    assertEquals(1, pool.freeCount());
    a.close();
    assertEquals(1, pool.freeCount(), "a second close must not free twice");
  }

  @Test
  void ownedHandleIsStaleAfterClose() {
    Buffer owned = Buffer.allocOwned(harness.device(), 64, DType.U8);
    owned.close();
    assertStale(owned);
  }

  @Test
  void viewsDieWithTheirBuffer() {
    Buffer a = pool.alloc(64, DType.F32);
    Buffer v = a.sliceView(16, 4);
    v.copyFrom(new float[] {2f});
    assertEquals(2f, f32At(a, 4));
    v.close();
    assertTrue(a.isValid(), "closing a view leaves its buffer alone");
    pool.release(a);
    assertStale(v);
  }

  @Test
  void handlesIssuedLaterAreUnaffected() {
    Buffer a = pool.alloc(64, DType.U8);
    pool.release(a);
    Buffer b = pool.alloc(64, DType.U8);
    assertEquals(a.block, b.block, "same device buffer, reissued");
    assertTrue(b.isValid());
    assertFalse(a.isValid());
    b.copyFrom(new byte[] {9});
    byte[] back = new byte[1];
    b.copyTo(back);
    assertEquals(9, back[0]);
  }

  @Test
  void staleHandleMessageSaysWhatHappened() {
    Buffer a;
    try (Scope s = pool.openScope()) {
      a = s.alloc(64, DType.U8);
    }
    StaleBufferException e = assertThrows(StaleBufferException.class, a::byteLength);
    assertTrue(e.getMessage().contains("scope was closed"), e.getMessage());
  }

  // ------------------------------------------------------------------ mixing (A2, A4)

  @Test
  void releaseThenResetNeverPutsABufferInTwoPlaces() {
    Buffer a = pool.alloc(256, DType.U8);
    pool.release(a);
    pool.reset();
    assertEquals(1, pool.freeCount(), "mlx-native would list this buffer twice here");
    Buffer x = pool.alloc(256, DType.U8);
    Buffer y = pool.alloc(256, DType.U8);
    assertNotEquals(x.nativeHandle(), y.nativeHandle(), "two live buffers must not alias");
  }

  @Test
  void releaseReallocThenResetRecyclesOnce() {
    Buffer a = pool.alloc(256, DType.U8);
    pool.release(a);
    Buffer b = pool.alloc(256, DType.U8);
    assertSame(a.block, b.block);
    pool.reset();
    assertEquals(1, pool.freeCount());
    assertEquals(0, pool.inUseCount());
  }

  @Test
  void scopeCloseSkipsBuffersReleasedAndReissuedElsewhere() {
    Scope first = pool.openScope();
    Buffer a = first.alloc(512, DType.U8);
    a.close();
    try (Scope second = pool.openScope()) {
      Buffer b = second.alloc(512, DType.U8);
      assertSame(a.block, b.block);
      first.close();
      assertTrue(b.isValid(), "closing the first scope must not recycle the second's buffer");
      assertEquals(0, pool.freeCount());
    }
    assertEquals(1, pool.freeCount());
  }

  @Test
  void aTokenThatAsksInAnotherOrderStillReusesThePreviousTokensBuffers() {
    long[] sizes = {100, 1000, 5000, 100, 64};
    try (Scope first = pool.openScope()) {
      for (long n : sizes) {
        first.alloc(n, DType.U8);
      }
    }
    long fresh = pool.stats().freshAllocations();
    long locked = pool.stats().lockedAllocations();
    Set<Long> handles = new HashSet<>();
    try (Scope second = pool.openScope()) {
      for (int i = sizes.length - 1; i >= 0; i--) { // the reverse order: the replay leaves the tape
        assertTrue(handles.add(second.alloc(sizes[i], DType.U8).nativeHandle()), "aliasing");
        if (i == sizes.length - 1) {
          assertEquals(2, pool.freeCount(100), "the reserve still counts what it has of a bucket");
          assertEquals(1, pool.freeCount(5000));
        }
      }
      assertEquals(fresh, pool.stats().freshAllocations(), "every request reused a buffer");
      assertEquals(locked, pool.stats().lockedAllocations(), "every request came from the reserve");
    }
    try (Scope third = pool.openScope()) {
      third.alloc(5000, DType.U8); // out of order at once, then the rest
      for (long n : sizes) {
        if (n != 5000) {
          third.alloc(n, DType.U8);
        }
      }
      assertEquals(fresh, pool.stats().freshAllocations());
      assertEquals(locked, pool.stats().lockedAllocations());
    }
  }

  @Test
  void theDefaultScopeReusesBuffersParkedByAClosedScope() {
    try (Scope s = pool.openScope()) {
      s.alloc(100, DType.U8);
      s.alloc(5000, DType.U8);
    }
    Buffer b = pool.alloc(5000, DType.U8);
    assertEquals(2, pool.stats().freshAllocations(), "taken from the parked reserve");
    assertEquals(1, pool.freeCount());
    try (Scope s = pool.openScope()) {
      Buffer c = s.alloc(100, DType.U8);
      assertNotEquals(b.nativeHandle(), c.nativeHandle());
      assertEquals(2, pool.stats().freshAllocations());
    }
  }

  @Test
  void scopesAreIndependent() {
    Scope a = pool.openScope();
    Scope b = pool.openScope();
    Buffer x = a.alloc(128, DType.U8);
    Buffer y = b.alloc(128, DType.U8);
    a.close();
    assertFalse(x.isValid());
    assertTrue(y.isValid());
    b.close();
    a.close();
    assertEquals(2, pool.freeCount());
  }

  @Test
  void resetLeavesOtherScopesAlone() {
    try (Scope s = pool.openScope()) {
      Buffer x = s.alloc(128, DType.U8);
      pool.alloc(128, DType.U8);
      pool.reset();
      assertTrue(x.isValid());
      assertEquals(1, pool.freeCount());
    }
  }

  // ------------------------------------------------------------------ zero-init (Z1)

  @Test
  void freshAllocationsReadZeroOverTheirWholeCapacity() {
    Buffer a = pool.alloc(3000, DType.U8);
    assertAllBytes(a, 0, a.capacity(), (byte) 0);
    fill(a, (byte) 0x5c);
    pool.release(a);
    Buffer reused = pool.alloc(2048 + 1, DType.U8);
    assertSame(a.block, reused.block);
    assertAllBytes(reused, 0, reused.capacity(), (byte) 0x5c);
    Buffer other = pool.alloc(5000, DType.U8);
    assertAllBytes(other, 0, other.capacity(), (byte) 0);
  }

  @Test
  void ownedBuffersAreZeroFilled() {
    try (Buffer owned = Buffer.allocOwned(harness.device(), 777, DType.U8)) {
      assertAllBytes(owned, 0, 777, (byte) 0);
    }
  }

  /** Element {@code i} of an F32 buffer, read with a bulk copy (works on every storage). */
  static float f32At(Buffer b, long i) {
    float[] one = new float[1];
    b.sliceView(i * 4, 1).copyTo(one);
    return one[0];
  }

  /** Fills the whole capacity through the device (works on device-private memory too). */
  private static void fill(Buffer b, byte value) {
    ByteBuffer bb = ByteBuffer.allocateDirect((int) b.capacity());
    while (bb.hasRemaining()) {
      bb.put(value);
    }
    bb.flip();
    b.device().write(b.deviceBuffer(), b.byteOffset(), bb);
  }

  /** Checks bytes {@code [from, to)} of the device buffer behind {@code b}, past its length too. */
  static void assertAllBytes(Buffer b, long from, long to, byte expected) {
    byte[] bytes = new byte[(int) (to - from)];
    ByteBuffer bb = ByteBuffer.allocateDirect(bytes.length);
    b.device().read(b.deviceBuffer(), b.byteOffset() + from, bb);
    bb.flip().get(bytes);
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] != expected) {
        throw new AssertionError("byte " + (from + i) + " is " + bytes[i] + ", expected " + expected);
      }
    }
  }

  // ------------------------------------------------------------------ bad input (unchanged pool)

  private void assertRejectedUnchanged(Class<? extends Throwable> type, Executable call, String... words) {
    PoolStats before = pool.stats();
    Throwable e = assertThrows(type, call);
    for (String w : words) {
      assertTrue(e.getMessage().contains(w), () -> "message lacks '" + w + "': " + e.getMessage());
    }
    assertEquals(before, pool.stats(), "a refused call must leave the pool as it was");
  }

  @Test
  void nonPositiveSizesAreRejected() {
    pool.alloc(64, DType.U8);
    assertRejectedUnchanged(IllegalArgumentException.class, () -> pool.alloc(0, DType.F32), "0 bytes");
    assertRejectedUnchanged(IllegalArgumentException.class, () -> pool.alloc(-5, DType.F32), "-5 bytes");
    assertRejectedUnchanged(
        IllegalArgumentException.class, () -> Buffer.allocOwned(harness.device(), 0, DType.U8), "0 bytes");
  }

  @Test
  void shapesThatNeedMoreBytesThanRequestedAreRejected() {
    assertRejectedUnchanged(
        IllegalArgumentException.class,
        () -> pool.alloc(4096, DType.F32, 2048),
        "requested 4096 bytes of F32 for shape [2048]: needs 8192 bytes");
    assertRejectedUnchanged(
        IllegalArgumentException.class, () -> pool.alloc(64, DType.F32, 4, -1), "negative");
    assertRejectedUnchanged(
        IllegalArgumentException.class,
        () -> pool.alloc(64, DType.F64, Long.MAX_VALUE, 4),
        "needs more than");
  }

  @Test
  void oversizedRequestsAreRejected() {
    assertRejectedUnchanged(
        IllegalArgumentException.class, () -> pool.alloc(Long.MAX_VALUE, DType.U8), "power-of-two");
  }

  @Test
  void nullArgumentsAreRejected() {
    assertRejectedUnchanged(NullPointerException.class, () -> pool.alloc(64, null), "dtype");
    assertRejectedUnchanged(NullPointerException.class, () -> pool.alloc(64, DType.U8, (long[]) null), "shape");
    assertRejectedUnchanged(NullPointerException.class, () -> pool.release(null), "buffer");
    assertRejectedUnchanged(NullPointerException.class, () -> pool.registerExisting(null), "buffer");
    assertRejectedUnchanged(NullPointerException.class, () -> pool.allocBatch(null), "requests");
  }

  @Test
  void buffersOfAnotherPoolOrKindAreRejected() {
    try (BufferPool other = BufferPool.create(harness.device());
        Buffer owned = Buffer.allocOwned(harness.device(), 64, DType.U8)) {
      Buffer foreign = other.alloc(64, DType.U8);
      assertRejectedUnchanged(IllegalArgumentException.class, () -> pool.release(foreign), "another pool");
      assertRejectedUnchanged(IllegalArgumentException.class, () -> pool.release(owned), "owned");
      Buffer mine = pool.alloc(64, DType.U8);
      assertRejectedUnchanged(IllegalArgumentException.class, () -> pool.release(mine.sliceView(0, 1)), "view");
      assertRejectedUnchanged(IllegalArgumentException.class, () -> pool.registerExisting(mine), "pooled");
      assertRejectedUnchanged(
          IllegalArgumentException.class, () -> pool.registerExisting(owned.sliceView(0, 2)), "view");
    }
  }

  @Test
  void buffersOfAnotherDeviceCannotBeRegistered() {
    DeviceHarness second = newHarness();
    Buffer alien = Buffer.allocOwned(second.device(), 64, DType.U8);
    try {
      assertRejectedUnchanged(IllegalArgumentException.class, () -> pool.registerExisting(alien), "device");
    } finally {
      alien.close();
    }
  }

  @Test
  void staleBuffersCannotBeRegistered() {
    Buffer owned = Buffer.allocOwned(harness.device(), 64, DType.U8);
    owned.close();
    assertRejectedUnchanged(StaleBufferException.class, () -> pool.registerExisting(owned), "stale");
  }

  @Test
  void everyCallOnAClosedPoolFailsClearly() {
    Buffer owned = Buffer.allocOwned(harness.device(), 64, DType.U8);
    try {
      pool.close();
      for (Executable call :
          List.<Executable>of(
              () -> pool.alloc(64, DType.U8),
              () -> pool.allocBatch(List.of(new AllocRequest(8, DType.U8))),
              pool::openScope,
              pool::reset,
              pool::clear,
              () -> pool.registerExisting(owned))) {
        PoolClosedException e = assertThrows(PoolClosedException.class, call);
        assertTrue(e.getMessage().contains("closed"));
      }
      assertDoesNotThrow(pool::close, "close is idempotent");
    } finally {
      owned.close();
    }
  }

  @Test
  void aScopeWhoseReserveCouldStillServeRefusesAllocationsOnceThePoolClosed() {
    try (Scope first = pool.openScope()) {
      first.alloc(64, DType.U8);
    }
    Scope second = pool.openScope(); // adopts the first one's reserve: its allocations take no lock
    pool.close();
    assertThrows(PoolClosedException.class, () -> second.alloc(64, DType.U8));
    assertDoesNotThrow(second::close);
  }

  @Test
  void aClosedScopeRefusesAllocations() {
    Scope s = pool.openScope();
    s.close();
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.alloc(8, DType.U8));
    assertTrue(e.getMessage().contains("closed scope"));
    assertDoesNotThrow(s::close);
  }

  // ------------------------------------------------------------------ batches

  @Test
  void batchAllocatesEveryRequestInOrder() {
    List<Buffer> bs =
        pool.allocBatch(
            List.of(
                new AllocRequest(100, DType.U8),
                new AllocRequest(4096, DType.F32, 32, 32),
                new AllocRequest(8, DType.I64)));
    assertEquals(3, bs.size());
    assertEquals(128, bs.get(0).capacity());
    assertArrayEquals(new long[] {32, 32}, bs.get(1).shape());
    assertEquals(DType.I64, bs.get(2).dtype());
    assertEquals(3, pool.inUseCount());
  }

  @Test
  void batchWithABadRequestAllocatesNothing() {
    assertRejectedUnchanged(
        IllegalArgumentException.class,
        () -> pool.allocBatch(List.of(new AllocRequest(64, DType.U8), new AllocRequest(0, DType.U8))),
        "requests[1]");
  }

  // ------------------------------------------------------------------ owned buffers

  @Test
  void ownedBuffersAreExactSizeAndOutsideThePool() {
    try (Buffer owned = Buffer.allocOwned(harness.device(), 1000, DType.F32, 10, 25)) {
      assertEquals(1000, owned.capacity());
      assertFalse(owned.isPooled());
      assertArrayEquals(new long[] {10, 25}, owned.shape());
      assertEquals(0, pool.stats().heldCount());
    }
  }

  // ------------------------------------------------------------------ one owner per allocation

  @Test
  void memoryAPoolHoldsCannotBeAdoptedNorFreedThroughTheDevice() {
    Buffer pooled = pool.alloc(64, DType.U8);
    pooled.copyFrom(new byte[] {42});
    IllegalArgumentException adopt =
        assertThrows(IllegalArgumentException.class, () -> Buffer.adoptOwned(harness.device(), pooled.deviceBuffer(), DType.U8));
    assertTrue(adopt.getMessage().contains("owned by a buffer pool"), adopt.getMessage());
    assertThrows(IllegalStateException.class, () -> harness.device().free(pooled.deviceBuffer()),
        "only the pool frees what it owns");
    byte[] back = new byte[1];
    pooled.copyTo(back);
    assertEquals(42, back[0], "the pooled buffer is untouched");
  }

  @Test
  void aRawBufferIsAdoptedOnceAndNotAfterItsFree() {
    DeviceBuffer raw = harness.device().allocate(64);
    Buffer first = Buffer.adoptOwned(harness.device(), raw, DType.U8);
    IllegalArgumentException twice =
        assertThrows(IllegalArgumentException.class, () -> Buffer.adoptOwned(harness.device(), raw, DType.U8));
    assertTrue(twice.getMessage().contains("owned by an owned buffer"), twice.getMessage());
    assertTrue(first.isValid());
    first.close();
    assertThrows(IllegalStateException.class, () -> Buffer.adoptOwned(harness.device(), raw, DType.U8), "freed");
    assertThrows(IllegalStateException.class, () -> harness.device().free(raw), "freed once, by its owner");
  }

  // ------------------------------------------------------------------ host access

  /**
   * Typed element access round-trips every dtype on host-visible memory; on device-private storage
   * (which the host reaches through copies) every typed access is refused with an exception that
   * says so, and copies still work.
   */
  @Test
  void typedAccessRoundTripsEveryDTypeOrIsRefusedOnDevicePrivateMemory() throws Throwable {
    try (Scope s = pool.openScope()) {
      Buffer f32 = s.alloc(16, DType.F32);
      Buffer f64 = s.alloc(16, DType.F64);
      Buffer f16 = s.alloc(8, DType.F16);
      Buffer bf16 = s.alloc(4, DType.BF16);
      Buffer u8 = s.alloc(2, DType.U8);
      Buffer i8 = s.alloc(2, DType.I8);
      Buffer u16 = s.alloc(4, DType.U16);
      Buffer u32 = s.alloc(8, DType.U32);
      Buffer i32 = s.alloc(8, DType.I32);
      Buffer i64 = s.alloc(8, DType.I64);
      List<Executable> roundTrips = List.of(
          () -> {
            f32.putF32(3, -2.5f);
            assertEquals(-2.5f, f32.getF32(3));
          },
          () -> {
            f64.putF64(1, Math.PI);
            assertEquals(Math.PI, f64.getF64(1));
          },
          () -> {
            f16.putF16(0, 1.5f);
            f16.putF16(1, 65504f);
            f16.putF16(2, 1e-7f);
            assertEquals(1.5f, f16.getF16(0));
            assertEquals(65504f, f16.getF16(1));
            assertEquals(1.1920929e-7f, f16.getF16(2), 1e-12f);
          },
          () -> {
            bf16.putBF16(0, 3.0f);
            bf16.putBF16(1, Float.NaN);
            assertEquals(3.0f, bf16.getBF16(0));
            assertTrue(Float.isNaN(bf16.getBF16(1)));
          },
          () -> {
            u8.putU8(0, 255);
            assertEquals(255, u8.getU8(0));
          },
          () -> {
            i8.putI8(1, (byte) -3);
            assertEquals(-3, i8.getI8(1));
          },
          () -> {
            u16.putU16(1, 65535);
            assertEquals(65535, u16.getU16(1));
          },
          () -> {
            u32.putU32(1, 4_000_000_000L);
            assertEquals(4_000_000_000L, u32.getU32(1));
          },
          () -> {
            i32.putI32(0, -7);
            assertEquals(-7, i32.getI32(0));
          },
          () -> {
            i64.putI64(0, Long.MIN_VALUE);
            assertEquals(Long.MIN_VALUE, i64.getI64(0));
          });
      for (Executable roundTrip : roundTrips) {
        if (f32.isHostVisible()) {
          roundTrip.execute();
        } else {
          UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, roundTrip);
          assertTrue(e.getMessage().contains("no host mapping"), e.getMessage());
        }
      }
      if (!f32.isHostVisible()) {
        f32.copyFrom(new float[] {0f, 0f, 0f, -2.5f});
        assertEquals(-2.5f, f32At(f32, 3), "copies reach device-private memory");
      }
    }
  }

  /** Dtype, bounds and range are checked before the memory is touched, on every storage. */
  @Test
  void typedAccessChecksDTypeBoundsAndRange() {
    Buffer f32 = pool.alloc(16, DType.F32);
    IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class, () -> f32.getI32(0));
    assertTrue(wrong.getMessage().contains("I32") && wrong.getMessage().contains("F32"));
    IndexOutOfBoundsException out = assertThrows(IndexOutOfBoundsException.class, () -> f32.getF32(4));
    assertTrue(out.getMessage().contains("4 elements"));
    assertThrows(IndexOutOfBoundsException.class, () -> f32.putF32(-1, 0f));
    Buffer u8 = pool.alloc(4, DType.U8);
    assertThrows(IllegalArgumentException.class, () -> u8.putU8(0, 256));
    assertThrows(IllegalArgumentException.class, () -> pool.alloc(8, DType.U32).putU32(0, -1));
  }

  @Test
  void bulkCopiesRoundTrip() {
    Buffer f = pool.alloc(40, DType.F32);
    f.copyFrom(new float[] {1, 2, 3});
    float[] back = new float[3];
    f.copyTo(back);
    assertArrayEquals(new float[] {1, 2, 3}, back);
    Buffer i = pool.alloc(16, DType.I32).copyFrom(new int[] {4, 5, 6, 7});
    int[] ib = new int[4];
    i.copyTo(ib);
    assertArrayEquals(new int[] {4, 5, 6, 7}, ib);
    Buffer l = pool.alloc(16, DType.I64).copyFrom(new long[] {8, 9});
    long[] lb = new long[2];
    l.copyTo(lb);
    assertArrayEquals(new long[] {8, 9}, lb);
    Buffer d = pool.alloc(16, DType.F64).copyFrom(new double[] {0.5});
    double[] db = new double[1];
    d.copyTo(db);
    assertEquals(0.5, db[0]);
    Buffer h = pool.alloc(4, DType.F16).copyFrom(new short[] {0x3c00, 0x4000});
    short[] hb = new short[2];
    h.copyTo(hb);
    assertArrayEquals(new short[] {0x3c00, 0x4000}, hb);
    ByteBuffer bb = ByteBuffer.allocate(3).put(new byte[] {1, 2, 3});
    bb.flip();
    Buffer r = pool.alloc(8, DType.U8).copyFrom(bb, 5);
    byte[] rb = new byte[8];
    r.copyTo(rb);
    assertEquals(3, rb[7]);
    ByteBuffer out = ByteBuffer.allocate(2);
    r.copyTo(out, 6);
    assertArrayEquals(new byte[] {2, 3}, out.array());
    assertThrows(IndexOutOfBoundsException.class, () -> f.copyFrom(new float[11]));
    assertThrows(IllegalArgumentException.class, () -> f.copyFrom(new int[1]));
    assertThrows(IndexOutOfBoundsException.class, () -> r.copyFrom(ByteBuffer.allocate(4), 5));
  }

  @Test
  void slicesIndexFromTheirOffsetAndStayInBounds() {
    Buffer a = pool.alloc(64, DType.I32);
    int[] values = new int[16];
    for (int i = 0; i < 16; i++) {
      values[i] = i;
    }
    a.copyFrom(values);
    Buffer v = a.sliceView(8, 4);
    int[] four = new int[4];
    v.copyTo(four);
    assertArrayEquals(new int[] {2, 3, 4, 5}, four);
    assertEquals(8, v.byteOffset());
    assertEquals(16, v.byteLength());
    assertArrayEquals(new long[] {4}, v.shape());
    assertThrows(IndexOutOfBoundsException.class, () -> v.copyTo(new int[5]));
    assertThrows(IndexOutOfBoundsException.class, () -> a.sliceView(60, 2));
    assertThrows(IllegalArgumentException.class, () -> a.sliceView(2, 1));
    Buffer vv = v.sliceView(4, 2);
    int[] two = new int[2];
    vv.copyTo(two);
    assertArrayEquals(new int[] {3, 4}, two);
  }

  @Test
  void shapeDefaultsToOneDimensionAndIsCopied() {
    Buffer a = pool.alloc(4096, DType.F32);
    assertArrayEquals(new long[] {1024}, a.shape());
    long[] dims = {4, 8};
    Buffer b = pool.alloc(4096, DType.F32, dims);
    dims[0] = 99;
    long[] seen = b.shape();
    seen[1] = 77;
    assertArrayEquals(new long[] {4, 8}, b.shape());
    assertEquals(32, b.elementCount());
  }

  // ------------------------------------------------------------------ stats (C1)

  @Test
  void statsFollowEveryOperation() {
    Scope s = pool.openScope();
    s.alloc(100, DType.U8);
    s.alloc(1000, DType.U8);
    PoolStats st = pool.stats();
    assertEquals(2, st.activeCount());
    assertEquals(128 + 1024, st.activeBytes());
    assertEquals(1100, st.requestedBytes());
    assertEquals(2, st.freshAllocations());
    s.close();
    st = pool.stats();
    assertEquals(0, st.activeCount());
    assertEquals(2, st.cachedCount());
    assertEquals(1152, st.cachedBytes());
    assertEquals(1152, st.heldBytes());
    assertEquals(1152, st.peakActiveBytes());
    pool.clear();
    st = pool.stats();
    assertEquals(0, st.heldBytes());
    assertEquals(2, st.deviceFrees());
    assertEquals(0, pool.freeCount());
  }

  // ------------------------------------------------------------------ concurrency

  @Test
  void concurrentScopesNeverShareMemory() throws Exception {
    int threads = 4;
    ExecutorService exec = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int owner = t + 1;
        fs.add(exec.submit(() -> stampAndVerify(owner, 300)));
      }
      for (Future<?> f : fs) {
        f.get();
      }
    } finally {
      exec.shutdownNow();
    }
    assertEquals(0, pool.inUseCount());
    PoolStats st = pool.stats();
    assertEquals(st.cachedCount(), st.heldCount());
    assertEquals(st.allocations(), st.freshAllocations() + st.reuseHits());
  }

  private void stampAndVerify(int owner, int cycles) {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    for (int c = 0; c < cycles; c++) {
      try (Scope s = pool.openScope()) {
        List<Buffer> mine = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
          Buffer b = s.alloc(4 * (2 + rnd.nextInt(256)), DType.I32);
          b.sliceView(0, 1).copyFrom(new int[] {owner});
          b.sliceView(4 * (b.elementCount() - 1), 1).copyFrom(new int[] {c});
          mine.add(b);
          if (rnd.nextInt(5) == 0) {
            Buffer gone = mine.remove(rnd.nextInt(mine.size()));
            if (rnd.nextBoolean()) {
              pool.release(gone);
            } else {
              gone.close();
            }
          }
        }
        int[] first = new int[1];
        int[] last = new int[1];
        for (Buffer b : mine) {
          b.sliceView(0, 1).copyTo(first);
          b.sliceView(4 * (b.elementCount() - 1), 1).copyTo(last);
          if (first[0] != owner || last[0] != c) {
            throw new AssertionError("buffer of owner " + owner + " was overwritten: aliasing");
          }
        }
      }
    }
  }

  @Test
  void liveBuffersNeverOverlap() {
    Set<Long> handles = new HashSet<>();
    List<Buffer> live = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      Buffer b = pool.alloc(1 + i * 37, DType.U8);
      live.add(b);
      if (i % 3 == 0) {
        live.remove(0).close();
      }
    }
    for (Buffer b : live) {
      assertTrue(handles.add(b.nativeHandle()), "two live buffers share " + b.nativeHandle());
    }
  }

  /** Runs {@code body} over a scope and returns the pool's stats afterwards; for subclasses. */
  protected PoolStats inScope(Consumer<Scope> body) {
    try (Scope s = pool.openScope()) {
      body.accept(s);
    }
    return pool.stats();
  }
}
