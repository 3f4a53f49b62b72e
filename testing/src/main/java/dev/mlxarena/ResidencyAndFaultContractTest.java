package dev.mlxarena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.testing.DeviceHarness;
import dev.mlxarena.testing.ResidencyProbe;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The residency (R1) and failure (L1: a refused allocation leaves the pool unchanged) contract,
 * for devices whose harness counts residency changes and can inject allocation failures.
 */
@ExtendWith(PoolInvariants.class)
@Timeout(60)
public abstract class ResidencyAndFaultContractTest {
  protected DeviceHarness harness;
  protected BufferPool pool;

  protected abstract DeviceHarness newHarness();

  private ResidencyProbe rs() {
    return Objects.requireNonNull(harness.residency(), "this harness has no residency set");
  }

  private void open(boolean residency) {
    harness = newHarness();
    pool = BufferPool.create(harness.device(), PoolOptions.builder().residency(residency).build());
  }

  // ------------------------------------------------------------------ residency (R1)

  @Test
  void freshBuffersAreAddedOnceAndCommittedOncePerCall() {
    open(true);
    Buffer a = pool.alloc(100, DType.U8);
    assertEquals(1, rs().adds());
    assertEquals(1, rs().commits());
    assertTrue(rs().contains(a.deviceBuffer()));
    pool.reset();
    pool.alloc(100, DType.U8);
    assertEquals(1, rs().adds(), "a reused buffer is already resident");
    assertEquals(1, rs().commits(), "a call that changed nothing commits nothing");
    PoolStats st = pool.stats();
    assertEquals(1, st.residencyAdds());
    assertEquals(1, st.residencyCommits());
  }

  @Test
  void batchCommitsOnce() {
    open(true);
    pool.allocBatch(
        List.of(new AllocRequest(10, DType.U8), new AllocRequest(1000, DType.U8), new AllocRequest(5000, DType.U8)));
    assertEquals(3, rs().adds());
    assertEquals(1, rs().commits());
  }

  @Test
  void clearRemovesFreeBuffersWithOneCommit() {
    open(true);
    Buffer live = pool.alloc(64, DType.U8);
    pool.alloc(128, DType.U8).close();
    pool.alloc(256, DType.U8).close();
    long commits = rs().commits();
    pool.clear();
    assertEquals(2, rs().removes());
    assertEquals(commits + 1, rs().commits());
    assertTrue(rs().contains(live.deviceBuffer()), "live buffers stay resident");
    assertEquals(1, rs().size());
  }

  @Test
  void evictionThroughResetAndClearEmptiesTheSet() {
    open(true);
    pool.alloc(64, DType.U8);
    pool.alloc(4096, DType.U8);
    assertEquals(2, rs().size());
    pool.reset();
    assertEquals(2, rs().size(), "reset keeps free buffers resident");
    pool.clear();
    assertEquals(0, rs().size());
    assertTrue(rs().isClean());
  }

  @Test
  void closeRemovesEverythingThePoolAdded() {
    open(true);
    pool.alloc(64, DType.U8);
    pool.openScope().alloc(64, DType.U8);
    pool.close();
    assertEquals(0, rs().size());
    assertEquals(rs().adds(), rs().removes());
    assertTrue(rs().isClean());
  }

  @Test
  void residencyOptOutAddsNothing() {
    open(false);
    pool.alloc(64, DType.U8);
    pool.reset();
    pool.clear();
    assertEquals(0, rs().adds());
    assertEquals(0, rs().commits());
  }

  @Test
  void ownedBuffersCarryTheirOwnRegistration() {
    open(true);
    Buffer owned = Buffer.allocOwned(harness.device(), 64, DType.U8);
    assertEquals(1, rs().adds());
    assertTrue(rs().contains(owned.deviceBuffer()));
    pool.registerExisting(owned);
    assertEquals(1, rs().adds(), "registerExisting must not double-add a registered buffer");
    pool.close();
    DeviceBuffer raw = owned.deviceBuffer();
    assertTrue(rs().contains(raw), "the pool removes only what it added");
    owned.close();
    assertFalse(rs().contains(raw));
    assertEquals(1, rs().removes());
  }

  @Test
  void adoptedBuffersAreRegisteredByThePoolAndDroppedAtClose() {
    open(true);
    Buffer adopted = Buffer.adoptOwned(harness.device(), harness.device().allocate(256), DType.F32);
    assertEquals(0, rs().adds());
    pool.registerExisting(adopted);
    pool.registerExisting(adopted);
    assertEquals(1, rs().adds());
    assertEquals(1, pool.stats().residencyCommits());
    pool.close();
    assertFalse(rs().contains(adopted.deviceBuffer()));
    assertTrue(adopted.isValid());
    adopted.close();
  }

  @Test
  void closingARegisteredAdoptedBufferDropsItsRegistration() {
    open(true);
    Buffer adopted = Buffer.adoptOwned(harness.device(), harness.device().allocate(256), DType.U8);
    pool.registerExisting(adopted);
    DeviceBuffer raw = adopted.deviceBuffer();
    adopted.close();
    assertFalse(rs().contains(raw));
    assertFalse(pool.isRegistered(adopted));
    assertEquals(1, pool.stats().residencyRemoves());
  }

