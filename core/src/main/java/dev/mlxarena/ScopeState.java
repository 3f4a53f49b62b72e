package dev.mlxarena;

import dev.mlxarena.spi.DeviceStream;
import java.util.Arrays;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The pool's side of one {@link Scope}: its record of issued buffers, its reserve and the counters
 * of what it issued that the pool has not folded in yet; and the {@link Recycler} of the handles
 * it issued. Kept apart from the {@code Scope} handle the user holds, so that a scope nobody
 * closed can become unreachable (and be reported and reclaimed) while the pool still links it.
 *
 * <h2>Closing state</h2>
 * The record pairs each issued buffer with the generation it was issued at. Closing recycles
 * exactly the records whose generation still matches, so a buffer released early (and perhaps
 * issued again, to this scope or another) is never recycled twice: a device buffer is always in
 * one place, one free list or one live handle.
 *
 * <h2>A record that stores nothing in step</h2>
 * A scope that adopted a reserve records into the reserve's tape array itself ({@link #blocks} is
 * the tape), as long as each allocation takes the tape's next entry: the slot to record into then
 * already holds the block, and recording stores no reference (a reference store into a long-lived
 * array costs a GC card mark on every allocation). The first allocation out of step moves the
 * record into the scope's own array ({@link #own}); only the tape's consumed entries are ever
 * written while the two share an array.
 *
 * <h2>Who touches what</h2>
 * The record, the reserve and the issue counters are plain fields owned by the scope's thread:
 * {@link #issue} runs on it without the pool's lock, from the scope's own reserve, and the pool
 * touches them only under its lock on that same thread (a locked allocation through this scope),
 * or once the scope is being closed, which the caller orders after its last allocation; from then
 * on ({@link #handingBack}) the closing thread owns them. Other threads read the issue counters
 * under the lock for statistics only, racily, which is why statistics are approximate while other
 * threads allocate. {@code closed} is volatile because {@link Scope#isOpen()} may be asked from
 * any thread.
 *
 * <h2>What the fast path depends on</h2>
 * An allocation takes no lock when its scope adopted a reserve (the buffers of the scope its
 * thread closed last, or of its stream's last token) and that reserve still holds a free buffer of
 * the requested bucket. It is cheapest when the scope asks for the previous token's buckets in the
 * same order: a load and a compare. A token that leaves that order (a growing context, varying
 * routing, a dynamic graph) is served from the same reserve through a per-bucket index, and pays
 * one reference store per allocation for its record. The lock is taken ({@link
 * PoolStats#lockedAllocations()}) when the reserve has nothing of the bucket: the first token, a
 * bucket or a count of buffers the previous token did not use, a scope that found no reserve to
 * adopt, the default scope, and batches. Two scopes open at once on one thread adopt each other's
 * reserves in turn, so after a few tokens each reserve holds what either scope needs. A buffer
 * released before its scope closes goes to the global lists (or its stream's lane), not to the
 * reserve.
 *
 * <p>The fast path touches only what its thread alone writes: this scope (its bucket policy and
 * closed flag included), its reserve, its record and the blocks it issues. Nothing of the pool, whose
 * objects share cache lines with what other threads write under the lock; and the record's arrays
 * travel with the reserve from one token to the next ({@code OpenScopes#remove}), so they stay in
 * the thread's cache instead of coming from whichever thread closed a scope last.
 */
final class ScopeState implements Recycler {
  static final long[] NO_SHAPE = {};
  static final Block[] NO_BLOCKS = {};
  static final long[] NO_GENERATIONS = {};

  /** How a scope's handles go back to their pool: the pool's handle close, under its lock. */
  interface HandleCloser {
    /** Hands back {@code block}, issued through {@code issuer} at {@code generation}. */
    void closeHandle(ScopeState issuer, Block block, long generation);
  }

  /** The pool that opened this scope: where its handles go back, and the pool's identity. */
  final HandleCloser pool;
  /**
   * The pool's bucket policy, kept here so that an allocation from the reserve reads nothing of
   * the pool: only this scope and its reserve, which its thread alone writes.
   */
  final BucketPolicy policy;
  private final boolean isDefault;
  private final String deviceName;
  /** The stream this scope's buffers are used on, or {@code null} for a stream-less scope. */
  final @Nullable DeviceStream stream;
  /** Where the scope was opened, when leak detection or strict close records it. */
  @Nullable Throwable openedAt;

  /** The record's blocks: {@link #own}, or the adopted reserve's tape while in step with it. */
  Block[] blocks;
  /** The record array this scope owns, kept for the next scope when it closes. */
  Block[] own;
  long[] generations;
  int count;
  private volatile boolean closed;
  /**
   * Set under the pool's lock when a close takes the record over: from then on the closing thread
   * recycles this scope's buffers without the lock, and a release or close of one of its handles
   * leaves it to that thread. Guarded by the pool's lock.
   */
  boolean handingBack;
  /** Links of the pool's list of open scopes (see {@code OpenScopes}); guarded by the pool's lock. */
  @Nullable ScopeState prev;
  @Nullable ScopeState next;

  /**
   * Free blocks reserved for this scope (see {@code FreeLists}): taken without the pool's lock by
   * the scope's thread, refilled with what the scope issued when it closes, and set to {@code null}
   * when it closes, which is what sends a closed scope's allocations to the locked path.
   */
  @Nullable Reserve reserve;
  /**
   * For a scope on a stream whose reserve came from the stream's lane: the lane's entry, whose
   * fence still guards the blocks of the reserve until the scope hands them back behind a newer
   * one (see {@code StreamLanes}). Guarded by the pool's lock.
   */
  StreamLanes.@Nullable Entry adopted;

  // What this scope issued since the pool last folded it in (see #fold): each is one
  // allocation and moves its capacity into the active figures.
  long issued;
  long issuedBytes;
  long issuedRequested;
  // What of this scope's folded allocations is still live (not handed back one by one): what its
  // close takes out of the active figures at once. Guarded by the pool's lock.
  long liveCount;
  long liveBytes;
  long liveRequested;

  ScopeState(
      HandleCloser pool,
      BucketPolicy policy,
      boolean isDefault,
      String deviceName,
      @Nullable DeviceStream stream,
      Block[] own,
      long[] generations) {
    this.pool = pool;
    this.policy = policy;
    this.isDefault = isDefault;
    this.deviceName = deviceName;
    this.stream = stream;
    this.blocks = own;
    this.own = own;
    this.generations = generations;
  }

  /** Whether this scope still accepts allocations (a volatile read). */
  boolean isOpen() {
    return !closed;
  }

  boolean isDefault() {
    return isDefault;
  }

  void markClosed() {
    closed = true;
  }

  /**
   * Notes where this scope was opened if strict close or the leak sampling at {@code level} asks,
   * and in the latter case watches {@code handle}: once it is unreachable, {@code close} closes
   * this scope, which is reported if it was still open. {@code close} must not refer to the handle;
   * it is the pool's one closer, so that a scope nobody watches costs no allocation here.
   */
  void watch(
      Object handle, LeakDetection level, boolean strictClose, Consumer<ScopeState> close) {
    boolean watched = LeakTracker.sample(level);
    if (watched || strictClose) {
      Throwable at = new Throwable("scope opened here");
      StackTraceElement[] trace = at.getStackTrace(); // starts where the pool opened the scope
      at.setStackTrace(Arrays.copyOfRange(trace, Math.min(1, trace.length), trace.length));
      openedAt = at;
      if (watched) {
        LeakTracker.watchScope(handle, deviceName, at, () -> {
          boolean leaked = isOpen();
          close.accept(this);
          return leaked;
        });
      }
    }
  }

  /** Waits until another thread's close of this scope has finished. */
  void awaitClosed() {
    for (int spins = 0; !closed; spins++) {
      if (spins < 100) {
        Thread.onSpinWait();
      } else {
        Thread.yield();
      }
    }
  }

  /** Takes {@code r} as this scope's reserve and records in step with its tape. */
  void adopt(Reserve r) {
    reserve = r;
    blocks = r.tape;
  }

  /** A free block of {@code bucket} from this scope's reserve, or {@code null}; owner thread only. */
  @Nullable Block takeReserved(int bucket) {
    Reserve r = reserve;
    return r == null ? null : r.take(bucket);
  }

  /**
   * The one issue path: leases the FREE (or fresh) block {@code b} to a new handle, records it and
   * counts it. Runs on the scope's thread, with or without the pool's lock.
   */
  Buffer issue(Block b, DType dtype, long bytes, long elements, long[] shape) {
    b.state = Block.LIVE;
    b.lease(dtype, bytes, elements, shape);
    issued++;
    issuedBytes += b.capacity;
    issuedRequested += bytes;
    // This thread owns b (it came from a free list or the reserve), but the pool's close may end its
    // lease concurrently: an acquire load, which costs what a plain one does on x86, so that the
    // pool's check after a lock-free allocation sees either the new generation or the close.
    long generation = b.generationAcquire();
    track(b, generation);
    return new Buffer(b, generation, this);
  }

  private void track(Block b, long generation) {
    int n = count;
    Block[] bs = blocks;
    if (n < bs.length && n < generations.length) {
      if (bs[n] == b) { // in step: the slot holds b already
        generations[n] = generation;
        count = n + 1;
        return;
      }
      if (bs == own) {
        bs[n] = b;
        generations[n] = generation;
        count = n + 1;
        return;
      }
    }
    bs = recordInOwn(n);
    bs[n] = b;
    generations[n] = generation;
    count = n + 1;
  }

  /** Moves the record into {@link #own}, grown to hold entry {@code n}, and returns it. */
  private Block[] recordInOwn(int n) {
    int size = Math.max(16, 2 * n);
    if (own.length <= n) {
      own = blocks == own ? Arrays.copyOf(own, size) : new Block[size];
    }
    if (blocks != own) {
      System.arraycopy(blocks, 0, own, 0, n);
      blocks = own;
    }
    if (generations.length <= n) {
      generations = Arrays.copyOf(generations, size);
    }
    return own;
  }

  /**
   * The reserve the pool may evict from for an allocation through this scope, on its thread under
   * the lock, or {@code null}: none when the scope adopted it from its stream's lane, since those
   * blocks wait for the lane's fence, which has not been polled, and go back to the device only
   * once it has completed (see {@code StreamLanes}).
   */
  @Nullable Reserve evictableReserve() {
    return adopted != null ? null : reserve;
  }

  /**
   * Moves what this scope counted without the lock into {@code counters}, and into its live
   * figures. Runs under the lock on the scope's own thread, or once the scope is closing.
   */
  void fold(PoolCounters counters) {
    counters.addFolded(issued, issuedBytes, issuedRequested);
    liveCount += issued;
    liveBytes += issuedBytes;
    liveRequested += issuedRequested;
    issued = 0;
    issuedBytes = 0;
    issuedRequested = 0;
  }

  /**
   * Takes what is still live of this scope's allocations out of {@code counters}' active figures
   * at once, as its close begins, and returns their bytes: from then on its buffers count as
   * cached, though its closing thread is still moving them into its reserve. Under the lock.
   */
  long closing(PoolCounters counters) {
    fold(counters);
    counters.notePeak();
    counters.removeActive(liveCount, liveBytes, liveRequested);
    long bytes = liveBytes;
    recordHandedBack();
    return bytes;
  }

  /** Notes, under the lock, that the record was handed back entry by entry: nothing is live. */
  void recordHandedBack() {
    liveCount = 0;
    liveBytes = 0;
    liveRequested = 0;
  }

  /** Notes, under the lock, that {@code b}, issued here, went back before the scope closed. */
  void handedBackEarly(Block b) {
    liveCount--;
    liveBytes -= b.capacity;
    liveRequested -= b.byteLength;
  }

  @Override
  public void handBack(Block block, long generation) {
    pool.closeHandle(this, block, generation);
  }

  @Override
  public String toString() {
    // Lock-free on purpose: the pool builds error messages with it while holding its lock.
    return "Scope[" + (isDefault ? "default, " : "") + (closed ? "closed" : "open") + ", on "
        + deviceName + "]";
  }
}
