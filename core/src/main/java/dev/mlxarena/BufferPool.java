package dev.mlxarena;

import dev.mlxarena.spi.Device;
import dev.mlxarena.spi.DeviceBuffer;
import dev.mlxarena.spi.ResidencySet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * An arena-style pool of device buffers bound to one {@link Device}: power-of-two (or finer)
 * buckets with a free list each, arena cycles as {@link Scope}s, and per-buffer release.
 *
 * <pre>{@code
 * try (BufferPool pool = BufferPool.create(device)) {
 *   for (int t = 0; t < tokens; t++) {
 *     try (Scope token = pool.openScope()) {
 *       Buffer x = token.alloc(hidden * 4, DType.F32, hidden);
 *       ...
 *     }
 *   }
 * }
 * }</pre>
 *
 * <h2>Where a device buffer can be</h2>
 * Every device buffer the pool holds is in exactly one place: behind one live handle (state LIVE,
 * recorded by the scope that issued it); free (state FREE) in one bucket's global list, in one
 * parked reserve, or in the reserve of one open scope (see {@code FreeLists}); or waiting for a
 * fence (state DEFERRED). Every move out of LIVE bumps the buffer's generation, which makes all
 * earlier handles stale (see {@link Buffer}). Release, scope close and reset recycle a buffer only
 * if the handle's generation still matches, so mixing them can never put one buffer in two places,
 * and two later allocations can never share memory. {@code PoolAudit} checks all of this.
 *
 * <h2>Allocation</h2>
 * A request of {@code n} bytes is served by bucket {@code policy.bucketIndex(n)}: a free buffer of
 * that bucket if there is one (a reuse hit: the bytes the last user wrote are still there), from
 * the scope's own reserve first, then the global list, then parked reserves; else a fresh device
 * allocation of the bucket's size, zero-filled over its whole capacity and added to the device's
 * residency set, with one residency commit per call that changed the set. A call refused for its
 * arguments or by the memory limit leaves the pool exactly as it was; a device refusal first gives
 * the cache back and retries once (see {@link PoolOptions}).
 *
 * <h2>Thread safety and the lock-free path</h2>
 * All methods are thread-safe; bookkeeping runs under one lock ({@code PoolLock}: a
 * compare-and-set to enter and a release store to leave). Fresh device allocations also run
 * under it (as PyTorch's caching allocator does around {@code cudaMalloc}): they happen during
 * warm-up, and holding the lock keeps the memory totals exact.
 *
 * <p>The steady state takes no lock at all. A closing scope recycles its buffers into its own
 * reserve, which is parked and then adopted by the next scope to open (see {@code FreeLists} and
 * {@code Reserve}), and a scope's thread takes from its reserve without the lock. The reserve keeps
 * the previous token's buffers in allocation order, so when a token asks for the same sizes in the
 * same order, each allocation is a read of the next entry, a bucket compare, a generation read and
 * a handle.
 * The counters those pops change live in the scope and are folded into the pool's when it closes;
 * {@link #stats()} adds in the open scopes' counters, so it is exact for a pool used by one thread
 * and approximate while other threads allocate. The one interleaving this gives up checking is a
 * pool closed on one thread while another thread is still allocating through one of its scopes:
 * that is a use after close, as it would be for any resource.
 *
 * <p>{@link #alloc}, {@link #allocBatch} and {@link #reset()} act on the pool's default scope,
 * for code written against mlx-native's single-arena API.
 */
public final class BufferPool implements AutoCloseable {
  private static final int STASH_LIMIT = 16;

  private final Device device;
  private final PoolOptions options;
  final BucketPolicy policy;
  final @Nullable ResidencySet residency;
  private final PoolLock lock = new PoolLock();
  /** Where {@link Buffer#close()} of this pool's handles lands: {@link #closeHandle}. */
  final Block.Recycler handles = this::closeHandle;
  /** What owned buffers registered here call when they are freed: {@link #forgetExternal}. */
  private final OwnedBuffer.Registrar registrar = this::forgetExternal;

  // Everything below is guarded by lock.
  final FreeLists free;
  final BlockRegistry registry = new BlockRegistry();
  private final ScopeState defaultScope;
  @Nullable ScopeState openScopes;
  /** Written under the lock; volatile because the lock-free allocation path reads it. */
  private volatile boolean closed;
  /** Owned buffers registered through registerExisting; the value says whether this pool added them to the residency set. */
  private final Map<Block, Boolean> external = new IdentityHashMap<>();
  /** Device buffers the pool has dropped whose removal from the residency set awaits its commit. */
  private final List<DeviceBuffer> retired = new ArrayList<>();
  private final Block[][] stashedBlocks = new Block[STASH_LIMIT][];
  private final long[][] stashedGenerations = new long[STASH_LIMIT][];
  private int stashed;

  private long activeCount;
  private long activeBytes;
  private long requestedBytes;
  private long cachedCount;
  private long cachedBytes;
  long heldBytes;
  private long peakActiveBytes;
  private long peakHeldBytes;
  private long allocations;
  private long freshAllocations;
  private long reuseHits;
  private long deviceFrees;
  private long residencyAdds;
  private long residencyRemoves;
  private long residencyCommits;
  long deferredCount;
  long deferredBytes;
  private long trims;
  private long trimmedBytes;
  private long oomRetries;
  /** Buffers waiting for their fence, in the order they were handed back. */
  final java.util.ArrayDeque<Deferred> deferred = new java.util.ArrayDeque<>();
  /** When each bucket was last recycled into or allocated from, for LRU eviction. */
  private final long[] bucketLastUse;
  private long tick;

  /** Buffers handed back together with one fence. */
  record Deferred(Fence fence, Block[] blocks) {}

  private BufferPool(Device device, PoolOptions options) {
    this.device = device;
    this.options = options;
    this.policy = options.getBucketPolicy();
    this.residency = options.isResidency() ? device.residencySet() : null;
    this.free = new FreeLists(policy.bucketCount());
    this.bucketLastUse = new long[policy.bucketCount()];
    this.defaultScope = new ScopeState(this, true, new Block[16], new long[16]);
  }

  /** A pool on {@code device} with {@link PoolOptions#defaults()}. */
  public static BufferPool create(Device device) {
    return create(device, PoolOptions.defaults());
  }

  /** A pool on {@code device} with the given options. */
  public static BufferPool create(Device device, PoolOptions options) {
    Checks.notNull(device, "device");
    Checks.notNull(options, "options");
    return new BufferPool(device, options);
  }

  /** The device this pool allocates from. */
  public Device device() {
    return device;
  }

  /** The options this pool was created with. */
  public PoolOptions options() {
    return options;
  }

  // ================================================================ scopes

  /**
   * Opens a new arena cycle. Allocate through it, then close it (try-with-resources) to recycle
   * everything it issued.
   *
   * @throws PoolClosedException if the pool is closed
   */
  public Scope openScope() {
    return open(null);
  }

  /**
   * Opens a new arena cycle whose buffers are used by work on {@code stream} (see {@link
   * DeviceStream}): when it closes, its buffers are handed back in stream order.
   *
   * @throws IllegalArgumentException if the stream belongs to another device
   * @throws PoolClosedException if the pool is closed
   */
  public Scope openScope(DeviceStream stream) {
    Checks.notNull(stream, "stream");
    if (stream.device() != device) {
      throw new IllegalArgumentException(
          "stream " + stream + " belongs to device " + stream.device().name()
              + ", this pool's device is " + device.name());
    }
    return open(stream);
  }

  private Scope open(@Nullable DeviceStream stream) {
    lock.lock();
    try {
      ensureOpen();
      collectFences();
      ScopeState s;
      if (stashed > 0) {
        stashed--;
        s = new ScopeState(this, false, stashedBlocks[stashed], stashedGenerations[stashed]);
        stashedBlocks[stashed] = null;
        stashedGenerations[stashed] = null;
      } else {
        s = new ScopeState(this, false, new Block[16], new long[16]);
      }
      s.stream = stream;
      s.reserve = free.adopt();
      s.next = openScopes;
      if (openScopes != null) {
        openScopes.prev = s;
      }
      openScopes = s;
      Scope handle = new Scope(s);
      boolean watched = LeakTracker.sample(options.getLeakDetection());
      if (watched || options.isStrictClose()) {
        s.openedAt = new Throwable("scope opened here");
      }
      if (watched) {
        LeakTracker.watchScope(handle, device.name(), s.openedAt, () -> closeLeaked(s));
      }
      return handle;
    } finally {
      lock.unlock();
    }
  }

  void closeScope(ScopeState scope, @Nullable Fence fence) {
    lock.lock();
    try {
      if (!scope.isOpen()) {
        return;
      }
      foldCounters(scope);
      Reserve reserve = scope.reserve != null ? scope.reserve : new Reserve(policy.bucketCount());
      scope.reserve = null;
      long activeBefore = activeBytes;
      int issued = scope.count;
      if (fence == null || fence.isComplete()) {
        recycleScope(scope, Block.DEATH_SCOPE_CLOSED, reserve);
        if (fence != null) {
          closeFence(fence);
        }
      } else {
        deferScope(scope, fence);
      }
      if (!reserve.isEmpty()) {
        free.park(reserve);
      }
      collectFences();
      enforceCacheLimit();
      PoolEvents.scopeClose(issued, activeBefore - activeBytes, fence != null);
      scope.markClosed();
      unlink(scope);
      if (stashed < STASH_LIMIT) {
        stashedBlocks[stashed] = scope.blocks;
        stashedGenerations[stashed] = scope.generations;
        stashed++;
      }
      scope.blocks = ScopeState.NO_BLOCKS;
      scope.generations = ScopeState.NO_GENERATIONS;
    } finally {
      lock.unlock();
    }
  }

  private boolean closeLeaked(ScopeState scope) {
    boolean open = scope.isOpen();
    closeScope(scope, null);
    return open;
  }

  private void unlink(ScopeState s) {
    if (s.prev != null) {
      s.prev.next = s.next;
    } else if (openScopes == s) {
      openScopes = s.next;
    }
    if (s.next != null) {
      s.next.prev = s.prev;
    }
    s.prev = null;
    s.next = null;
  }

  /**
   * Recycles every buffer {@code scope} issued whose handle is still live, into {@code target}
   * (a reserve) or, when {@code null}, the global free lists; empties its record.
   */
  private void recycleScope(ScopeState scope, byte why, @Nullable Reserve target) {
    notePeak();
    Block[] bs = scope.blocks;
    long[] gs = scope.generations;
    // Totals in locals: the generation's release store in the loop would otherwise force every
    // counter update out to memory on each iteration.
    long count = 0;
    long bytes = 0;
    long requested = 0;
    int kept = 0;
    for (int i = 0, n = scope.count; i < n; i++) {
      Block b = bs[i];
      if (b.generationPlain() == gs[i]) {
        kill(b, why);
        bucketLastUse[b.bucket] = tick;
        b.state = Block.FREE;
        if (target == null) {
          free.push(b);
        } else if (kept != i) {
          bs[kept] = b; // compacting the record into the next tape, in allocation order
        }
        kept++;
        if (PlantedFault.active == PlantedFault.DOUBLE_PUSH) {
          free.push(b);
        }
        count++;
        bytes += b.capacity;
        requested += b.byteLength;
      }
    }
    int used = scope.count;
    scope.count = 0;
    if (target != null) {
      // The record becomes the reserve's tape; the old tape's array becomes the scope's record.
      Block[] old = target.newTape(bs, kept);
      scope.blocks = old.length == gs.length ? old : new Block[gs.length];
    } else {
      java.util.Arrays.fill(bs, 0, used, null); // the global lists hold them now
    }
    tick++;
    activeCount -= count;
    activeBytes -= bytes;
    requestedBytes -= requested;
    cachedCount += count;
    cachedBytes += bytes;
  }


  /** Kills the scope's live buffers now and keeps them out of the free lists until {@code fence}. */
  private void deferScope(ScopeState scope, Fence fence) {
    notePeak();
    Block[] bs = scope.blocks;
    long[] gs = scope.generations;
    List<Block> held = new ArrayList<>();
    for (int i = 0, n = scope.count; i < n; i++) {
      Block b = bs[i];
      if (b.generationPlain() == gs[i]) {
        defer(b, Block.DEATH_SCOPE_CLOSED);
        held.add(b);
      }
      bs[i] = null;
    }
    scope.count = 0;
    deferred.add(new Deferred(fence, held.toArray(new Block[0])));
  }

  /** LIVE to DEFERRED: handles die now, the memory waits for a fence. */
  private void defer(Block b, byte why) {
    kill(b, why);
    b.state = Block.DEFERRED;
    activeCount--;
    activeBytes -= b.capacity;
    requestedBytes -= b.byteLength;
    deferredCount++;
    deferredBytes += b.capacity;
  }

  /** Moves the buffers of every completed fence to the free lists, oldest first. */
  private void collectFences() {
    if (deferred.isEmpty()) {
      return;
    }
    boolean freed = false;
    for (java.util.Iterator<Deferred> it = deferred.iterator(); it.hasNext(); ) {
      Deferred d = it.next();
      if (!d.fence().isComplete()) {
        continue;
      }
      it.remove();
      for (Block b : d.blocks()) {
        deferredCount--;
        deferredBytes -= b.capacity;
        pushFree(b);
        bucketLastUse[b.bucket] = tick;
      }
      closeFence(d.fence());
      freed = true;
    }
    if (freed) {
      tick++;
      enforceCacheLimit();
    }
  }

  private static void closeFence(Fence fence) {
    try {
      fence.close();
    } catch (RuntimeException e) {
      System.getLogger(BufferPool.class.getName())
          .log(System.Logger.Level.WARNING, "closing a completed fence failed", e);
    }
  }

  /** Bytes in free lists and reserves right now, open scopes' lock-free pops included. */
  private long cachedNow() {
    long n = cachedBytes;
    for (ScopeState s = openScopes; s != null; s = s.next) {
      n -= s.reservePopBytes;
    }
    return n;
  }

  /** Gives cached buffers back until the cache limit holds again. */
  private void enforceCacheLimit() {
    long limit = options.getCacheLimit();
    if (limit != Long.MAX_VALUE && cachedNow() > limit) {
      evict(limit, Block.DEATH_CLEARED, "cache limit");
    }
  }

  /**
   * Frees cached buffers (global lists and parked reserves, not the reserves of open scopes)
   * until at most {@code targetCached} bytes stay cached, least recently used buckets first, with
   * one residency commit. Returns the bytes freed.
   */
  private long evict(long targetCached, byte why, String reason) {
    return evictBytes(cachedNow() - targetCached, why, reason);
  }

  /**
   * Frees at least {@code excess} bytes of cached buffers if there are that many to free, least
   * recently used buckets first, with one residency commit. Callers that must free an exact amount
   * use this rather than a target level: {@link #cachedNow()} includes other threads' lock-free
   * pops, so it can move between two reads.
   */
  private long evictBytes(long excess, byte why, String reason) {
    if (excess <= 0) {
      return 0;
    }
    Integer[] order = new Integer[bucketLastUse.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (x, y) -> Long.compare(bucketLastUse[x], bucketLastUse[y]));
    long freedBytes = 0;
    long freedBuffers = 0;
    RuntimeException failure = null;
    for (int bucket : order) {
      while (freedBytes < excess) {
        Block b = popFree(bucket);
        if (b == null) {
          break;
        }
        freedBytes += b.capacity;
        freedBuffers++;
        failure = retire(b, why, failure);
      }
      if (freedBytes >= excess) {
        break;
      }
    }
    if (freedBuffers > 0) {
      commitResidency();
      failure = releaseRetired(failure);
      trims++;
      trimmedBytes += freedBytes;
      PoolEvents.trim(reason, freedBuffers, freedBytes);
    }
    if (failure != null) {
      throw failure;
    }
    return freedBytes;
  }

  /** Bytes {@link #evict} could free now. */
  private long evictableBytes() {
    long[] total = {0};
    free.forEach(b -> total[0] += b.capacity);
    return total[0];
  }

  /** The largest free buffer, for out-of-memory messages. */
  private long largestFree() {
    long[] max = {0};
    free.forEach(b -> max[0] = Math.max(max[0], b.capacity));
    return max[0];
  }

  /**
   * Moves the counters a scope changed without the lock into the pool's. Active bytes only grow
   * between two locked calls, so their peak is seen by the next locked call that lowers them, each
   * of which calls {@link #notePeak} first (the recycle that follows a fold does).
   */
  private void foldCounters(ScopeState s) {
    allocations += s.reservePops;
    reuseHits += s.reservePops;
    activeCount += s.reservePops;
    activeBytes += s.reservePopBytes;
    requestedBytes += s.reserveRequestedBytes;
    cachedCount -= s.reservePops;
    cachedBytes -= s.reservePopBytes;
    s.reservePops = 0;
    s.reservePopBytes = 0;
    s.reserveRequestedBytes = 0;
  }

  /** Records the active bytes of this moment (open scopes' pops included) as a peak candidate. */
  private void notePeak() {
    long active = activeBytes;
    for (ScopeState s = openScopes; s != null; s = s.next) {
      active += s.reservePopBytes;
    }
    if (active > peakActiveBytes) {
      peakActiveBytes = active;
    }
  }

  // ================================================================ allocation

  /**
   * Allocates from the pool's default scope: {@code bytes / dtype.byteSize()} elements in one
   * dimension. Recycled by {@link #reset()}, {@link #release} or the buffer's close.
   *
   * @see Scope#alloc(long, DType)
   */
  public Buffer alloc(long bytes, DType dtype) {
    return allocate(defaultScope, bytes, dtype, ScopeState.NO_SHAPE);
  }

  /**
   * Allocates from the pool's default scope with the given shape.
   *
   * @see Scope#alloc(long, DType, long...)
   */
  public Buffer alloc(long bytes, DType dtype, long... shape) {
    return allocate(defaultScope, bytes, dtype, shape);
  }

  /**
   * Allocates every request from the default scope, or none, with one residency commit.
   *
   * @see Scope#allocBatch(List)
   */
  public List<Buffer> allocBatch(List<AllocRequest> requests) {
    return allocateBatch(defaultScope, requests);
  }

  Buffer allocate(ScopeState scope, long bytes, DType dtype, long[] shape) {
    long elements = Checks.elements(bytes, dtype, shape);
    int bucket = policy.bucketIndex(bytes);
    // The steady state: this scope's thread pops its own reserve, no lock (see the class comment).
    Reserve reserve = scope.reserve;
    if (reserve != null && scope.isOpen() && !closed) {
      Block b = reserve.take(bucket);
      if (b != null) {
        return scope.issueFromReserve(b, dtype, bytes, elements, shape);
      }
    }
    lock.lock();
    try {
      ensureUsable(scope);
      collectFences();
      Block b = popFree(bucket);
      if (b == null) {
        b = fresh(bucket, bytes);
        commitResidency();
      } else {
        reuseHits++;
      }
      return issue(scope, b, dtype, bytes, elements, shape);
    } finally {
      lock.unlock();
    }
  }

  List<Buffer> allocateBatch(ScopeState scope, List<AllocRequest> requests) {
    Checks.notNull(requests, "requests");
    int n = requests.size();
    long[] elements = new long[n];
    int[] buckets = new int[n];
    for (int i = 0; i < n; i++) {
      AllocRequest r = Checks.notNull(requests.get(i), "requests[" + i + "]");
      try {
        elements[i] = Checks.elements(r.bytes(), r.dtype(), r.shapeUnsafe());
        buckets[i] = policy.bucketIndex(r.bytes());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("requests[" + i + "]: " + e.getMessage(), e);
      }
    }
    lock.lock();
    try {
      ensureUsable(scope);
      Block[] taken = new Block[n];
      boolean[] isFresh = new boolean[n];
      long peakBefore = peakHeldBytes;
      int i = 0;
      try {
        for (; i < n; i++) {
          Block b = popReserved(scope, buckets[i]);
          if (b == null) {
            b = fresh(buckets[i], requests.get(i).bytes());
            isFresh[i] = true;
          }
          taken[i] = b;
        }
      } catch (RuntimeException e) {
        // Undo in reverse order, so every free list is restored to its exact former order.
        for (int j = i - 1; j >= 0; j--) {
          if (isFresh[j]) {
            undoFresh(taken[j]);
          } else {
            pushFree(taken[j]);
          }
        }
        peakHeldBytes = peakBefore;
        throw e;
      }
      boolean anyFresh = false;
      List<Buffer> out = new ArrayList<>(n);
      for (int j = 0; j < n; j++) {
        AllocRequest r = requests.get(j);
        anyFresh |= isFresh[j];
        reuseHits += isFresh[j] ? 0 : 1;
        out.add(issue(scope, taken[j], r.dtype(), r.bytes(), elements[j], r.shapeUnsafe()));
      }
      if (anyFresh) {
        commitResidency();
      }
      return out;
    } finally {
      lock.unlock();
    }
  }

  /** Gives back a block {@link #fresh} made earlier in a batch that then failed. */
  private void undoFresh(Block b) {
    if (residency != null) {
      residency.remove(b.raw);
      residencyAdds--;
    }
    registry.remove(b);
    heldBytes -= b.capacity;
    freshAllocations--;
    b.state = Block.GONE;
    device.free(b.raw);
  }

  /** A free block of {@code bucket} from the global lists or parked reserves, or {@code null}. */
  private @Nullable Block popFree(int bucket) {
    Block b = free.pop(bucket);
    if (b != null) {
      bucketLastUse[bucket] = ++tick;
      cachedCount--;
      cachedBytes -= b.capacity;
    }
    return b;
  }

  /** Like {@link #popFree}, but from the scope's own reserve first (under the lock). */
  private @Nullable Block popReserved(ScopeState scope, int bucket) {
    Reserve reserve = scope.reserve;
    Block b = reserve == null ? null : reserve.take(bucket);
    if (b != null) {
      cachedCount--;
      cachedBytes -= b.capacity;
      return b;
    }
    return popFree(bucket);
  }

  /** Marks {@code b} FREE and pushes it on the global lists. */
  private void pushFree(Block b) {
    b.state = Block.FREE;
    free.push(b);
    if (PlantedFault.active == PlantedFault.DOUBLE_PUSH) {
      free.push(b);
    }
    cachedCount++;
    cachedBytes += b.capacity;
  }

  /**
   * Takes a new device buffer for {@code bucket}, zero-filled and added (not committed) to the
   * residency set. On failure nothing has changed.
   */
  private Block fresh(int bucket, long requested) {
    long capacity = policy.sizeOfBucket(bucket);
    long limit = options.getMemoryLimit();
    if (capacity > limit - heldBytes) {
      if (capacity > limit - (heldBytes - evictableBytes())) {
        // Even an empty cache would not make room: refuse without touching the pool.
        throw new PoolExhaustedException(outOfMemory(requested, capacity, "the memory limit"), capacity);
      }
      noteRetry(requested, "memory limit");
      evictBytes(capacity - (limit - heldBytes), Block.DEATH_CLEARED, "memory limit");
    }
    DeviceBuffer raw;
    try {
      raw = device.allocate(capacity);
    } catch (BufferAllocationException first) {
      if (evictableBytes() == 0) {
        throw new BufferAllocationException(
            outOfMemory(requested, capacity, "the device") + ": " + first.getMessage(), capacity, first);
      }
      // As PyTorch's caching allocator does: give the cache back to the device and try once more.
      noteRetry(requested, "device out of memory");
      evict(0, Block.DEATH_CLEARED, "device out of memory");
      try {
        raw = device.allocate(capacity);
      } catch (BufferAllocationException second) {
        second.addSuppressed(first);
        throw new BufferAllocationException(
            outOfMemory(requested, capacity, "the device") + " even after freeing the cache: "
                + second.getMessage(), capacity, second);
      }
    }

    Block b = new Block(device, raw, handles, bucket, capacity);
    try {
      if (PlantedFault.active != PlantedFault.FRESH_NOT_ZEROED) {
        device.fillZero(raw, 0, capacity);
      }
      if (residency != null) {
        residency.add(raw);
      }
    } catch (RuntimeException e) {
      device.free(raw);
      throw e;
    }
    if (residency != null) {
      residencyAdds++;
    }
    registry.add(b);
    heldBytes += capacity;
    peakHeldBytes = Math.max(peakHeldBytes, heldBytes);
    freshAllocations++;
    PoolEvents.freshAllocation(device.name(), requested, capacity, heldBytes);
    return b;
  }

  private void noteRetry(long requested, String reason) {
    oomRetries++;
    PoolEvents.oomRetry(requested, heldBytes, reason);
  }

  private String outOfMemory(long requested, long capacity, String refusedBy) {
    long limit = options.getMemoryLimit();
    return "cannot allocate " + requested + " bytes (bucket of " + capacity + " bytes) on "
        + device.name() + ": refused by " + refusedBy + "; the pool holds " + heldBytes + " bytes ("
        + activeBytes + " active, " + cachedNow() + " cached, " + deferredBytes
        + " waiting for fences), memory limit " + (limit == Long.MAX_VALUE ? "none" : limit + " bytes")
        + ", largest free bucket " + largestFree() + " bytes";
  }

  private Buffer issue(ScopeState scope, Block b, DType dtype, long bytes, long elements, long[] shape) {
    b.state = Block.LIVE;
    b.lease(dtype, bytes, elements, shape);
    activeCount++;
    activeBytes += b.capacity;
    requestedBytes += bytes;
    if (activeBytes > peakActiveBytes) {
      peakActiveBytes = activeBytes;
    }
    allocations++;
    long generation = b.generationPlain();
    scope.track(b, generation);
    return new Buffer(b, generation);
  }

  /** LIVE to FREE for one buffer: kills its handles and pushes it on the global lists. */
  private void recycle(Block b, byte why) {
    notePeak();
    kill(b, why);
    activeCount--;
    activeBytes -= b.capacity;
    requestedBytes -= b.byteLength;
    pushFree(b);
  }

  /** Makes every handle to {@code b} stale (unless a fault is planted, for the mutation check). */
  private static void kill(Block b, byte why) {
    if (why != Block.DEATH_RESET || PlantedFault.active != PlantedFault.RESET_KEEPS_HANDLES_LIVE) {
      b.kill(why);
    }
  }

  // ================================================================ release and reset

  /**
   * Returns one pooled buffer to its free list now, before its scope closes. The handle (and its
   * views) become stale; the scope will not recycle it again.
   *
   * @throws StaleBufferException if the handle is already stale
   * @throws IllegalArgumentException if the buffer is a view, owned, or from another pool
   * @throws PoolClosedException if the pool is closed
   */
  public void release(Buffer buffer) {
    Block b = requireOwnPooled(buffer, "release");
    lock.lock();
    try {
      ensureOpen();
      if (b.generationPlain() != buffer.generation) {
        throw buffer.staleException();
      }
      recycle(b, Block.DEATH_RELEASED);
      enforceCacheLimit();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Hands one pooled buffer back now but keeps its memory out of the free lists until {@code
   * fence} completes, because the device may still be using it. The handle becomes stale at once.
   *
   * @throws StaleBufferException if the handle is already stale
   * @throws IllegalArgumentException if the buffer is a view, owned, or from another pool
   * @throws PoolClosedException if the pool is closed
   */
  public void release(Buffer buffer, Fence fence) {
    Block b = requireOwnPooled(buffer, "release");
    Checks.notNull(fence, "fence");
    lock.lock();
    try {
      ensureOpen();
      if (b.generationPlain() != buffer.generation) {
        throw buffer.staleException();
      }
      notePeak();
      defer(b, Block.DEATH_RELEASED);
      deferred.add(new Deferred(fence, new Block[] {b}));
      collectFences();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Gives every cached buffer back to the device (those reserved by open scopes excepted), after
   * collecting completed fences. Returns the bytes freed.
   *
   * @throws PoolClosedException if the pool is closed
   */
  public long trim() {
    return trim(0);
  }

  /**
   * Gives cached buffers back to the device, least recently used buckets first, until at most
   * {@code targetBytes} stay cached. Returns the bytes freed.
   *
   * @throws IllegalArgumentException if {@code targetBytes} is negative
   * @throws PoolClosedException if the pool is closed
   */
  public long trim(long targetBytes) {
    if (targetBytes < 0) {
      throw new IllegalArgumentException("trim target must be at least 0 bytes, was " + targetBytes);
    }
    lock.lock();
    try {
      ensureOpen();
      collectFences();
      return evict(targetBytes, Block.DEATH_CLEARED, "trim");
    } finally {
      lock.unlock();
    }
  }

  /** {@link Buffer#close()} of a pooled handle: like release, but a stale handle is a no-op. */
  private void closeHandle(Block b, long generation) {
    lock.lock();
    try {
      if (!closed && b.generationPlain() == generation && b.state == Block.LIVE) {
        recycle(b, Block.DEATH_CLOSED);
        enforceCacheLimit();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Ends the default scope's cycle: every buffer allocated through {@link #alloc} and {@link
   * #allocBatch} and not yet released returns to the free lists, and its handle becomes stale.
   * Buffers of other scopes and registered buffers are untouched. A reset with nothing allocated
   * is a no-op.
   *
   * @throws PoolClosedException if the pool is closed
   */
  public void reset() {
    lock.lock();
    try {
      ensureOpen();
      recycleScope(defaultScope, Block.DEATH_RESET, null);
      enforceCacheLimit();
    } finally {
      lock.unlock();
    }
  }

  // ================================================================ registered buffers

  /**
   * Registers an owned buffer (weights, a KV cache) with this pool without pooling it, as
   * mlx-native's {@code register_existing}: it is added to the residency set unless it already
   * carries its own registration, it is never recycled by {@link #reset()} or scope close, and
   * it stays valid when the pool closes (the pool only drops the registration it added).
   * Registering the same buffer twice is a no-op.
   *
   * @throws StaleBufferException if the buffer was already closed
   * @throws IllegalArgumentException if the buffer is pooled, a view, or of another device
   * @throws PoolClosedException if the pool is closed
   */
  public void registerExisting(Buffer buffer) {
    Checks.notNull(buffer, "buffer");
    Block b = buffer.block;
    if (buffer.isView()) {
      throw new IllegalArgumentException(
          "cannot register a slice view; register the buffer it was sliced from");
    }
    if (!buffer.isValid()) {
      throw buffer.staleException();
    }
    if (!(b.recycler instanceof OwnedBuffer owner)) {
      throw new IllegalArgumentException(
          "registerExisting takes owned buffers (Device.allocBuffer or adopt); " + buffer
              + " is pooled" + (b.recycler == handles ? " by this pool" : " by another pool"));
    }
    if (b.device != device) {
      throw new IllegalArgumentException(
          "buffer belongs to device " + b.device.name() + ", this pool's device is "
              + device.name());
    }
    lock.lock();
    try {
      ensureOpen();
      synchronized (b) {
        if (b.generationAcquire() != buffer.generation) {
          throw buffer.staleException();
        }
        if (external.containsKey(b)) {
          return;
        }
        boolean add = residency != null && !owner.ownResidency && !residency.contains(b.raw);
        if (add) {
          residency.add(b.raw);
          residencyAdds++;
          commitResidency();
        }
        external.put(b, add);
        owner.addRegistrar(registrar);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Whether {@code buffer} is registered with this pool through {@link #registerExisting}. */
  public boolean isRegistered(Buffer buffer) {
    lock.lock();
    try {
      return external.containsKey(buffer.block) && buffer.isValid();
    } finally {
      lock.unlock();
    }
  }

  /** Called by an owned buffer's close, before the memory is freed. */
  private void forgetExternal(Block b) {
    lock.lock();
    try {
      Boolean added = external.remove(b);
      if (Boolean.TRUE.equals(added) && residency != null && !closed) {
        residency.remove(b.raw);
        residencyRemoves++;
        commitResidency();
      }
    } finally {
      lock.unlock();
    }
  }

  // ================================================================ eviction and close

  /**
   * Frees every buffer in the free lists back to the device, removing them from the residency set
   * with one commit. Live buffers are untouched, and so are the reserves of scopes still open
   * (their threads own them until they close).
   *
   * @throws PoolClosedException if the pool is closed
   */
  public void clear() {
    lock.lock();
    try {
      ensureOpen();
      List<Block> gone = new ArrayList<>();
      free.drain(gone::add);
      RuntimeException failure = null;
      for (Block b : gone) {
        cachedCount--;
        cachedBytes -= b.capacity;
        failure = retire(b, Block.DEATH_CLEARED, failure);
      }
      if (!gone.isEmpty()) {
        commitResidency();
        failure = releaseRetired(failure);
      }
      if (failure != null) {
        throw failure;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Closes the pool: closes every open scope, makes every pooled handle stale, frees every device
   * buffer the pool holds, and drops the residency registrations it made (with one commit).
   * Registered owned buffers stay valid. Idempotent.
   */
  @Override
  public void close() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      List<Throwable> stillOpen = new ArrayList<>();
      for (ScopeState s = openScopes; s != null; ) {
        ScopeState next = s.next;
        if (s.openedAt != null) {
          stillOpen.add(s.openedAt);
        } else {
          stillOpen.add(new Throwable("scope opened where no stack was recorded"));
        }
        foldCounters(s);
        recycleScope(s, Block.DEATH_POOL_CLOSED, null);
        s.reserve = null;
        s.markClosed();
        s.prev = null;
        s.next = null;
        s = next;
      }
      openScopes = null;
      recycleScope(defaultScope, Block.DEATH_POOL_CLOSED, null);
      defaultScope.markClosed();
      RuntimeException failure = null;
      boolean changed = false;
      while (registry.size() > 0) {
        Block b = registry.get(registry.size() - 1);
        changed |= residency != null;
        failure = retire(b, Block.DEATH_POOL_CLOSED, failure);
      }
      free.drain(b -> {});
      cachedCount = 0;
      cachedBytes = 0;
      activeCount = 0;
      activeBytes = 0;
      requestedBytes = 0;
      deferredCount = 0;
      deferredBytes = 0;
      for (Deferred d : deferred) {
        closeFence(d.fence());
      }
      deferred.clear();
      for (Map.Entry<Block, Boolean> e : external.entrySet()) {
        Block b = e.getKey();
        synchronized (b) {
          ((OwnedBuffer) b.recycler).removeRegistrar(registrar);
        }
        if (e.getValue() && residency != null) {
          residency.remove(b.raw);
          residencyRemoves++;
          changed = true;
        }
      }
      external.clear();
      if (changed && residency != null) {
        commitResidency();
      }
      failure = releaseRetired(failure);
      if (options.isStrictClose() && !stillOpen.isEmpty()) {
        IllegalStateException strict = new IllegalStateException(
            "the pool was closed with " + stillOpen.size() + " scope(s) still open; they are closed"
                + " now, and the stacks where they were opened are attached as suppressed exceptions");
        stillOpen.forEach(strict::addSuppressed);
        if (failure != null) {
          strict.addSuppressed(failure);
        }
        throw strict;
      }
      if (failure != null) {
        throw failure;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    lock.lock();
    try {
      return closed;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Removes a FREE (or, at close, any) block from the pool and stages its removal from the
   * residency set. Its memory goes back to the device only in {@link #releaseRetired}, after the
   * caller committed the removal: Metal requires that an allocation is never freed while it is a
   * member of a residency set, staged or committed, so the order is always remove, commit, free.
   * A residency failure is collected, not thrown, so the rest of the cleanup still happens.
   */
  private @Nullable RuntimeException retire(
      Block b, byte why, @Nullable RuntimeException failure) {
    if (b.state == Block.LIVE) {
      b.kill(why);
    } else {
      b.lastDeath = why;
    }
    b.state = Block.GONE;
    registry.remove(b);
    heldBytes -= b.capacity;
    deviceFrees++;
    retired.add(b.raw);
    if (residency != null) {
      try {
        residency.remove(b.raw);
        residencyRemoves++;
      } catch (RuntimeException e) {
        return collect(failure, e);
      }
    }
    return failure;
  }

  /**
   * Gives the memory of every retired block back to the device; call after the residency commit
   * that removed them. Device failures are collected like {@link #retire}'s.
   */
  private @Nullable RuntimeException releaseRetired(@Nullable RuntimeException failure) {
    for (DeviceBuffer raw : retired) {
      try {
        device.free(raw);
      } catch (RuntimeException e) {
        failure = collect(failure, e);
      }
    }
    retired.clear();
    return failure;
  }

  private static RuntimeException collect(@Nullable RuntimeException failure, RuntimeException e) {
    if (failure == null) {
      return e;
    }
    failure.addSuppressed(e);
    return failure;
  }

  // ================================================================ queries
  // Counters are the pool's own plus what open scopes changed without the lock (see ScopeState).

  /** The number of buffers waiting in the free lists (reserves of open scopes included). */
  public int freeCount() {
    lock.lock();
    try {
      long n = cachedCount;
      for (ScopeState s = openScopes; s != null; s = s.next) {
        n -= s.reservePops;
      }
      return (int) n;
    } finally {
      lock.unlock();
    }
  }

  /** The number of free buffers in the bucket that serves {@code bytes}. */
  public int freeCount(long bytes) {
    int bucket = policy.bucketIndex(bytes);
    lock.lock();
    try {
      int n = free.count(bucket);
      for (ScopeState s = openScopes; s != null; s = s.next) {
        Reserve r = s.reserve;
        n += r == null ? 0 : r.count(bucket);
      }
      return n;
    } finally {
      lock.unlock();
    }
  }

  /** The total capacity, in bytes, of the free buffers. */
  public long freeBytes() {
    lock.lock();
    try {
      long n = cachedBytes;
      for (ScopeState s = openScopes; s != null; s = s.next) {
        n -= s.reservePopBytes;
      }
      return n;
    } finally {
      lock.unlock();
    }
  }

  /** The number of live pooled buffers, across all scopes. */
  public int inUseCount() {
    lock.lock();
    try {
      long n = activeCount;
      for (ScopeState s = openScopes; s != null; s = s.next) {
        n += s.reservePops;
      }
      return (int) n;
    } finally {
      lock.unlock();
    }
  }

  /**
   * A snapshot of the pool's counters. Exact when no other thread is allocating; while others
   * are, their scopes' latest lock-free allocations may not be counted yet.
   */
  public PoolStats stats() {
    lock.lock();
    try {
      return statsLocked();
    } finally {
      lock.unlock();
    }
  }

  PoolStats statsLocked() {
    {
      long active = activeCount;
      long activeB = activeBytes;
      long requested = requestedBytes;
      long cached = cachedCount;
      long cachedB = cachedBytes;
      long allocs = allocations;
      long hits = reuseHits;
      long peak = peakActiveBytes;
      for (ScopeState s = openScopes; s != null; s = s.next) {
        active += s.reservePops;
        activeB += s.reservePopBytes;
        requested += s.reserveRequestedBytes;
        cached -= s.reservePops;
        cachedB -= s.reservePopBytes;
        allocs += s.reservePops;
        hits += s.reservePops;
      }
      return new PoolStats(
          active,
          activeB,
          requested,
          cached,
          cachedB,
          registry.size(),
          heldBytes,
          Math.max(peak, activeB),
          peakHeldBytes,
          allocs,
          freshAllocations,
          hits,
          deviceFrees,
          residencyAdds,
          residencyRemoves,
          residencyCommits,
          deferredCount,
          deferredBytes,
          trims,
          trimmedBytes,
          oomRetries);
    }
  }

  /** Starts the peak figures of {@link #stats()} again from the current values. */
  public void resetPeaks() {
    lock.lock();
    try {
      peakActiveBytes = 0;
      notePeak();
      peakActiveBytes = Math.max(peakActiveBytes, activeBytes);
      peakHeldBytes = heldBytes;
    } finally {
      lock.unlock();
    }
  }

  /** How the held buffers spread over buckets, smallest first; buckets holding nothing are left out. */
  public List<BucketStats> bucketStats() {
    lock.lock();
    try {
      return PoolAudit.bucketStats(this);
    } finally {
      lock.unlock();
    }
  }

  /** The capacity a request of {@code bytes} bytes is given, under this pool's bucket policy. */
  public long bucketSize(long bytes) {
    return policy.bucketSize(bytes);
  }

  /** The device buffers this pool holds, live and free: a snapshot, for invariant checks. */
  List<DeviceBuffer> heldDeviceBuffers() {
    lock.lock();
    try {
      return PoolAudit.held(this);
    } finally {
      lock.unlock();
    }
  }

  /** The free device buffers, wherever they wait: a snapshot, for invariant checks. */
  List<DeviceBuffer> freeDeviceBuffers() {
    lock.lock();
    try {
      return PoolAudit.free(this);
    } finally {
      lock.unlock();
    }
  }

  /**
   * The first violated invariant of the pool, or {@code null}; see {@link PoolAudit#verify}. For
   * tests and diagnostics, on a pool no other thread is using.
   */
  @Nullable String verify() {
    lock.lock();
    try {
      return PoolAudit.verify(this);
    } finally {
      lock.unlock();
    }
  }

  /** Visits every FREE block: global lists, parked reserves, open scopes' reserves. Lock held. */
  void forEachFreeLocked(java.util.function.Consumer<Block> visitor) {
    free.forEach(visitor);
    for (ScopeState s = openScopes; s != null; s = s.next) {
      if (s.reserve != null) {
        s.reserve.forEach(visitor);
      }
    }
  }

  @Override
  public String toString() {
    lock.lock();
    try {
      return "BufferPool[" + device.name() + ", " + policy + (closed ? ", closed" : "")
          + ", active " + activeCount + " (" + activeBytes + " B), cached " + cachedCount + " ("
          + cachedBytes + " B)]";
    } finally {
      lock.unlock();
    }
  }

  // ================================================================ helpers

  private void ensureOpen() {
    if (closed) {
      throw new PoolClosedException("the pool on " + device.name() + " is closed");
    }
  }

  private void ensureUsable(ScopeState scope) {
    ensureOpen();
    if (!scope.isOpen()) {
      throw new IllegalStateException("cannot allocate through a closed scope: " + scope);
    }
  }

  private Block requireOwnPooled(Buffer buffer, String op) {
    Checks.notNull(buffer, "buffer");
    Block b = buffer.block;
    if (buffer.isView()) {
      throw new IllegalArgumentException(
          "cannot " + op + " a slice view; " + op + " the buffer it was sliced from");
    }
    if (!b.isPooled()) {
      throw new IllegalArgumentException(
          "cannot " + op + " an owned buffer (from Device.allocBuffer); close it instead");
    }
    if (b.recycler != handles) {
      throw new IllegalArgumentException("cannot " + op + " a buffer of another pool");
    }
    return b;
  }

  private void commitResidency() {
    if (residency != null && PlantedFault.active != PlantedFault.NO_RESIDENCY_COMMIT) {
      residency.commit();
      residencyCommits++;
    }
  }
}