  @Test
  void aBufferRegisteredWithTwoPoolsStaysResidentUntilTheLastOneCloses() {
    open(true);
    Buffer adopted = Buffer.adoptOwned(harness.device(), harness.device().allocate(256), DType.U8);
    DeviceBuffer raw = adopted.deviceBuffer();
    try (BufferPool second = BufferPool.create(harness.device())) {
      pool.registerExisting(adopted);
      second.registerExisting(adopted);
      assertEquals(1, rs().adds(), "one membership for both registrations");
      pool.close();
      assertTrue(rs().contains(raw), "the second pool still has it registered");
      assertTrue(second.isRegistered(adopted));
    }
    assertFalse(rs().contains(raw), "the last registration out removes it");
    assertTrue(rs().isClean());
    adopted.close();
  }

  @Test
  void aBufferRegisteredWithTwoPoolsLeavesTheSetOnceWhenClosed() {
    open(true);
    Buffer adopted = Buffer.adoptOwned(harness.device(), harness.device().allocate(256), DType.U8);
    DeviceBuffer raw = adopted.deviceBuffer();
    try (BufferPool second = BufferPool.create(harness.device())) {
      second.registerExisting(adopted);
      pool.registerExisting(adopted);
      second.close();
      assertTrue(rs().contains(raw));
      adopted.close();
      assertFalse(rs().contains(raw));
      assertEquals(1, rs().removes());
      assertFalse(pool.isRegistered(adopted));
    }
  }

  // ------------------------------------------------------------------ refused allocations

  private void assertRefusedUnchanged(Runnable call, long bytes) {
    PoolStats before = pool.stats();
    int live = harness.liveAllocations();
    long adds = harness.residency() == null ? 0 : rs().size();
    BufferAllocationException e = assertThrows(BufferAllocationException.class, call::run);
    assertTrue(e.getMessage().contains(Long.toString(bytes)), e.getMessage());
    assertEquals(bytes, e.getRequestedBytes());
    assertEquals(before, pool.stats());
    assertEquals(live, harness.liveAllocations(), "a refused call must not keep device memory");
    if (harness.residency() != null) {
      assertEquals(adds, rs().size());
    }
  }

  @Test
  void aRefusedAllocationLeavesThePoolAsItWas() {
    open(true);
    Buffer live = pool.alloc(64, DType.U8);
    harness.failNthAllocation(1);
    assertRefusedUnchanged(() -> pool.alloc(4096, DType.U8), 4096);
    assertTrue(live.isValid());
    assertEquals(4096, pool.alloc(4096, DType.U8).capacity(), "the pool works after a refusal");
  }

  @Test
  void aRefusalWithBuffersCachedFreesThemAndRetriesOnce() {
    open(true);
    pool.alloc(64, DType.U8).close();
    harness.failNthAllocation(1);
    assertEquals(4096, pool.alloc(4096, DType.U8).capacity(), "the retry succeeds");
    PoolStats st = pool.stats();
    assertEquals(1, st.oomRetries());
    assertEquals(0, st.cachedCount(), "the cache went back to the device first");
    assertEquals(1, st.deviceFrees());
  }

  @Test
  void aReuseHitNeedsNoDevice() {
    open(true);
    pool.alloc(64, DType.U8).close();
    harness.failAbove(0);
    try {
      assertEquals(64, pool.alloc(64, DType.U8).capacity());
    } finally {
      harness.failAbove(Long.MAX_VALUE);
    }
  }

  @Test
  void aBatchThatFailsPartWayGivesEverythingBack() {
    open(true);
    pool.alloc(64, DType.U8).close();
    pool.alloc(128, DType.U8).close();
    harness.failNthAllocation(2);
    assertRefusedUnchanged(
        () ->
            pool.allocBatch(
                List.of(
                    new AllocRequest(64, DType.U8),
                    new AllocRequest(1000, DType.U8),
                    new AllocRequest(128, DType.U8),
                    new AllocRequest(3000, DType.U8))),
        4096);
    assertEquals(2, pool.freeCount());
  }

  @Test
  void aRefusedOwnedAllocationKeepsNothing() {
    open(true);
    harness.failNthAllocation(1);
    int live = harness.liveAllocations();
    assertThrows(BufferAllocationException.class, () -> Buffer.allocOwned(harness.device(), 64, DType.U8));
    assertEquals(live, harness.liveAllocations());
    assertEquals(0, rs().size());
  }

  @Test
  void freshMemoryIsZeroedEvenWhenTheDeviceHandsOutGarbage() {
    open(true);
    assertTrue(harness.freshMemoryIsGarbage(), "this contract needs a device that returns garbage");
    Buffer a = pool.alloc(10_000, DType.U8);
    PoolContractTest.assertAllBytes(a, 0, a.capacity(), (byte) 0);
  }
}
