package dev.mlxarena.concurrent;

import dev.mlxarena.BucketPolicy;
import dev.mlxarena.Buffer;
import dev.mlxarena.BucketStats;
import dev.mlxarena.BufferPool;
import dev.mlxarena.DType;
import dev.mlxarena.Fence;
import dev.mlxarena.LeakDetection;
import dev.mlxarena.PoolInvariants;
import dev.mlxarena.PoolOptions;
import dev.mlxarena.PoolStats;
import dev.mlxarena.Scope;
import dev.mlxarena.testing.CountingResidencySet;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ManagedStrategyGuaranteeKt;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jetbrains.lincheck.datastructures.Validate;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The pool's operations across threads, checked by Lincheck: model checking (every interleaving of
 * the shared-memory accesses of small scenarios, up to a bound) and stress (the same scenarios on
 * real threads). Each operation returns only what its contract makes certain, whatever runs beside
 * it, so every correct interleaving gives the same results as some sequential order:
 *
 * <ul>
 *   <li>{@link #cycle} opens a scope, allocates two buffers, stamps them with values no other
 *       operation writes, reads the stamps back and closes the scope: {@code "ok"}, or {@code
 *       "closed"} when the pool's close came first; any aliasing reads another's stamp;
 *   <li>{@link #releaseOne} does the same with the pool's default scope and {@code release};
 *   <li>{@link #cycleAfterFence} and {@link #releaseAfterFence} hand their buffers back behind a
 *       fence that {@link #completeFences} completes; the fence reads {@code pool.stats()} from
 *       {@code isComplete()}, which deadlocks if the pool ever polls it under its lock, and
 *       {@link #poolIsSound} checks that the pool closed every fence exactly once;
 *   <li>{@link #statsAddUp}, {@link #bucketStatsAddUp} and {@link #freeCountInRange} check the
 *       figures' invariants (no negative count, buckets that add up to what the pool holds);
 *   <li>{@link #trim} and {@link #close} change the pool under the others.
 * </ul>
 *
 * An exception, a different result, a deadlock or a livelock fails the test, and after every
 * scenario {@link #poolIsSound} audits the pool, closes it and checks every allocation went back.
 * {@code -Dmlxarena.lincheck.scale=N} multiplies the scenarios explored.
 */
@Param(name = "size", gen = IntGen.class, conf = "0:2")
// Lincheck's sequential check runs the operations on its own thread, where a fence polled under the
// pool's lock deadlocks for good: the bound turns that hang into a failure, far above a run's length.
@Timeout(value = 20, unit = TimeUnit.MINUTES)
public class PoolLincheckTest {
  private static final int SCALE = Integer.getInteger("mlxarena.lincheck.scale", 1);
  /**
   * The memory limit: more than every operation of a scenario can hold at once, fences pending
   * included, so no interleaving is refused memory that a sequential order would get.
   */
  private static final long LIMIT = 64 * 1024;

  /** Four buckets, 64 to 512 bytes: the pool's loops over buckets stay short for the model checker. */
  private static final BucketPolicy FOUR_BUCKETS = new BucketPolicy() {
    @Override
    public int bucketIndex(long bytes) {
      if (bytes < 0 || bytes > maxBytes()) {
        throw new IllegalArgumentException(bytes + " bytes: from 0 to " + maxBytes());
      }
      return Math.max(0, 64 - Long.numberOfLeadingZeros(Math.max(bytes, 1) - 1) - 6);
    }

    @Override
    public long sizeOfBucket(int index) {
      return 64L << index;
    }

    @Override
    public int bucketCount() {
      return 4;
    }

    @Override
    public long maxBytes() {
      return 512;
    }
  };

  private final HeapDevice device = new HeapDevice();
  private final BufferPool pool = BufferPool.create(device, PoolOptions.builder()
      .bucketPolicy(FOUR_BUCKETS).leakDetection(LeakDetection.DISABLED).memoryLimit(LIMIT).build());
  /** Completed by {@link #completeFences}: the device work every fence stands for has finished. */
  private final AtomicBoolean deviceDone = new AtomicBoolean();
  /** Every fence handed to the pool. */
  private final ConcurrentLinkedQueue<CountedFence> fences = new ConcurrentLinkedQueue<>();
  /** Stamps written so far; each operation takes its own. */
  private int nextStamp;

  private synchronized int stamp() {
    return ++nextStamp;
  }

  private static long bytes(int size) {
    return 64L << size;
  }

  /** Writes {@code stamp} into {@code b}, for {@link #holds}. */
  private static void write(Buffer b, int stamp) {
    b.copyFrom(new int[] {stamp, stamp});
  }

  private static boolean holds(Buffer b, int stamp) {
    int[] back = new int[2];
    b.copyTo(back);
    return back[0] == stamp && back[1] == stamp;
  }

  @Operation
  public String cycle(@Param(name = "size") int size) {
    int stamp = stamp();
    try (Scope token = pool.openScope()) {
      Buffer a = token.alloc(bytes(size), DType.I32);
      Buffer b = token.alloc(64, DType.I32);
      write(a, stamp);
      write(b, -stamp);
      return holds(a, stamp) && holds(b, -stamp) ? "ok" : "aliased";
    } catch (IllegalStateException closed) {
      return "closed"; // the pool's close came first: closed, or the handles went stale with it
    }
  }

  @Operation
  public String releaseOne(@Param(name = "size") int size) {
    return stampAndRelease(size, false);
  }

  /** One buffer of the default scope, stamped, read back and released, behind a fence if asked. */
  private String stampAndRelease(int size, boolean fenced) {
    int stamp = stamp();
    try {
      Buffer b = pool.alloc(bytes(size), DType.I32);
      write(b, stamp);
      boolean ok = holds(b, stamp);
      if (fenced) {
        pool.release(b, fence());
      } else {
        pool.release(b);
      }
      return ok ? "ok" : "aliased";
    } catch (IllegalStateException closed) {
      return "closed";
    }
  }

  /** A fence that calls back into the pool when polled, and counts its closes. */
  private final class CountedFence implements Fence {
    final AtomicInteger closes = new AtomicInteger();

    @Override
    public boolean isComplete() {
      pool.stats(); // a call back into the pool: fences are never polled under its lock
      return deviceDone.get();
    }

    @Override
    public void close() {
      closes.incrementAndGet();
    }
  }

  private Fence fence() {
    CountedFence f = new CountedFence();
    fences.add(f);
    return f;
  }

  @Operation
  public String cycleAfterFence(@Param(name = "size") int size) {
    int stamp = stamp();
    try {
      Scope token = pool.openScope();
      Buffer a = token.alloc(bytes(size), DType.I32);
      write(a, stamp);
      boolean ok = holds(a, stamp);
      token.closeAfter(fence());
      return ok ? "ok" : "aliased";
    } catch (IllegalStateException closed) {
      return "closed";
    }
  }

  @Operation
  public String releaseAfterFence(@Param(name = "size") int size) {
    return stampAndRelease(size, true);
  }

  @Operation
  public void completeFences() {
    deviceDone.set(true);
  }

  @Operation
  public boolean statsAddUp() {
    PoolStats st = pool.stats();
    return st.activeCount() >= 0 && st.cachedCount() >= 0 && st.cachedBytes() >= 0
        && st.heldBytes() <= LIMIT;
  }

  @Operation
  public boolean bucketStatsAddUp() {
    List<BucketStats> buckets = pool.bucketStats();
    long held = 0;
    for (BucketStats b : buckets) {
      if (b.live() < 0 || b.free() < 0 || b.deferred() < 0) {
        return false;
      }
      held += b.heldBytes();
    }
    return held <= LIMIT;
  }

  @Operation
  public boolean freeCountInRange(@Param(name = "size") int size) {
    int n = pool.freeCount(bytes(size));
    return n >= 0 && n <= LIMIT / bytes(size);
  }

  @Operation
  public void trim() {
    try {
      pool.trim();
    } catch (IllegalStateException closed) {
      // a trim after the close: nothing to give back
    }
  }

  @Operation
  public void close() {
    pool.close();
  }

  @Validate
  public void poolIsSound() {
    PoolInvariants.check(pool);
    pool.close();
    PoolInvariants.check(pool);
    if (device.liveAllocations() != 0) {
      throw new IllegalStateException(device.liveAllocations() + " allocations did not go back");
    }
    for (CountedFence f : fences) {
      if (f.closes.get() != 1) {
        throw new IllegalStateException("a fence was closed " + f.closes.get() + " times, not once");
      }
    }
  }

  @Test
  void modelChecking() {
    new ModelCheckingOptions()
        // The test doubles are atomic already (synchronized, or over their own arrays): only the
        // pool's own accesses are interleaved.
        .addGuarantee(ManagedStrategyGuaranteeKt.forClasses(
                HeapDevice.class.getName(), CountingResidencySet.class.getName())
            .allMethods().treatAsAtomic())
        // Plain loops over a small map's table are not livelocks.
        .loopBound(128)
        .iterations(2 * SCALE)
        .invocationsPerIteration(8 * SCALE)
        .threads(2)
        .actorsPerThread(2)
        .actorsBefore(1)
        .actorsAfter(1)
        .check(getClass());
  }

  @Test
  void stress() {
    new StressOptions()
        .iterations(4 * SCALE)
        .invocationsPerIteration(250 * SCALE)
        .threads(3)
        .actorsPerThread(3)
        .check(getClass());
  }
}
